"""Changes that belong to notifications: a person's choices, the daily reminders and digests, and
a message posted with its attached file. Like every operation they flush and never commit."""
from collections import defaultdict
from datetime import date

from sqlalchemy import insert, select, update

from ..auth.models import User
from ..cases import documents
from ..cases import operations as case_operations
from ..cases.models import Case, FundingLine, Message, Opinion
from ..common import ActionRefused, utcnow
from ..extensions import db
from ..formatting import paris_today
from ..workflow import CASE_FINAL_STATES, LINE_FINAL_STATES
from .models import (DIGEST_KIND, MANDATORY_KINDS, MODES, MessageAttachment, Notification,
                     NotificationPreference, kinds_for)
from .outbox import absolute_url, active_agents, notification_rows


# --------------------------------------------------------------------------- preferences

def preferences_of(user: User) -> dict[str, str]:
    """Each kind that may reach ``user`` and how (immediately when never chosen)."""
    chosen = dict(db.session.execute(
        select(NotificationPreference.kind, NotificationPreference.mode)
        .where(NotificationPreference.user_id == user.id)).all())
    return {kind: chosen.get(kind, "immediate") for kind in kinds_for(user)}


def set_preferences(user: User, choices: dict[str, str]) -> None:
    """Save ``user``'s choice for each of their kinds; a mandatory kind cannot be turned off."""
    kinds = kinds_for(user)
    for kind in kinds:
        mode = choices.get(kind)
        if mode not in MODES:
            raise ActionRefused("Choisissez comment être prévenu pour chaque type de notification.", kind)
        if mode == "none" and kind in MANDATORY_KINDS:
            raise ActionRefused("Cette notification est obligatoire : choisissez « immédiatement » ou "
                                "« dans un récapitulatif quotidien ».", kind)
    existing = {row.kind: row for row in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    for kind in kinds:
        row = existing.get(kind)
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, mode=choices[kind]))
        else:
            row.mode = choices[kind]
    db.session.flush()


# --------------------------------------------------------------------------- daily: reminders, digests

def queue_overdue_reminders(today: date | None = None) -> int:
    """One reminder per overdue opinion, per agent of the consulted agency and per day (at most)."""
    today = today or paris_today()
    opinions = db.session.scalars(
        select(Opinion).join(FundingLine, FundingLine.id == Opinion.line_id).join(Case, Case.id == FundingLine.case_id)
        .where(Opinion.verdict.is_(None), Opinion.due_on < today,
               FundingLine.state.not_in(LINE_FINAL_STATES), Case.state.not_in(CASE_FINAL_STATES))
        .order_by(Opinion.id)).all()
    rows = []
    for opinion in opinions:
        case = opinion.line.case

        def dedup(user, opinion=opinion):
            return f"opinion-overdue:{opinion.id}:{user.id}:{today.isoformat()}"

        candidates = notification_rows(
            active_agents([opinion.agency_id]), "opinion_overdue", case=case, template="opinion_overdue",
            context={"opinion": opinion, "line": opinion.line, "days_late": (today - opinion.due_on).days},
            link=absolute_url("cases.show_case", reference=case.reference), dedup=dedup)
        keys = [row["dedup_key"] for row in candidates]
        already = set(db.session.scalars(select(Notification.dedup_key)
                                         .where(Notification.dedup_key.in_(keys)))) if keys else set()
        rows.extend(row for row in candidates if row["dedup_key"] not in already)
    if rows:
        db.session.execute(insert(Notification), rows)
    return len(rows)


def queue_digests(today: date | None = None) -> int:
    """Gather each person's pending digest notifications in one email (itself sent like any other)."""
    today = today or paris_today()
    pending = db.session.scalars(
        select(Notification).where(Notification.status == "pending", Notification.delivery == "digest")
        .order_by(Notification.user_id, Notification.id)).all()
    by_user = defaultdict(list)
    for notification in pending:
        by_user[notification.user_id].append(notification)
    made = 0
    for user_id, items in by_user.items():
        user = db.session.get(User, user_id)
        ids = [item.id for item in items]
        if user is None or not user.active:
            db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(status="skipped"))
            continue
        from flask import render_template

        link = absolute_url("inbox.inbox" if user.is_agent else "cases.my_cases")
        count = len(items)
        digest = Notification(
            user_id=user.id, kind=DIGEST_KIND, delivery="immediate", link=link,
            subject=(f"Atelier des projets : votre récapitulatif du {today.strftime('%d/%m/%Y')} "
                     f"({count} notification{'s' if count > 1 else ''})"),
            body=render_template("notifications/email/digest.txt", user=user, items=items, link=link,
                                 today=today))
        db.session.add(digest)
        db.session.flush()
        db.session.execute(update(Notification).where(Notification.id.in_(ids))
                           .values(status="digested", digest_id=digest.id, sent_at=utcnow()))
        made += 1
    db.session.flush()
    return made


# --------------------------------------------------------------------------- messages with a file

def post_message(actor: User, case: Case, *, body: str, internal: bool = False,
                 attachment=None) -> Message:
    """``ops.post_message``, then the attached file (if any) in the same transaction: checked by
    content like the supporting documents (allow-list, size limit, quotas), stored with a random name."""
    message = case_operations.post_message(actor, case, body=body, internal=internal)
    if attachment is not None and getattr(attachment, "filename", None):
        add_attachment(actor, message, attachment)
    return message


def add_attachment(actor: User, message: Message, file_storage) -> MessageAttachment:
    upload = documents.accept_upload(actor, message.case, file_storage, field="attachment")
    attachment = MessageAttachment(message_id=message.id, filename=upload.filename,
                                   stored_name=upload.stored_name, content_type=upload.file_type.content_type,
                                   size_bytes=upload.size_bytes, uploaded_by_id=actor.id)
    db.session.add(attachment)
    db.session.flush()
    return attachment


def attachments_by_message(message_ids) -> dict[int, list[MessageAttachment]]:
    """The files of these messages, in one query (one even without messages: a page issues the
    same number of queries whatever it shows)."""
    ids = sorted(set(message_ids))
    found = defaultdict(list)
    for row in db.session.scalars(select(MessageAttachment).where(MessageAttachment.message_id.in_(ids))
                                  .order_by(MessageAttachment.id)):
        found[row.message_id].append(row)
    return found
