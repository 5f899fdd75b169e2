"""Tamper-evident audit trail: the events of each dossier form a hash chain.

Each event stores ``previous_hash`` (the ``hash`` of the event before it in the same dossier, or
``GENESIS`` for the first one) and ``hash`` = sha256 of a canonical JSON of its own content plus
``previous_hash``. Editing an event by hand changes what its hash should be; deleting one leaves
its successor pointing to nothing; deleting the last ones is seen against ``audit_chain_heads``,
which keeps the hash and the number of events of each dossier's chain.

The hashes are computed in a ``before_insert`` listener, whatever operation records the event:
at that point the ids of a dossier or a line created in the same flush are known (in
``before_flush`` they are not yet). Within one flush the events are inserted in creation order, so
"the previous event" is the previous new one of the same dossier, else the last one in the database.
Two writers appending to one dossier are serialised by the dossier's version (every event touches
its case); if they were not, the unique constraint on (case_id, previous_hash) refuses the second
one rather than letting the chain fork.

The trail is append-only: the ORM refuses to flush a change to a recorded event or its deletion,
and any bulk ``update(Event)`` / ``delete(Event)`` sent through a session; the database refuses
UPDATE and DELETE on ``events`` as well (triggers of migration 0009), for whatever else connects
to it. So an operation computes everything its event carries before creating it
(``cases/operations.py``): a value written after an autoflush would be refused, not silently left
out of the hash.

Limit: this detects edits made by hand or by a program that does not know the rule. Someone who
can write to the database and recomputes every hash of a chain is not detected: keep backups
(``flask backup``) elsewhere to compare with.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import ForeignKey, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from .cases.models import Case, Event
from .extensions import db

GENESIS = "0" * 64  # the previous_hash of a dossier's first event
HASHED_FIELDS = ("case_id", "line_id", "actor_id", "agency_id", "entity", "name", "from_state",
                 "to_state", "reason", "data", "created_at")


class AuditChainHead(db.Model):
    """The end of each dossier's chain: the last event's hash and the number of events."""

    __tablename__ = "audit_chain_heads"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    last_hash: Mapped[str] = mapped_column(String(64))
    event_count: Mapped[int]


def _canonical_time(value) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite read without the column type: stored in UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(content: dict, previous_hash: str) -> str:
    """sha256 of the event's fields (``HASHED_FIELDS``) and the previous hash, as canonical JSON."""
    payload = {field: content.get(field) for field in HASHED_FIELDS}
    payload["created_at"] = _canonical_time(payload["created_at"])
    payload["previous_hash"] = previous_hash
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content_of(event_row: Event) -> dict:
    return {field: getattr(event_row, field) for field in HASHED_FIELDS}


# --------------------------------------------------------------------------- writing

def _last_hashes(session: Session) -> dict[int, str]:
    """The hash of the last event of each dossier written in this flush (case id → hash)."""
    return session.info.setdefault("atelier_audit_last", {})


@event.listens_for(Session, "before_flush")
def _forget_previous_flush(session, flush_context, instances) -> None:
    session.info.pop("atelier_audit_last", None)


@event.listens_for(Event, "before_insert")
def _chain_new_event(mapper, connection, target: Event) -> None:
    from .common import utcnow

    if target.created_at is None:
        target.created_at = utcnow()
    if target.data is None:
        target.data = {}
    session = object_session(target)
    last = _last_hashes(session)
    previous = last.get(target.case_id)
    if previous is None:
        previous = connection.execute(
            select(Event.hash).where(Event.case_id == target.case_id)
            .order_by(Event.id.desc()).limit(1)).scalar() or GENESIS
    target.previous_hash = previous
    target.hash = chain_hash(_content_of(target), previous)
    last[target.case_id] = target.hash


@event.listens_for(Session, "after_flush")
def _move_chain_heads(session, flush_context) -> None:
    new_events = sorted((obj for obj in session.new if isinstance(obj, Event)), key=lambda e: e.id)
    if not new_events:
        return
    heads: dict[int, tuple[str, int]] = {}
    for new_event in new_events:
        _, count = heads.get(new_event.case_id, ("", 0))
        heads[new_event.case_id] = (new_event.hash, count + 1)
    connection = session.connection()
    table = AuditChainHead.__table__
    for case_id, (last_hash, count) in heads.items():
        moved = connection.execute(
            update(table).where(table.c.case_id == case_id)
            .values(last_hash=last_hash, event_count=table.c.event_count + count))
        if moved.rowcount == 0:
            connection.execute(table.insert().values(case_id=case_id, last_hash=last_hash,
                                                     event_count=count))
    session.info.pop("atelier_audit_last", None)


# --------------------------------------------------------------------------- append-only

class EventsAreAppendOnly(RuntimeError):
    """A program tried to change or delete a recorded event: a bug, never a user's mistake."""


def _refuse(what: str, target: Event | None = None) -> None:
    which = f" (événement n° {target.id})" if target is not None and target.id is not None else ""
    raise EventsAreAppendOnly(f"L'historique des dossiers est en ajout seul : un événement enregistré ne "
                              f"peut pas être {what}{which}. Calculez ce qu'il porte avant de le créer.")


@event.listens_for(Event, "before_update")
def _refuse_update(mapper, connection, target: Event) -> None:
    if object_session(target).is_modified(target, include_collections=False):
        _refuse("modifié", target)


@event.listens_for(Event, "before_delete")
def _refuse_delete(mapper, connection, target: Event) -> None:
    _refuse("supprimé", target)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_statements(orm_execute_state) -> None:
    """``session.execute(update(Event)…)`` or ``delete(Event)`` (ORM or table) never reaches the flush."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if getattr(table, "name", None) == Event.__tablename__:
        _refuse("modifié" if orm_execute_state.is_update else "supprimé")


# --------------------------------------------------------------------------- checking

@dataclass(frozen=True)
class BrokenChain:
    case_id: int
    reference: str
    problems: tuple[str, ...]


def _check_one(rows: list, head) -> list[str]:
    problems = []
    expected_previous = GENESIS
    for row in rows:
        if row.previous_hash != expected_previous:
            problems.append(f"avant l'événement n° {row.id} ({row.entity} {row.name}), un ou plusieurs "
                            "événements ont été supprimés ou déplacés")
        if row.hash != chain_hash(row._mapping, row.previous_hash):
            problems.append(f"l'événement n° {row.id} ({row.entity} {row.name}) a été modifié")
        expected_previous = row.hash
    if head is None:
        if rows:
            problems.append("la fin de la chaîne n'est pas enregistrée (table audit_chain_heads modifiée)")
    elif not rows:
        problems.append(f"ses {head.event_count} événements ont tous été supprimés")
    elif head.last_hash != rows[-1].hash or head.event_count != len(rows):
        problems.append(f"{head.event_count} événements attendus, {len(rows)} trouvés : les derniers "
                        "ont été supprimés ou modifiés")
    return problems


def verify_chains() -> list[BrokenChain]:
    """Every dossier whose chain is broken, with what is wrong, in French."""
    heads = {head.case_id: head for head in db.session.execute(select(AuditChainHead.__table__))}
    references = dict(db.session.execute(select(Case.id, Case.reference)).all())
    columns = [Event.id, *(getattr(Event, field) for field in HASHED_FIELDS), Event.previous_hash,
               Event.hash]
    query = select(*columns).order_by(Event.case_id, Event.id).execution_options(yield_per=2000)
    broken: list[BrokenChain] = []
    seen: set[int] = set()

    def close(case_id, rows):
        seen.add(case_id)
        problems = _check_one(rows, heads.get(case_id))
        if problems:
            broken.append(BrokenChain(case_id, references.get(case_id, f"n° {case_id}"), tuple(problems)))

    current, rows = None, []
    for row in db.session.execute(query):
        if row.case_id != current:
            if current is not None:
                close(current, rows)
            current, rows = row.case_id, []
        rows.append(row)
    if current is not None:
        close(current, rows)
    for case_id in sorted(set(heads) - seen):
        if case_id in references:
            close(case_id, [])
    return broken
