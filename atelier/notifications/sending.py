"""Handing the outbox to the mail server: each notification claimed, sent, its attempt recorded.

``send_notifications(ids)`` (after a commit) and ``send_due()`` (``flask send-notifications``) send
immediate notifications that are pending and due, each in its own short transaction, on a session
of their own (so that they may run from the request session's ``after_commit``):

1. claim: ``next_attempt_at`` is pushed a few minutes ahead by a conditional UPDATE, so that a
   second sender (another request, the command) skips it meanwhile;
2. send through ``atelier.mail.send_mail`` (SMTP, or an .eml file without ``MAIL_SERVER``);
3. record the attempt; on failure retry later with exponential backoff, and give up (``failed``)
   after ``NOTIFICATIONS_MAX_ATTEMPTS``.

A person deactivated meanwhile is never mailed (``skipped``).
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..common import utcnow
from ..extensions import db
from ..mail import send_mail
from .models import Notification, NotificationAttempt

DEFAULTS = {
    "NOTIFICATIONS_RETRY_BASE_SECONDS": 60,  # first retry after 1 min, then 2, 4, 8…
    "NOTIFICATIONS_RETRY_MAX_SECONDS": 6 * 3600,  # … at most six hours apart
    "NOTIFICATIONS_MAX_ATTEMPTS": 10,  # then the notification is given up (failed)
    "NOTIFICATIONS_CLAIM_SECONDS": 300,  # a claimed notification is left alone this long
}
HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


def backoff(attempts: int) -> timedelta:
    seconds = setting("NOTIFICATIONS_RETRY_BASE_SECONDS") * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, setting("NOTIFICATIONS_RETRY_MAX_SECONDS")))


def _due(now: datetime):
    return (Notification.status == "pending", Notification.delivery == "immediate",
            Notification.next_attempt_at <= now)


def send_due(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Send what is due; returns counts by outcome."""
    now = now or utcnow()
    with Session(db.engine) as session:
        ids = session.scalars(select(Notification.id).where(*_due(now)).order_by(Notification.id)
                              .limit(limit)).all()
    return send_notifications(ids, now=now)


def send_notifications(ids, *, now: datetime | None = None) -> dict:
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    with Session(db.engine, expire_on_commit=False) as session:
        for notification_id in ids:
            outcome = _send_one(session, notification_id, now or utcnow())
            if outcome:
                counts[outcome] += 1
    return counts


def _send_one(session: Session, notification_id: int, now: datetime) -> str | None:
    claimed = session.execute(
        update(Notification).where(Notification.id == notification_id, *_due(now))
        .values(next_attempt_at=now + timedelta(seconds=setting("NOTIFICATIONS_CLAIM_SECONDS")))
    ).rowcount
    session.commit()
    if claimed != 1:
        return None
    notification = session.get(Notification, notification_id)
    user = session.get(User, notification.user_id)
    if user is None or not user.active:
        notification.status = "skipped"
        session.commit()
        return "skipped"
    error = None
    try:
        send_mail(user.email, notification.subject, notification.body, headers=HEADERS)
    except Exception as problem:  # SMTP refused, server down, timeout: retried later
        error = f"{type(problem).__name__}: {problem}"[:300]
    notification.attempts += 1
    session.add(NotificationAttempt(notification_id=notification.id, attempted_at=utcnow(), error=error))
    if error is None:
        notification.status, notification.sent_at = "sent", utcnow()
        outcome = "sent"
    elif notification.attempts >= setting("NOTIFICATIONS_MAX_ATTEMPTS"):
        notification.status = "failed"
        outcome = "failed"
    else:
        notification.next_attempt_at = now + backoff(notification.attempts)
        outcome = "retry"
    session.commit()
    return outcome
