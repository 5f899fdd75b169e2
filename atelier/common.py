"""Small shared pieces: UTC timestamps, money columns and the amount rule, the refusal every
operation raises."""
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import DateTime, Numeric, TypeDecorator

from .formatting import money

MONEY = Numeric(14, 2, asdecimal=True)
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e12")  # MONEY holds up to 999 999 999 999,99
# What a typed amount may look like once its spaces (thousands separators) and a trailing "€" are
# gone: ASCII digits, one decimal comma or point. No exponent, no "NaN" or "Infinity", and no other
# script's digits (``\d`` and ``Decimal`` would read Arabic-Indic ١٢٣ as 123): a French form.
_AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_PLAIN_AMOUNT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


# How people type a date: what a date picker sends first, then the French ways.
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")
_ASCII_DATE = re.compile(r"[0-9./-]+")


def read_date(text: str) -> date | None:
    """The date typed in ``text`` (one of ``DATE_FORMATS``, ASCII digits only: ``strptime`` would
    also read other scripts' digits), or ``None`` when it is not one."""
    text = (text or "").strip()
    if not _ASCII_DATE.fullmatch(text):
        return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class ActionRefused(Exception):
    """A person asked for something the rules do not allow; ``message`` is shown to them (French).

    ``field`` names the form field the message belongs beside, when there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ModifiedMeanwhile(ActionRefused):
    """Someone else changed the dossier since this person loaded it (optimistic locking)."""

    def __init__(self):
        super().__init__(
            "Ce dossier a été modifié entre-temps par une autre personne. "
            "Rechargez la page pour voir son état actuel, puis recommencez."
        )


def parse_amount(value, field: str | None, *, label: str = "Le montant", allow_zero: bool = False) -> Decimal:
    """A sum in euros typed the French way (``12 500,50 €``), or a French refusal beside ``field``.

    Greater than zero (or zero too with ``allow_zero``), two decimals at most, less than a thousand
    billion (what ``MONEY`` holds). The one amount rule: forms and operations all call it.
    """
    if isinstance(value, str):
        text = _AMOUNT_SPACES.sub("", value).removesuffix("€")
        if not text:
            raise ActionRefused(f"{label} est obligatoire.", field)
        if not _PLAIN_AMOUNT.fullmatch(text):
            raise ActionRefused(f"{label} doit être un nombre (par exemple 12500,50).", field)
        amount = Decimal(text.replace(",", "."))
    elif value is None:
        raise ActionRefused(f"{label} est obligatoire.", field)
    else:
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ActionRefused(f"{label} doit être un nombre (par exemple 12500,50).", field) from None
    if not amount.is_finite():
        raise ActionRefused(f"{label} doit être un nombre (par exemple 12500,50).", field)
    if amount < 0 and allow_zero:
        raise ActionRefused(f"{label} ne peut pas être négatif.", field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ActionRefused(f"{label} doit être supérieur à zéro.", field)
    if amount >= MAX_AMOUNT:  # before quantize, which fails on huge exponents
        raise ActionRefused(f"{label} est trop élevé (au plus {money(MAX_AMOUNT - CENT)}).", field)
    if amount != amount.quantize(CENT):
        raise ActionRefused(f"{label} ne peut pas avoir plus de deux décimales.", field)
    return amount.quantize(CENT)
