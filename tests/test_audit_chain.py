"""Tamper-evident audit trail: each dossier's events form a hash chain that `verify-audit` checks."""
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from atelier import create_app
from atelier.audit import GENESIS, AuditChainHead, chain_hash, verify_chains
from atelier.cases import operations as ops
from atelier.common import utcnow
from atelier.extensions import db
from atelier.models import Event

from tampering import rewriting_history


def events_of(case) -> list[Event]:
    db.session.expire_all()
    return list(db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id)))


def content(event: Event) -> dict:
    return {field: getattr(event, field) for field in ("case_id", "line_id", "actor_id", "agency_id", "entity",
                                                        "name", "from_state", "to_state", "reason", "data",
                                                        "created_at")}


def assert_chained(case) -> list[Event]:
    events = events_of(case)
    assert events
    previous = GENESIS
    for event in events:
        assert event.previous_hash == previous
        assert event.hash == chain_hash(content(event), previous)
        previous = event.hash
    head = db.session.get(AuditChainHead, case.id)
    assert (head.last_hash, head.event_count) == (previous, len(events))
    return events


def test_every_event_of_a_dossier_is_chained_to_the_previous_one(world, create_case):
    case = create_case("in_review")
    events = assert_chained(case)
    assert len(events) >= 2
    assert len({event.hash for event in events}) == len(events)
    other = create_case("submitted")  # another dossier starts its own chain
    assert assert_chained(other)[0].previous_hash == GENESIS
    assert verify_chains() == []


def test_events_written_in_one_flush_are_chained_in_creation_order(world, create_case):
    case = create_case("submitted")
    lead = world.region_agent
    ops.request_info(lead, case, message="Merci de joindre le Kbis.")
    ops.record_event(case, lead, "case", "note", reason="Deuxième dans le même flush")
    db.session.flush()
    db.session.commit()
    events = assert_chained(case)
    assert [e.reason for e in events[-1:]] == ["Deuxième dans le même flush"]


def test_a_changed_event_hashes_differently():
    when = utcnow()
    base = {"case_id": 1, "line_id": None, "actor_id": 2, "agency_id": None, "entity": "case", "name": "submit",
            "from_state": "draft", "to_state": "submitted", "reason": None, "data": {"a": 1}, "created_at": when}
    digest = chain_hash(base, GENESIS)
    assert len(digest) == 64
    assert chain_hash(dict(base), GENESIS) == digest
    assert chain_hash({**base, "data": {"a": 2}}, GENESIS) != digest
    assert chain_hash({**base, "created_at": when + timedelta(microseconds=1)}, GENESIS) != digest
    assert chain_hash(base, "1" * 64) != digest


def test_the_chain_cannot_fork(world, create_case):
    """Two events after the same one (two writers who both read the same last event) are refused."""
    case = create_case("submitted")
    last = events_of(case)[-1]
    with pytest.raises(IntegrityError):
        db.session.execute(Event.__table__.insert().values(
            case_id=case.id, entity="case", name="fork", data={}, created_at=utcnow(),
            previous_hash=last.previous_hash, hash="f" * 64))
        db.session.flush()
    db.session.rollback()


# --------------------------------------------------------------------------- verify-audit

def test_verify_audit_on_an_intact_history(runner, world, create_case):
    create_case("in_review")
    create_case("dismissed")
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output
    assert "Historique intact" in result.output


def _run_verify(runner):
    result = runner.invoke(args=["verify-audit"])
    return result.exit_code, result.output


def test_an_event_edited_by_hand_is_reported(runner, world, create_case):
    intact = create_case("in_review")
    case = create_case("dismissed")
    target = events_of(case)[1]
    with rewriting_history() as connection:
        connection.execute(text("UPDATE events SET reason = 'Tout va bien' WHERE id = :id"), {"id": target.id})
    db.session.commit()
    code, output = _run_verify(runner)
    assert code == 1
    assert f"Dossier {case.reference}" in output
    assert f"l'événement n° {target.id}" in output and "a été modifié" in output
    assert intact.reference not in output


def test_an_edited_state_or_date_is_reported_too(runner, world, create_case):
    case = create_case("dismissed")
    first, last = events_of(case)[0], events_of(case)[-1]
    with rewriting_history() as connection:
        connection.execute(text("UPDATE events SET to_state = 'in_review' WHERE id = :id"), {"id": last.id})
        connection.execute(text("UPDATE events SET actor_id = NULL WHERE id = :id"), {"id": first.id})
    db.session.commit()
    [broken] = verify_chains()
    assert broken.reference == case.reference
    assert len([p for p in broken.problems if "a été modifié" in p]) == 2


def test_an_event_deleted_in_the_middle_is_reported(runner, world, create_case):
    case = create_case("dismissed")
    events = events_of(case)
    assert len(events) >= 3
    with rewriting_history() as connection:
        connection.execute(text("DELETE FROM events WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    code, output = _run_verify(runner)
    assert code == 1
    assert f"Dossier {case.reference}" in output
    assert f"avant l'événement n° {events[2].id}" in output and "supprimés" in output


def test_the_last_event_deleted_is_reported(runner, world, create_case):
    case = create_case("dismissed")
    last = events_of(case)[-1]
    with rewriting_history() as connection:
        connection.execute(text("DELETE FROM events WHERE id = :id"), {"id": last.id})
    db.session.commit()
    code, output = _run_verify(runner)
    assert code == 1 and f"Dossier {case.reference}" in output and "les derniers" in output


def test_all_events_deleted_is_reported(runner, world, create_case):
    case = create_case("submitted")
    with rewriting_history() as connection:
        connection.execute(text("DELETE FROM events WHERE case_id = :id"), {"id": case.id})
    db.session.commit()
    code, output = _run_verify(runner)
    assert code == 1 and "ont tous été supprimés" in output


def test_a_rewritten_hash_without_its_successor_is_reported(runner, world, create_case):
    """Recomputing one event's hash after editing it breaks the link to the next event."""
    case = create_case("dismissed")
    events = events_of(case)
    target = events[0]
    forged = content(target) | {"reason": "Falsifié"}
    with rewriting_history() as connection:
        connection.execute(text("UPDATE events SET reason = 'Falsifié', hash = :hash WHERE id = :id"),
                           {"id": target.id, "hash": chain_hash(forged, target.previous_hash)})
    db.session.commit()
    [broken] = verify_chains()
    assert any(f"avant l'événement n° {events[1].id}" in p for p in broken.problems)


# --------------------------------------------------------------------------- migration of existing events

def test_the_migration_chains_the_events_that_already_exist(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "clé", "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}",
                      "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        upgrade(revision="0005")
        now = "2025-03-01 10:00:00.000000"
        with db.engine.begin() as connection:
            for case_id in (1, 2):
                connection.execute(text(
                    "INSERT INTO cases (id, reference, company_id, created_by_id, title, description, state, "
                    "minimis_declared, paused_seconds, created_at, updated_at, version) VALUES "
                    f"({case_id}, 'AP-2025-0000{case_id}', 1, 1, 'Projet', '', 'submitted', 0, 0, :now, :now, 1)"),
                    {"now": now})
            for event_id, case_id, name in [(1, 1, "create"), (2, 2, "create"), (3, 1, "submit"), (4, 1, "note")]:
                connection.execute(text(
                    "INSERT INTO events (id, case_id, actor_id, entity, name, data, created_at) VALUES "
                    "(:id, :case_id, 1, 'case', :name, '{\"k\": \"é\"}', :now)"),
                    {"id": event_id, "case_id": case_id, "name": name, "now": now})
        upgrade()
        assert verify_chains() == []
        rows = db.session.execute(text("SELECT id, previous_hash, hash FROM events ORDER BY id")).all()
        by_id = {row.id: row for row in rows}
        assert by_id[1].previous_hash == GENESIS and by_id[2].previous_hash == GENESIS
        assert by_id[3].previous_hash == by_id[1].hash and by_id[4].previous_hash == by_id[3].hash
        heads = dict(db.session.execute(text("SELECT case_id, event_count FROM audit_chain_heads")).all())
        assert heads == {1: 3, 2: 1}
        with rewriting_history() as connection:
            connection.execute(text("UPDATE events SET name = 'autre' WHERE id = 3"))
        db.session.commit()
        assert [b.reference for b in verify_chains()] == ["AP-2025-00001"]
        db.session.remove()
        downgrade(revision="0005")
        columns = {row[1] for row in db.session.execute(text("PRAGMA table_info(events)"))}
        assert "hash" not in columns and "previous_hash" not in columns
        db.session.remove()
        db.engine.dispose()
