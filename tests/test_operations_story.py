"""The whole chain of the first issue, through the operations (the HTTP version is in test_story_http.py)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import CaseAgency, Event, MinimisAid


def test_two_agencies_transfer_opinion_decisions_payment_and_close(world, create_case, runner):
    case = create_case("draft")
    assert case.reference.startswith(f"AP-{paris_today().year}-")
    ops.submit_case(world.applicant, case)
    assert case.state == "submitted"
    assert case.lead_agency_id == world.region.id  # 60 000 € > 40 000 €
    ops.accept_case(world.region_agent, case)
    assert case.state == "in_review"
    assert [line.state for line in case.lines] == ["under_review", "under_review"]
    region_line, bpi_line = case.lines

    # Bpifrance hands its line over to AER BFC, with AER's scheme
    ops.transfer_line(world.bpi_agent, bpi_line, agency=world.aer, scheme=world.aer_scheme,
                      reason="Relève de l'avance remboursable")
    assert bpi_line.agency_id == world.aer.id and bpi_line.scheme_id == world.aer_scheme.id
    agencies = set(db.session.scalars(select(CaseAgency.agency_id).where(CaseAgency.case_id == case.id)))
    assert agencies == {world.region.id, world.bpi.id, world.aer.id}  # Bpifrance keeps read access

    opinion = ops.ask_opinion(world.region_agent, region_line, agency=world.aer,
                              due_on=paris_today() + timedelta(days=10), question="Cofinancez-vous ?")
    ops.give_opinion(world.aer_agent, opinion, verdict="favourable", intended_amount="30000",
                     comment="Projet solide.")
    assert opinion.verdict == "favourable"

    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="50000")
    ops.propose_line(world.aer_agent, bpi_line, meeting=world.aer_meeting, proposed_amount="30000")
    ops.approve_line(world.region_secretary, region_line, granted_amount="50000")
    ops.reject_line(world.aer_secretary, bpi_line, reason="Fonds propres insuffisants")
    assert case.state == "in_review"
    assert db.session.scalar(select(MinimisAid.amount).where(MinimisAid.line_id == region_line.id)) == 50000

    ops.sign_agreement(world.region_agent, region_line, signed_on=paris_today())
    ops.record_payment(world.region_agent, region_line, amount="20000", paid_on=paris_today())
    with pytest.raises(ActionRefused):
        ops.record_payment(world.region_agent, region_line, amount="30000.01", paid_on=paris_today())
    ops.settle_line(world.region_agent, region_line)
    assert region_line.released_amount == Decimal("30000.00")
    assert case.state == "closed" and case.closed_at is not None
    db.session.commit()

    names = [event.name for event in db.session.scalars(
        select(Event).where(Event.case_id == case.id).order_by(Event.id))]
    assert names == ["create", "submit", "accept", "start_review", "start_review", "transfer",
                     "ask_opinion", "give_opinion", "propose", "propose", "approve", "reject",
                     "sign_agreement", "record_payment", "settle", "close"]
    db.session.commit()
    audit = runner.invoke(args=["verify-audit"])
    assert audit.exit_code == 0, audit.output
