from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import MONEY, UTCDateTime, utcnow
from ..extensions import db

AGENDA_OUTCOMES = {
    "pending": "À examiner",
    "approved": "Accordé",
    "rejected": "Refusé",
    "adjourned": "Ajourné",
    "withdrawn": "Retiré de l'ordre du jour",
}

# The amounts kept in ``AgendaItem.presented`` (the other keys are texts).
PRESENTED_AMOUNTS = ("eligible_cost", "requested", "proposed")


class Committee(db.Model):
    """Comité: an agency's decision body (commission permanente, comité d'engagement…)."""

    __tablename__ = "committees"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)

    agency = relationship("Agency", lazy="joined")
    schemes = relationship("Scheme", back_populates="committee")
    meetings = relationship("Meeting", back_populates="committee", order_by="Meeting.meets_on")


class Meeting(db.Model):
    """Séance: one dated meeting of a committee."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("committee_id", "meets_on", name="uq_meetings_committee_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    meets_on: Mapped[date] = mapped_column(index=True)
    place: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    committee = relationship("Committee", back_populates="meetings", lazy="joined")
    items = relationship("AgendaItem", back_populates="meeting", order_by="AgendaItem.id")

    def is_planned(self, today: date) -> bool:
        return self.meets_on >= today

    @property
    def title(self) -> str:
        return f"{self.committee.name} — séance du {self.meets_on:%d/%m/%Y}"


class AgendaItem(db.Model):
    """A funding line put before a meeting, frozen as presented (``presented`` keeps the figures)."""

    __tablename__ = "agenda_items"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('pending', 'approved', 'rejected', 'adjourned', 'withdrawn')", name="outcome"
        ),
        CheckConstraint("proposed_amount > 0", name="proposed_positive"),
        CheckConstraint("granted_amount IS NULL OR granted_amount > 0", name="granted_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("funding_lines.id"), index=True)
    proposed_amount: Mapped[Decimal] = mapped_column(MONEY)
    presented: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    granted_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting = relationship("Meeting", back_populates="items")
    line = relationship("FundingLine", back_populates="agenda_items")
    proposed_by = relationship("User")

    @property
    def outcome_label(self) -> str:
        return AGENDA_OUTCOMES[self.outcome]

    @property
    def is_pending(self) -> bool:
        return self.outcome == "pending"

    @property
    def figures(self) -> dict:
        """``presented`` with its amounts back as ``Decimal`` (JSON keeps them as strings)."""
        figures = dict(self.presented or {})
        for key in PRESENTED_AMOUNTS:
            value = figures.get(key)
            figures[key] = None if value in (None, "") else Decimal(str(value))
        return figures
