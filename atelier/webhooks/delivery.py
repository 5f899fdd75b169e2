"""Sending the outbox: signed JSON, in order per dossier, retried with exponential backoff.

``deliver_due()`` sends every delivery that is due, one transaction each: the row is claimed
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that two loops never send the same one),
posted, and its attempt recorded before the commit. A crash between the post and the commit leaves
the row pending: it is sent again with the same ``X-Atelier-Delivery`` id (at least once).

A delivery is due when it is pending, its webhook is active, its time has come, and no earlier
event of the same dossier is still pending for the same webhook (in order per dossier).

Only public addresses are reached (``network.py``): the host is resolved and checked at every
attempt, and the connection goes to the checked address. Whatever fails with one delivery is a
failed attempt of that delivery, logged as a French category; the loop goes on with the others.
"""
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased, joinedload

from ..cases.models import Event
from ..common import utcnow
from ..extensions import db
from .models import Webhook, WebhookAttempt, WebhookDelivery
from .network import failure_category, parse_allowed_networks, pinned_connection

USER_AGENT = "Atelier-des-projets-webhooks/1"
DEFAULTS = {
    "WEBHOOKS_ALLOW_HTTP": False,  # plain http:// addresses (tests, local development)
    # Networks a delivery may reach although they are not public, e.g. ["10.1.2.0/24"] for a
    # partner on a private link, ["127.0.0.1/32"] for the tests' local receiver.
    "WEBHOOKS_ALLOWED_NETWORKS": (),
    "WEBHOOKS_TIMEOUT_SECONDS": 10,
    "WEBHOOKS_RETRY_BASE_SECONDS": 30,  # first retry after 30 s, then 1 min, 2 min, 4 min…
    "WEBHOOKS_RETRY_MAX_SECONDS": 3600,  # … at most one hour apart
    "WEBHOOKS_GIVE_UP_HOURS": 24,  # then the delivery is marked failed (the admin may send it again)
    "WEBHOOKS_POLL_SECONDS": 5,  # the delivery loop looks for due deliveries this often
}


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


# --------------------------------------------------------------------------- what is sent

def payload_of(event: Event) -> dict:
    """The JSON body: what happened to which dossier. No free text (reasons, questions, comments,
    messages and internal notes stay in the window)."""
    return {
        "id": event.id,
        "type": event.name,
        "entity": event.entity,
        "case": event.case.reference,
        "line_id": event.line_id,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "occurred_at": event.created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "data": event.data or {},
        "agency": event.agency.slug if event.agency is not None else None,
    }


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the secret, of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def headers_for(delivery: WebhookDelivery, body: bytes, timestamp: str) -> dict:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Atelier-Delivery": delivery.uuid,
        "X-Atelier-Event": delivery.event.name,
        "X-Atelier-Timestamp": timestamp,
        "X-Atelier-Signature": signature(delivery.webhook.secret, timestamp, body),
    }


def url_allowed(url: str) -> bool:
    scheme = urlsplit(url).scheme.lower()
    return scheme == "https" or (scheme == "http" and bool(setting("WEBHOOKS_ALLOW_HTTP")))


def allowed_networks() -> tuple:
    """The networks named by ``WEBHOOKS_ALLOWED_NETWORKS`` (see ``network.py``)."""
    return parse_allowed_networks(setting("WEBHOOKS_ALLOWED_NETWORKS"))


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str | None]:
    """POST ``body`` to a checked address of the host; the HTTP status (and no error). Redirects
    are not followed. Raises on failure, :class:`ForbiddenAddress` included (see ``attempt``)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = pinned_connection(parts, allowed_networks(), timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status, None
    finally:
        connection.close()


# --------------------------------------------------------------------------- the loop

def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: base × 2^(attempts − 1), capped."""
    base, cap = setting("WEBHOOKS_RETRY_BASE_SECONDS"), setting("WEBHOOKS_RETRY_MAX_SECONDS")
    return timedelta(seconds=min(cap, base * 2 ** min(max(attempts - 1, 0), 30)))


def due_deliveries(now: datetime):
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(and_(earlier.webhook_id == WebhookDelivery.webhook_id,
                                  earlier.case_id == WebhookDelivery.case_id,
                                  earlier.status == "pending",
                                  earlier.event_id < WebhookDelivery.event_id))
    active = select(Webhook.id).where(Webhook.active.is_(True))
    return (select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                   WebhookDelivery.webhook_id.in_(active), ~blocked)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.event_id, WebhookDelivery.id))


def _claim(now: datetime) -> WebhookDelivery | None:
    query = due_deliveries(now).limit(1).with_for_update(skip_locked=True, of=WebhookDelivery)
    delivery = db.session.scalars(query).first()
    if delivery is not None:
        db.session.refresh(delivery)  # a row another loop just sent, read again now that it is ours
        if delivery.status != "pending":
            return None
    return delivery


def attempt(delivery: WebhookDelivery, now: datetime, sender=post) -> WebhookAttempt:
    """Send ``delivery`` once and record the attempt and its outcome (the caller commits)."""
    event = db.session.scalars(select(Event).options(joinedload(Event.case), joinedload(Event.agency))
                               .where(Event.id == delivery.event_id)).one()
    delivery.event = event
    webhook = delivery.webhook
    started = time.monotonic()
    # Whatever goes wrong with this one delivery is a failed attempt, logged as a category: it
    # never stops the loop, and never shows the exception's text.
    try:
        if url_allowed(webhook.url):
            body = body_of(payload_of(event))
            status, error = sender(webhook.url, body, headers_for(delivery, body, str(int(time.time()))),
                                   setting("WEBHOOKS_TIMEOUT_SECONDS"))
        else:
            status, error = None, "Adresse refusée : seules les adresses https:// sont autorisées."
    except Exception as failure:
        status, error = None, failure_category(failure)
    duration_ms = int((time.monotonic() - started) * 1000)
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"Réponse HTTP {status}"
    record = WebhookAttempt(delivery=delivery, attempted_at=now, status_code=status,
                            error=error[:300] if error else None,
                            duration_ms=duration_ms)
    db.session.add(record)
    delivery.attempts += 1
    if record.succeeded:
        delivery.status, delivery.delivered_at = "delivered", now
    elif now - delivery.queued_at >= timedelta(hours=setting("WEBHOOKS_GIVE_UP_HOURS")):
        delivery.status = "failed"
        # The dossier's later events to this webhook fail with it: sending them now would break the
        # order; the admin sends the dossier's queue again as a whole (operations.retry_delivery).
        db.session.execute(update(WebhookDelivery)
                           .where(WebhookDelivery.webhook_id == delivery.webhook_id,
                                  WebhookDelivery.case_id == delivery.case_id,
                                  WebhookDelivery.status == "pending",
                                  WebhookDelivery.event_id > delivery.event_id)
                           .values(status="failed")
                           .execution_options(synchronize_session=False))
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    return record


def deliver_due(now: datetime | None = None, *, sender=post, limit: int | None = None) -> dict:
    """Send every delivery due at ``now`` (default: the present), one transaction each.

    Returns counts: ``{"delivered": n, "retry": n, "failed": n}``.
    """
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    sent = 0
    while limit is None or sent < limit:
        moment = now or utcnow()
        try:
            delivery = _claim(moment)
            if delivery is None:
                db.session.rollback()
                break
            attempt(delivery, moment, sender)
            outcome = {"delivered": "delivered", "failed": "failed"}.get(delivery.status, "retry")
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        counts[outcome] += 1
        sent += 1
    return counts
