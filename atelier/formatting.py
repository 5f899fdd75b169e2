"""French formatting of money and dates (Babel), and today's date in Europe/Paris."""
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

PARIS = ZoneInfo("Europe/Paris")


def paris_today() -> date:
    return datetime.now(PARIS).date()


def money(value: Decimal | int | None) -> str:
    """``12 345,67 €`` (Babel uses a narrow no-break space between thousands)."""
    if value is None:
        return "—"
    return format_currency(value, "EUR", locale="fr_FR")


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value * 100, format="#,##0.##", locale="fr_FR") + " %"


def day(value: date | None) -> str:
    if value is None:
        return "—"
    return format_date(value, format="d MMMM y", locale="fr_FR")


def moment(value: datetime | None) -> str:
    if value is None:
        return "—"
    return format_datetime(value, format="d MMMM y 'à' HH:mm", tzinfo=PARIS, locale="fr_FR")


def register_filters(app) -> None:
    app.jinja_env.filters.update(money=money, percent=percent, day=day, moment=moment)
    app.jinja_env.globals.update(paris_today=paris_today)
