"""The audit trail is append-only: an event carries, from its creation, everything it will ever carry;
neither the application nor the database lets anyone change or delete it; and ``verify-audit``
finds every chain intact after the demo and after the life of a loan."""
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from werkzeug import security

from atelier.audit import BrokenChain, EventsAreAppendOnly, verify_chains
from atelier.auth import models as auth_models
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event


def verify_audit(runner) -> str:
    """The real command: exit code 0 and its all-clear message."""
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output
    assert "Historique intact" in result.output
    return result.output


def stored(event_id: int) -> Event:
    db.session.expire_all()
    return db.session.get(Event, event_id)


# --------------------------------------------------------------------------- events carry everything at birth

def test_the_demo_seed_leaves_every_history_intact(runner, monkeypatch):
    """The demo signs loan and advance agreements, whose schedule used to be written after the event."""
    original = security.generate_password_hash  # scrypt for each demo account would take seconds
    monkeypatch.setattr(auth_models, "generate_password_hash",
                        lambda password, method=None: original(password, method="pbkdf2:sha256:1000"))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Données de démonstration chargées." in result.output
    assert "Historique intact" in result.output  # the seed checks what it wrote
    verify_audit(runner)


def test_a_seed_that_breaks_a_chain_fails_loudly(runner, monkeypatch):
    monkeypatch.setattr(auth_models, "generate_password_hash", lambda password, method=None: "x")
    monkeypatch.setattr("atelier.audit.verify_chains",
                        lambda: [BrokenChain(1, "AP-2026-00001", ("l'événement n° 3 (line approve) a été modifié",))])
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "Dossier AP-2026-00001 : historique altéré" in result.output
    assert "l'événement n° 3 (line approve) a été modifié" in result.output


def test_the_life_of_a_loan_keeps_its_chain_intact(world, create_case, runner):
    """Signing (schedule), paying, repaying and settling with a write-off: each event's data is final
    when it is created, whatever the operation loads or autoflushes afterwards."""
    case = create_case("in_review")
    loan = case.lines[1]
    today = paris_today()
    ops.propose_line(world.bpi_agent, loan, meeting=world.bpi_meeting, proposed_amount="40000")
    ops.approve_line(world.bpi_secretary, loan, granted_amount="40000", gross_grant_equivalent="1000")
    db.session.commit()
    signed = ops.sign_agreement(world.bpi_agent, loan, signed_on=today, instalment_count="4",
                                frequency_months="3")
    db.session.commit()
    ops.record_payment(world.bpi_agent, loan, amount="40000", paid_on=today)
    repaid = ops.record_repayment(world.bpi_agent, loan, amount="10000", repaid_on=today)
    db.session.commit()
    settled = ops.settle_line(world.bpi_agent, loan, reason="Liquidation judiciaire de l'entreprise.")
    db.session.commit()
    assert stored(signed.id).data["instalment_count"] == 4
    assert stored(repaid.id).data["owed_after"] == "30000.00"
    assert stored(settled.id).data["written_off_amount"] == "30000.00"
    assert verify_chains() == []
    verify_audit(runner)


# --------------------------------------------------------------------------- the application refuses

def test_changing_a_recorded_event_is_refused_and_nothing_is_written(world, create_case):
    case = create_case("submitted")
    event = db.session.scalars(select(Event).where(Event.case_id == case.id, Event.name == "submit")).one()
    event.reason = "Réécrit après coup"
    with pytest.raises(EventsAreAppendOnly, match="ajout seul.*ne peut pas être modifié"):
        db.session.flush()
    db.session.rollback()
    assert stored(event.id).reason is None
    assert verify_chains() == []


def test_deleting_a_recorded_event_is_refused(world, create_case):
    case = create_case("submitted")
    event = db.session.scalars(select(Event).where(Event.case_id == case.id)).first()
    db.session.delete(event)
    with pytest.raises(EventsAreAppendOnly, match="ne peut pas être supprimé"):
        db.session.flush()
    db.session.rollback()
    assert stored(event.id) is not None
    assert verify_chains() == []


@pytest.mark.parametrize("statement", [
    lambda case_id: update(Event).where(Event.case_id == case_id).values(reason="Réécrit"),
    lambda case_id: delete(Event).where(Event.case_id == case_id),
    lambda case_id: update(Event.__table__).where(Event.__table__.c.case_id == case_id).values(reason="x"),
    lambda case_id: delete(Event.__table__).where(Event.__table__.c.case_id == case_id),
], ids=["orm-update", "orm-delete", "table-update", "table-delete"])
def test_bulk_statements_on_events_are_refused(world, create_case, statement):
    case = create_case("submitted")
    db.session.commit()
    with pytest.raises(EventsAreAppendOnly, match="ajout seul"):
        db.session.execute(statement(case.id))
    db.session.rollback()
    assert verify_chains() == []


def test_a_dossier_that_has_events_cannot_be_deleted(world, create_case):
    case = create_case("submitted")
    db.session.commit()
    db.session.delete(case)
    with pytest.raises((EventsAreAppendOnly, DBAPIError)):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Case, case.id) is not None
    assert verify_chains() == []


# --------------------------------------------------------------------------- the database refuses

@pytest.mark.parametrize("sql, word", [
    ("UPDATE events SET reason = 'Réécrit' WHERE case_id = :case_id", "modifié"),
    ("DELETE FROM events WHERE case_id = :case_id", "supprimé"),
])
def test_the_database_refuses_to_change_or_delete_an_event(world, create_case, sql, word):
    """Whatever program connects (here raw SQL, which the application's listeners do not see)."""
    case = create_case("submitted")
    db.session.commit()
    connection = db.session.connection()
    with pytest.raises(DBAPIError) as refused:
        connection.execute(text(sql), {"case_id": case.id})
    assert "ajout seul" in str(refused.value) and f"ne peut pas être {word}" in str(refused.value)
    db.session.rollback()
    assert verify_chains() == []
    count = db.session.scalar(text("SELECT count(*) FROM events WHERE case_id = :id"), {"id": case.id})
    assert count == len(case.events) >= 2

