"""Small shared pieces: UTC timestamps, money columns, the refusal every operation raises."""
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import DateTime, Numeric, TypeDecorator

MONEY = Numeric(14, 2, asdecimal=True)
CENT = Decimal("0.01")


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


class NotFound(Exception):
    """What the person may not see: answered 404 so that a guessed URL reveals nothing."""
