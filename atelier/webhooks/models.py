"""Webhooks of an agency, and their outbox: one delivery per (webhook, event), each attempt logged.

A delivery row is written in the same transaction as the event it carries (see ``outbox.py``), so
an event that is committed is never lost, and an event that is rolled back is never sent.
"""
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import UTCDateTime, utcnow
from ..extensions import db

DELIVERY_STATUSES = {
    "pending": "En attente",
    "delivered": "Livré",
    "failed": "Abandonné",
}


class Webhook(db.Model):
    """An address of a partner's system that receives, signed, every event of the agency's dossiers.

    The secret is kept as typed (not hashed): it is needed to sign every delivery.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency = relationship("Agency", lazy="joined")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Webhook {self.id} {self.url}>"


def _new_uuid() -> str:
    return str(uuid.uuid4())


class WebhookDelivery(db.Model):
    """One event to send to one webhook: pending until a 2xx answer, retried with backoff, given up
    (``failed``) after the retry window, then sent again only if the admin asks."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
        # The head of each (webhook, dossier) queue, and what is due.
        Index("ix_webhook_deliveries_queue", "webhook_id", "case_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_new_uuid)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # start of the retry window
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    webhook = relationship("Webhook")
    event = relationship("Event")
    case = relationship("Case")
    attempt_log = relationship("WebhookAttempt", back_populates="delivery", order_by="WebhookAttempt.id",
                               cascade="all, delete-orphan", passive_deletes=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("status", "pending")
        kwargs.setdefault("attempts", 0)
        super().__init__(**kwargs)

    @property
    def status_label(self) -> str:
        return DELIVERY_STATUSES[self.status]


class WebhookAttempt(db.Model):
    """One try at sending a delivery: when, the HTTP status or the error, how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int] = mapped_column(default=0)

    delivery = relationship("WebhookDelivery", back_populates="attempt_log")

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
