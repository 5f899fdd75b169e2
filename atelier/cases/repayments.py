"""Repayment schedules of advances and zero-rate loans: the instalments, and where the company stands.

The schedule is set when the agreement is signed: the granted amount in ``count`` instalments, one
every ``frequency`` months, the first on the first due date (by default: the signature date plus
the deferral plus one period). Amounts are split to the cent: every instalment but the last is the
amount divided by the count, rounded down to the cent; the last takes the rest, so that they always
add up to the amount exactly (10 000 € in 3: 3 333,33 + 3 333,33 + 3 333,34).

Repayments are applied to the instalments in order. An instalment is late once its due date is past
and what was paid to the company (the company never owes more than it received) is not repaid up to
it. The line may be settled once all that was paid is repaid, or with the rest written off for a
reason (``operations.settle_line``).
"""
import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from ..common import CENT, ActionRefused
from ..formatting import day, money
from ..forms import optional_int
from .events import parse_iso_date
from .models import REPAYMENT_FREQUENCIES, FundingLine

MAX_INSTALMENTS = 240  # twenty years of monthly instalments
MAX_DEFERRAL_MONTHS = 120


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month when it is shorter (31 January
    plus one month is 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split_evenly(amount: Decimal, count: int) -> list[Decimal]:
    """``amount`` in ``count`` instalments to the cent, the last one taking the rest."""
    if count < 1:
        raise ValueError("count must be at least 1")
    share = (amount / count).quantize(CENT, rounding=ROUND_DOWN)
    return [share] * (count - 1) + [amount - share * (count - 1)]


def first_due_date(signed_on: date, *, deferral_months: int, frequency_months: int) -> date:
    return add_months(signed_on, deferral_months + frequency_months)


def schedule(amount: Decimal, *, count: int, frequency_months: int, first_due_on: date) -> list[tuple[date, Decimal]]:
    """``(due date, amount)`` of each instalment. Dates are counted from the first one, so that a
    first due date on the 31st keeps the month's end (31 January, 30 April, 31 July…)."""
    return [(add_months(first_due_on, number * frequency_months), share)
            for number, share in enumerate(split_evenly(amount, count))]


@dataclass(frozen=True)
class InstalmentStatus:
    number: int
    due_on: date
    amount: Decimal
    repaid: Decimal  # the part of this instalment covered by the repayments so far
    late_amount: Decimal  # the part due (and paid to the company) but not repaid, once the date is past

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.repaid

    @property
    def is_late(self) -> bool:
        return self.late_amount > 0

    @property
    def status(self) -> str:
        if self.remaining == 0:
            return "Remboursée"
        if self.is_late:
            return "En retard"
        if self.repaid:
            return "Remboursée en partie"
        return "À venir"


def instalment_statuses(instalments, *, repaid_total: Decimal, paid_total: Decimal,
                        today: date) -> list[InstalmentStatus]:
    result = []
    due_before = Decimal(0)  # what the instalments before this one add up to
    for instalment in instalments:
        due_after = due_before + instalment.amount
        repaid = min(max(repaid_total - due_before, Decimal(0)), instalment.amount)
        late = Decimal(0)
        if instalment.due_on < today:
            late = max(min(due_after, paid_total) - max(due_before, repaid_total), Decimal(0))
        result.append(InstalmentStatus(instalment.number, instalment.due_on, instalment.amount, repaid, late))
        due_before = due_after
    return result


@dataclass(frozen=True)
class RepaymentPosition:
    paid: Decimal
    repaid: Decimal
    written_off: Decimal
    owed: Decimal
    instalments: list[InstalmentStatus]

    @property
    def late_total(self) -> Decimal:
        return sum((each.late_amount for each in self.instalments), Decimal(0))

    @property
    def late_instalments(self) -> list[InstalmentStatus]:
        return [each for each in self.instalments if each.is_late]


def repayment_position(line, today: date) -> RepaymentPosition:
    """Where the company stands on ``line`` (an advance or a loan) on ``today``: what it received,
    repaid, what was written off, what it owes, and each instalment with its late part."""
    paid, repaid = line.paid_total, line.repaid_total
    written_off = line.written_off_amount or Decimal(0)
    statuses = [] if written_off else instalment_statuses(line.instalments, repaid_total=repaid,
                                                            paid_total=paid, today=today)
    return RepaymentPosition(paid, repaid, written_off, paid - repaid - written_off, statuses)


# --------------------------------------------------------------------------- the schedule as typed

def _parse_count(value, field: str, label: str, *, low: int, high: int, default: int | None = None) -> int:
    text = "" if value is None else str(value).strip()
    if not text:
        if default is not None:
            return default
        raise ActionRefused(f"Indiquez {label}.", field)
    if not re.fullmatch(r"[0-9]{1,4}", text) or not low <= int(text) <= high:  # 0-9 only, as amounts
        raise ActionRefused(f"{label[0].upper()}{label[1:]} doit être un nombre entier de {low} à {high}.", field)
    return int(text)


def parse_schedule(line: FundingLine, signed_on: date, *, instalment_count, frequency_months,
                    deferral_months, first_due_on) -> dict:
    """The repayment schedule typed with the agreement of an advance or a loan, checked."""
    count = _parse_count(instalment_count, "instalment_count", "le nombre d'échéances",
                         low=1, high=MAX_INSTALMENTS)
    if line.granted_amount < count * Decimal("0.01"):
        raise ActionRefused(f"Trop d'échéances pour {money(line.granted_amount)} : chacune doit être d'au "
                            f"moins un centime.", "instalment_count")
    frequency = optional_int(frequency_months)
    if frequency not in REPAYMENT_FREQUENCIES:
        raise ActionRefused("Choisissez la périodicité des échéances.", "frequency_months")
    deferral = _parse_count(deferral_months, "deferral_months", "le différé (en mois)",
                            low=0, high=MAX_DEFERRAL_MONTHS, default=0)
    earliest = add_months(signed_on, deferral)
    if first_due_on:
        first = parse_iso_date(first_due_on, "first_due_on", "La date de la première échéance")
        if first <= signed_on:
            raise ActionRefused("La première échéance doit venir après la signature de la convention.",
                                "first_due_on")
        if first < earliest:
            raise ActionRefused(f"La première échéance ne peut pas tomber pendant le différé "
                                f"(pas avant le {day(earliest)}).", "first_due_on")
    else:
        first = first_due_date(signed_on, deferral_months=deferral, frequency_months=frequency)
    return {"count": count, "frequency": frequency, "deferral": deferral, "first": first,
            "instalments": schedule(line.granted_amount, count=count, frequency_months=frequency,
                                    first_due_on=first)}
