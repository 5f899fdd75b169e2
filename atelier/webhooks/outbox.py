"""The outbox: every committed event of a dossier gets one delivery row per active webhook of each
agency that may see that dossier, written in the same transaction as the event.

No operation calls this: two listeners on the application's session do it.

- ``after_flush`` notes the ids of the events just inserted (whatever operation created them);
- ``before_commit`` flushes what is left, then, for the noted events that still exist, inserts the
  deliveries. It runs at the end of the transaction on purpose: an operation may record its event
  and only then grant the receiving agency its access (a transfer adds the ``CaseAgency`` row after
  the event, maybe after an autoflush); by commit time both are there, so that agency gets it.

A rollback forgets the noted ids, and an event rolled back with a savepoint is filtered out by the
query itself: a rolled-back operation leaves no delivery.
"""
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select

from ..cases.models import CaseAgency, Event
from ..common import utcnow
from ..extensions import db
from .models import Webhook, WebhookDelivery

_NOTED = "webhook_outbox_event_ids"


def _note_new_events(session, flush_context) -> None:
    ids = [instance.id for instance in session.new if isinstance(instance, Event)]
    if ids:
        session.info.setdefault(_NOTED, set()).update(ids)


def _write_deliveries(session) -> None:
    if _NOTED not in session.info and not any(isinstance(i, Event) for i in session.new):
        return
    session.flush()
    event_ids = session.info.pop(_NOTED, None)
    if not event_ids:
        return
    rows = session.execute(
        select(Event.id, Event.case_id, Webhook.id)
        .join(CaseAgency, CaseAgency.case_id == Event.case_id)
        .join(Webhook, (Webhook.agency_id == CaseAgency.agency_id) & Webhook.active.is_(True))
        .where(Event.id.in_(sorted(event_ids)))
        .order_by(Event.id, Webhook.id)
    ).all()
    if not rows:
        return
    now = utcnow()
    session.execute(insert(WebhookDelivery), [
        {"webhook_id": webhook_id, "event_id": event_id, "case_id": case_id, "status": "pending",
         "attempts": 0, "queued_at": now, "next_attempt_at": now, "created_at": now}
        for event_id, case_id, webhook_id in rows
    ])


def _forget(session) -> None:
    session.info.pop(_NOTED, None)


def _forget_after_rollback(session, previous_transaction=None) -> None:
    session.info.pop(_NOTED, None)


_LISTENERS = (
    ("after_flush", _note_new_events),
    ("before_commit", _write_deliveries),
    ("after_commit", _forget),
    ("after_rollback", _forget_after_rollback),
)


def register_outbox() -> None:
    """Listen on the sessions of ``db.session`` (once, however many apps are created)."""
    target = db.session.session_factory
    for name, listener in _LISTENERS:
        if not sa_event.contains(target, name, listener):
            sa_event.listen(target, name, listener)
