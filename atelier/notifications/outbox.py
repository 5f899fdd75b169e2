"""The notification outbox: who must be told of each new event or message, written in the same
transaction, then handed to the mail server after the commit.

No operation calls this (``atelier/cases/operations.py`` knows nothing of email). Listeners on the
application's session do it, the way ``atelier/webhooks/outbox.py`` does for webhooks:

- ``after_flush`` notes the ids of the events and messages just inserted;
- ``before_commit`` flushes what is left, reads back the noted rows that still exist (one rolled back
  with a savepoint is gone), works out the recipients *as the dossier is at commit time* (a transfer
  grants its access after recording its event) and inserts one ``Notification`` per person, already
  written in French, or none when that person turned that kind off;
- ``after_commit`` tries to send the immediate ones just queued, once the response has gone (best
  effort: a mail server that is down leaves them pending for ``flask send-notifications``, and never
  fails nor slows the request).

The emails of an account (a reset link, a password changed) go through the same outbox
(``queue_account_email``), so that nothing is handed to the mail server inside a request.

Every link in an email is built by ``absolute_url`` from the configured address of the site, never
from the request (whose ``Host`` header a sender chooses).

A rollback forgets everything noted: a refused operation mails no one.
"""
from flask import current_app, render_template
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select

from ..auth.models import User
from ..cases.models import Case, Event, FundingLine, Message, Opinion
from ..common import utcnow
from ..companies.models import company_members
from ..extensions import db
from ..mail import after_response
from .models import KINDS, MANDATORY_KINDS, MessageAttachment, Notification, NotificationPreference

_EVENTS = "notification_outbox_event_ids"
_MESSAGES = "notification_outbox_message_ids"
_QUEUED = "notification_outbox_queued_ids"

# Events the applicant (members of the dossier's company) is told about.
APPLICANT_EVENTS = {
    ("case", "request_info"): "info_requested",
    ("case", "accept"): "case_accepted",
    ("line", "approve"): "decision",
    ("line", "reject"): "decision",
    ("line", "sign_agreement"): "agreement_signed",
    ("line", "record_payment"): "payment_recorded",
}
# Events that put a dossier or a line in an agency's inbox, or ask its opinion.
AGENT_EVENTS = {
    ("case", "submit"): "inbox_new",
    ("case", "resubmit"): "inbox_new",
    ("case", "transfer_lead"): "inbox_new",
    ("line", "transfer"): "inbox_new",
    ("opinion", "ask_opinion"): "opinion_requested",
}

SUBJECTS = {
    "info_requested": "des informations complémentaires sont demandées",
    "case_accepted": "votre dossier est complet",
    "decision": "une décision a été prise",
    "agreement_signed": "la convention est signée",
    "payment_recorded": "un versement a été enregistré",
    "inbox_new": "un dossier arrive dans la corbeille de votre organisme",
    "opinion_requested": "l'avis de votre organisme est demandé",
    "opinion_overdue": "rappel : l'avis de votre organisme est en retard",
    "message": "nouveau message",
}


# --------------------------------------------------------------------------- addresses

def public_base_url() -> str:
    """The address of the site for links sent by email: ``PUBLIC_URL`` (required in production; ``make
    run`` sets it from its HOST and PORT), else ``SERVER_NAME`` with ``PREFERRED_URL_SCHEME``, else
    http://127.0.0.1:5000 (a bare ``flask run``). Never the request's ``Host``."""
    config = current_app.config
    if config.get("PUBLIC_URL"):
        return config["PUBLIC_URL"].rstrip("/")
    if config.get("SERVER_NAME"):
        return f"{config.get('PREFERRED_URL_SCHEME') or 'http'}://{config['SERVER_NAME']}"
    return "http://127.0.0.1:5000"


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link built without a request (never from a Host header a sender could forge)."""
    anchor = values.pop("_anchor", None)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return public_base_url() + path + (f"#{anchor}" if anchor else "")


# --------------------------------------------------------------------------- recipients

def active_members(case: Case) -> list[User]:
    return list(db.session.scalars(
        select(User).join(company_members, company_members.c.user_id == User.id)
        .where(company_members.c.company_id == case.company_id, User.active.is_(True),
               User.role == "applicant").order_by(User.id)))


def active_agents(agency_ids) -> list[User]:
    agency_ids = sorted({agency_id for agency_id in agency_ids if agency_id is not None})
    if not agency_ids:
        return []
    return list(db.session.scalars(
        select(User).where(User.role == "agent", User.active.is_(True), User.agency_id.in_(agency_ids))
        .order_by(User.id)))


def holding_agency_ids(case: Case) -> set[int]:
    """The lead agency and the agencies holding a line: those who answer the dossier's messages."""
    if case.state == "draft":
        return set()
    return {case.lead_agency_id, *(line.agency_id for line in case.lines)} - {None}


def modes_of(user_ids, kind: str) -> dict[int, str]:
    """Each person's choice for ``kind`` (immediately when never chosen; a mandatory kind is never off)."""
    user_ids = sorted(set(user_ids))
    chosen = dict(db.session.execute(
        select(NotificationPreference.user_id, NotificationPreference.mode)
        .where(NotificationPreference.user_id.in_(user_ids), NotificationPreference.kind == kind)).all()
    ) if user_ids else {}
    modes = {}
    for user_id in user_ids:
        mode = chosen.get(user_id, "immediate")
        if mode == "none" and kind in MANDATORY_KINDS:
            mode = "immediate"
        modes[user_id] = mode
    return modes


def notification_rows(users, kind: str, *, case: Case | None, template: str, context: dict,
                      link: str, event_id=None, message_id=None, exclude_id=None,
                      dedup=None) -> list[dict]:
    """One outbox row per person who wants ``kind`` (rendered in French now: the email tells what
    happened then, whatever happens to the dossier before it is sent)."""
    users = [user for user in users if user.id != exclude_id and user.active]
    modes = modes_of([user.id for user in users], kind)
    now = utcnow()
    rows = []
    for user in users:
        mode = modes[user.id]
        if mode == "none":
            continue
        body = render_template(f"notifications/email/{template}.txt", user=user, case=case, link=link,
                               **context)
        subject = (f"Dossier {case.reference} : {SUBJECTS[kind]}" if case is not None
                   else f"Atelier des projets : {SUBJECTS[kind]}")
        rows.append({"user_id": user.id, "kind": kind, "delivery": mode, "case_id": case.id if case else None,
                     "event_id": event_id, "message_id": message_id, "subject": subject[:250],
                     "body": body, "link": link, "status": "pending", "attempts": 0,
                     "next_attempt_at": now, "created_at": now,
                     "dedup_key": dedup(user) if dedup else None})
    return rows


def rows_for_event(event: Event) -> list[dict]:
    key = (event.entity, event.name)
    case = event.case
    link = absolute_url("cases.show_case", reference=case.reference)
    context = {"event": event, "line": event.line}
    if key in APPLICANT_EVENTS:
        kind = APPLICANT_EVENTS[key]
        return notification_rows(active_members(case), kind, case=case, template=kind, context=context,
                                 link=link, event_id=event.id, exclude_id=event.actor_id)
    if key not in AGENT_EVENTS:
        return []
    kind = AGENT_EVENTS[key]
    if key[0] == "case":
        agency_ids = [case.lead_agency_id]
    elif key[0] == "line":
        agency_ids = [event.line.agency_id]
    else:
        opinion = db.session.get(Opinion, (event.data or {}).get("opinion_id") or 0)
        if opinion is None:
            return []
        agency_ids = [opinion.agency_id]
        context["opinion"] = opinion
    return notification_rows(active_agents(agency_ids), kind, case=case, template=kind, context=context,
                             link=link, event_id=event.id, exclude_id=event.actor_id)


def rows_for_message(message: Message) -> list[dict]:
    """A message goes to the other side: from an agent to the applicant's members, from the
    applicant to the agents of the agencies holding the dossier. An internal note reaches only
    those agents, never an applicant."""
    case = message.case
    author = message.author
    if message.internal or author.is_applicant:
        recipients = active_agents(holding_agency_ids(case))
    else:
        recipients = active_members(case)
    attachments = db.session.scalar(
        select(db.func.count(MessageAttachment.id)).where(MessageAttachment.message_id == message.id))
    link = absolute_url("cases.show_case", reference=case.reference, _anchor=f"message-{message.id}")
    return notification_rows(recipients, "message", case=case, template="message",
                             context={"message": message, "author": author, "attachments": attachments},
                             link=link, message_id=message.id, exclude_id=author.id)


# --------------------------------------------------------------------------- listeners

def _note_new_rows(session, flush_context) -> None:
    for instance in session.new:
        if isinstance(instance, Event):
            session.info.setdefault(_EVENTS, set()).add(instance.id)
        elif isinstance(instance, Message):
            session.info.setdefault(_MESSAGES, set()).add(instance.id)


def _write_notifications(session) -> None:
    if (_EVENTS not in session.info and _MESSAGES not in session.info
            and not any(isinstance(i, (Event, Message)) for i in session.new)):
        return
    session.flush()
    event_ids = session.info.pop(_EVENTS, set())
    message_ids = session.info.pop(_MESSAGES, set())
    rows = []
    info_requested_cases = set()
    if event_ids:
        events = session.scalars(select(Event).where(Event.id.in_(sorted(event_ids))).order_by(Event.id))
        for event in events:
            if (event.entity, event.name) == ("case", "request_info"):
                info_requested_cases.add(event.case_id)
            rows.extend(rows_for_event(event))
    if message_ids:
        messages = session.scalars(select(Message).where(Message.id.in_(sorted(message_ids)))
                                   .order_by(Message.id))
        for message in messages:
            # The message written by request_info is told by the "information requested" email.
            if message.case_id in info_requested_cases and not message.internal:
                continue
            rows.extend(rows_for_message(message))
    if not rows:
        return
    ids = session.scalars(insert(Notification).returning(Notification.id), rows).all()
    session.info.setdefault(_QUEUED, []).extend(
        row_id for row_id, row in zip(ids, rows) if row["delivery"] == "immediate")


def _send_after_commit(session) -> None:
    queued = session.info.pop(_QUEUED, None)
    if not queued or not send_after_commit_enabled():
        return

    def send() -> None:
        try:
            from .sending import send_notifications

            send_notifications(queued)
        except Exception:  # best effort: the rows stay pending for `flask send-notifications`
            current_app.logger.exception("Notifications %s not sent after the commit", queued)

    after_response(send)  # in a request, once the response is sent: a mail server never slows a page


def queue_account_email(user: User, kind: str, *, subject: str, body: str, link: str) -> None:
    """An email about ``user``'s own account (a reset link, a password changed…), already written:
    one outbox row, sent after the commit like the notifications, or by ``flask send-notifications``.
    Not a notification one can turn off, and never put in a digest."""
    now = utcnow()
    notification = Notification(user_id=user.id, kind=kind, delivery="immediate", subject=subject[:250],
                                body=body, link=link, next_attempt_at=now, created_at=now)
    db.session.add(notification)
    db.session.flush()
    db.session.info.setdefault(_QUEUED, []).append(notification.id)


def send_after_commit_enabled() -> bool:
    """``NOTIFICATIONS_SEND_AFTER_COMMIT``: on by default, off by default when TESTING (the tests
    that need it turn it on), so that the rest of the suite writes no mail."""
    setting = current_app.config.get("NOTIFICATIONS_SEND_AFTER_COMMIT")
    if setting is None:
        return not current_app.testing
    return bool(setting)


def _forget_after_rollback(session, previous_transaction=None) -> None:
    for key in (_EVENTS, _MESSAGES, _QUEUED):
        session.info.pop(key, None)


_LISTENERS = (
    ("after_flush", _note_new_rows),
    ("before_commit", _write_notifications),
    ("after_commit", _send_after_commit),
    ("after_rollback", _forget_after_rollback),
)


def register_notifications() -> None:
    """Listen on the sessions of ``db.session`` (once, however many apps are created)."""
    target = db.session.session_factory
    for name, listener in _LISTENERS:
        if not sa_event.contains(target, name, listener):
            sa_event.listen(target, name, listener)


KIND_LABELS = {kind: label for kind, (label, _, _) in KINDS.items()}
