"""Email notifications: each person's choices, the durable outbox, every attempt to send, and the
files attached to messages.

An outbox row (``Notification``) is written in the same transaction as the event or message it
tells about (see ``outbox.py``): a committed event is never forgotten, a rolled-back one never mailed.
"""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import UTCDateTime, utcnow
from ..extensions import db

MODES = {
    "immediate": "Immédiatement, un courriel à chaque fois",
    "digest": "Dans un récapitulatif quotidien",
    "none": "Jamais",
}

# Kinds of notification: (French label, audience, mandatory). A mandatory kind may be put in the
# daily digest but not turned off.
KINDS = {
    "info_requested": ("Des informations vous sont demandées sur un dossier", "applicant", True),
    "case_accepted": ("Un dossier est déclaré complet", "applicant", False),
    "decision": ("Une décision est prise sur une demande de financement", "applicant", True),
    "agreement_signed": ("Une convention est signée", "applicant", False),
    "payment_recorded": ("Un versement est enregistré", "applicant", False),
    "inbox_new": ("Un dossier ou une demande arrive dans la corbeille de votre organisme", "agent", False),
    "opinion_requested": ("L'avis de votre organisme est demandé", "agent", False),
    "opinion_overdue": ("Un avis de votre organisme est en retard (rappel)", "agent", False),
    "message": ("Un nouveau message sur un dossier", "both", False),
}
MANDATORY_KINDS = frozenset(kind for kind, (_, _, mandatory) in KINDS.items() if mandatory)
DIGEST_KIND = "digest"

STATUSES = {
    "pending": "À envoyer",
    "sent": "Envoyé",
    "failed": "Abandonné",
    "skipped": "Non envoyé (compte désactivé)",
    "digested": "Regroupé dans un récapitulatif",
}


def kinds_for(user) -> list[str]:
    """The kinds of notification that may reach ``user`` (an applicant or an agent)."""
    audience = "applicant" if user.is_applicant else "agent" if user.is_agent else None
    if audience is None:
        return []
    return [kind for kind, (_, who, _) in KINDS.items() if who in (audience, "both")]


class NotificationPreference(db.Model):
    """How one person wants one kind of notification; no row means immediately."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_notification_preferences_user_kind"),
        CheckConstraint("mode IN ('immediate', 'digest', 'none')", name="mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    mode: Mapped[str] = mapped_column(String(10), default="immediate")


class Notification(db.Model):
    """One email to one person: sent at once (``immediate``) or gathered in the next daily digest.

    ``dedup_key`` makes a reminder unique (one per opinion, person and day).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped', 'digested')", name="status"),
        CheckConstraint("delivery IN ('immediate', 'digest')", name="delivery"),
        Index("ix_notifications_due", "status", "delivery", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500))
    dedup_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User")
    attempt_log = relationship("NotificationAttempt", back_populates="notification",
                               order_by="NotificationAttempt.id", cascade="all, delete-orphan",
                               passive_deletes=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("status", "pending")
        kwargs.setdefault("delivery", "immediate")
        kwargs.setdefault("attempts", 0)
        super().__init__(**kwargs)


class NotificationAttempt(db.Model):
    """One try at handing a notification to the mail server: when, and the error if it failed."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(String(300))

    notification = relationship("Notification", back_populates="attempt_log")

    @property
    def succeeded(self) -> bool:
        return self.error is None


class MessageAttachment(db.Model):
    """A file sent with a message, checked like the supporting documents, stored with a random name.

    Seen and downloaded by whoever sees its message (an internal note's file: agents only).
    """

    __tablename__ = "message_attachments"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # account quota
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message = relationship("Message")
