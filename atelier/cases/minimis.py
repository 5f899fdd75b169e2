"""De minimis: what a company (SIREN) received, what it may still receive, and the estimate of the
gross grant equivalent (GGE) of a zero-rate loan or a repayable advance.

The register (``companies.models.MinimisAid``) holds the aid the applicant declared on a dossier
and the aid granted here (added at approval, at its decision date). An aid counts on a day ``D``
when it was granted in the three years before ``D``: after ``three_years_before(D)``, up to ``D``.

Ceilings and cumulation (the regulations' article 5), as a table of limits: each regime under its
own ceiling, and
- general, agriculture and fisheries de minimis together under the general ceiling (300 000 €):
  Reg. 2023/2831 art. 5(1), Reg. 1408/2013 art. 5(1), Reg. 717/2014 art. 5(1);
- every de minimis aid together under the SGEI ceiling (750 000 €): Reg. 2023/2831 art. 5(1),
  Reg. 2023/2832 art. 5(1).
An approval must fit every limit that contains its regime.
"""
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, or_, select, update

from ..common import CENT
from ..companies.models import MINIMIS_CEILINGS, MINIMIS_REGIMES, Company, MinimisAid
from ..extensions import db


@dataclass(frozen=True)
class MinimisLimit:
    regimes: frozenset[str]
    ceiling: Decimal
    label: str  # French, completes "Plafond …"

    @property
    def is_cumulation(self) -> bool:
        return len(self.regimes) > 1


MINIMIS_LIMITS = (
    *(MinimisLimit(frozenset({regime}), MINIMIS_CEILINGS[regime], f"de minimis ({label})")
      for regime, label in (("de_minimis", "général"), ("de_minimis_agri", "agricole"),
                            ("de_minimis_fish", "pêche et aquaculture"), ("de_minimis_sgei", "SIEG"))),
    MinimisLimit(frozenset({"de_minimis", "de_minimis_agri", "de_minimis_fish"}), MINIMIS_CEILINGS["de_minimis"],
                 "de cumul des aides de minimis générales, agricoles et de la pêche"),
    MinimisLimit(frozenset(MINIMIS_REGIMES), MINIMIS_CEILINGS["de_minimis_sgei"],
                 "de cumul de toutes les aides de minimis (SIEG comprises)"),
)


def limits_of(regime: str) -> list[MinimisLimit]:
    return [limit for limit in MINIMIS_LIMITS if regime in limit.regimes]


# --------------------------------------------------------------------------- the window

def three_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 3)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 3, day=28)


def drops_out_on(granted_on: date) -> date:
    """The first day on which an aid granted on ``granted_on`` no longer counts: the first ``D`` with
    ``three_years_before(D) >= granted_on`` (an aid of 29 February drops out on 1 March)."""
    try:
        return granted_on.replace(year=granted_on.year + 3)
    except ValueError:
        return date(granted_on.year + 3, 3, 1)


def minimis_counted_for(case_id: int):
    """Which register rows count for a dossier: every aid granted here (any dossier of the SIREN),
    and the aid declared on THIS dossier only — the applicant's latest statement. Declarations made
    on other dossiers (drafts, withdrawn ones, or older statements of the same aid) would count the
    same aid twice."""
    return or_(MinimisAid.source == "granted", MinimisAid.case_id == case_id)


def _window(siren: str, on: date, case_id: int):
    return (MinimisAid.siren == siren, minimis_counted_for(case_id),
            MinimisAid.granted_on > three_years_before(on), MinimisAid.granted_on <= on)


def minimis_received(siren: str, regime: str, on: date, *, case_id: int) -> Decimal:
    """De minimis aid of this regime received by the SIREN in the three years before ``on``."""
    return received_by_regime(siren, on, case_id=case_id).get(regime, Decimal("0.00"))


def received_by_regime(siren: str, on: date, *, case_id: int) -> dict[str, Decimal]:
    rows = db.session.execute(
        select(MinimisAid.regime, func.coalesce(func.sum(MinimisAid.amount), 0))
        .where(*_window(siren, on, case_id)).group_by(MinimisAid.regime))
    return {regime: Decimal(total).quantize(CENT) for regime, total in rows}


def counted_aids(siren: str, on: date, *, case_id: int) -> list[MinimisAid]:
    return list(db.session.scalars(select(MinimisAid).where(*_window(siren, on, case_id))
                                   .order_by(MinimisAid.granted_on, MinimisAid.id)))


def lock_company_minimis(siren: str) -> None:
    """Serialise every de minimis approval of one SIREN, whatever the dossier, line or agency.

    Two agencies may approve, at the same moment, aids that each fit under the ceiling alone but
    not together; optimistic locking (per dossier, per line) cannot see that. So, before summing the
    register, the approval locks the rows of the company's SIREN, which all its approvals share: the
    second approver waits until the first commits, then sums a register that includes its aid.
    PostgreSQL: ``SELECT … FOR UPDATE`` (rows in id order, so two approvers never deadlock).
    SQLite: a transaction reads before it writes and only locks the database at its first write,
    so the approval writes first (a no-op UPDATE of those rows), taking the database's write lock;
    the other writer waits for it (busy timeout) and its later reads see the committed aid.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Company.id).where(Company.siren == siren)
                           .order_by(Company.id).with_for_update())
    else:
        db.session.execute(update(Company).where(Company.siren == siren).values(siren=Company.siren)
                           .execution_options(synchronize_session=False))


# --------------------------------------------------------------------------- position and check

@dataclass(frozen=True)
class LimitPosition:
    limit: MinimisLimit
    received: Decimal

    @property
    def headroom(self) -> Decimal:
        return max(self.limit.ceiling - self.received, Decimal("0.00"))


@dataclass(frozen=True)
class RegimePosition:
    regime: str
    received: Decimal  # this regime alone
    limits: list[LimitPosition]  # every limit that contains the regime

    @property
    def label(self) -> str:
        return MINIMIS_REGIMES[self.regime]

    @property
    def ceiling(self) -> Decimal:
        return MINIMIS_CEILINGS[self.regime]

    @property
    def headroom(self) -> Decimal:
        """What the company may still receive under this regime today: the smallest headroom of the
        limits that contain it (its own ceiling and the cumulation ceilings)."""
        return min(position.headroom for position in self.limits)

    @property
    def binding(self) -> LimitPosition:
        return min(self.limits, key=lambda position: position.headroom)


@dataclass(frozen=True)
class MinimisPosition:
    on: date
    regimes: list[RegimePosition]
    aids: list[MinimisAid]

    @property
    def total_received(self) -> Decimal:
        return sum((aid.amount for aid in self.aids), Decimal("0.00"))


def regime_position(regime: str, received: dict[str, Decimal]) -> RegimePosition:
    limits = [LimitPosition(limit, sum((received.get(each, Decimal("0.00")) for each in limit.regimes),
                                       Decimal("0.00")))
              for limit in limits_of(regime)]
    return RegimePosition(regime, received.get(regime, Decimal("0.00")), limits)


def minimis_position(siren: str, on: date, *, case_id: int, regimes=()) -> MinimisPosition:
    """The company's position on ``on``: the aids that count, and per regime (those asked in
    ``regimes`` and those with aid received) what was received and what remains. One query."""
    aids = counted_aids(siren, on, case_id=case_id)
    received: dict[str, Decimal] = {}
    for aid in aids:
        received[aid.regime] = received.get(aid.regime, Decimal("0.00")) + aid.amount
    shown = [regime for regime in MINIMIS_REGIMES if regime in received or regime in regimes]
    return MinimisPosition(on, [regime_position(regime, received) for regime in shown], aids)


def minimis_excess(siren: str, regime: str, amount: Decimal, on: date, *, case_id: int):
    """The limit that ``amount`` more of ``regime`` would break on ``on`` (the tightest, when it
    breaks several), with its position — its headroom is what may still be granted — or None when
    the aid fits every limit."""
    position = regime_position(regime, received_by_regime(siren, on, case_id=case_id))
    broken = [each for each in position.limits if each.received + amount > each.limit.ceiling]
    return min(broken, key=lambda each: each.headroom) if broken else None


# --------------------------------------------------------------------------- GGE estimate

def estimated_gge(amount: Decimal) -> Decimal:
    """A simple, documented estimate of the gross grant equivalent of a zero-rate loan or a repayable
    advance of ``amount``: the interest the company does not pay, at the reference rate, on a loan
    repaid in equal yearly instalments over the default duration, undiscounted:

        GGE = amount × reference rate × (years + 1) / 2

    (the outstanding principal is amount, then amount × (N−1)/N, …, amount / N: it sums to
    amount × (N + 1) / 2 years). With the defaults (4 %, 5 years): 12 % of the amount. Not
    discounting slightly overstates the GGE, which errs on the side of the ceiling. The agent may
    enter the GGE computed by the agency's own method instead.
    Settings (instance/config.py or ATELIER_*): MINIMIS_REFERENCE_RATE ("0.04") and
    MINIMIS_DEFAULT_YEARS (5).
    """
    rate, years = _estimate_settings()
    return (amount * rate * (years + 1) / 2).quantize(CENT, rounding=ROUND_HALF_UP)


def _estimate_settings() -> tuple[Decimal, int]:
    config = current_app.config
    return (Decimal(str(config.get("MINIMIS_REFERENCE_RATE", "0.04"))),
            int(config.get("MINIMIS_DEFAULT_YEARS", 5)))


def gge_formula_text() -> str:
    rate, years = _estimate_settings()
    percent = str((rate * 100).normalize()).replace(".", ",")
    return (f"montant × taux de référence ({percent} %) × (durée de {years} ans + 1) / 2, "
            "soit les intérêts économisés sur un prêt remboursé par annuités égales")
