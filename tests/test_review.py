"""Findings of the code review of issue 2, each pinned by a test that failed before its fix."""
from decimal import Decimal

from atelier.cases import operations as ops
from atelier.extensions import db
from tests.conftest import login


# --------------------------------------------------------------------------- who sees what

def test_a_line_added_while_incomplete_is_seen_by_its_agency_once_resubmitted(client, world, create_case):
    case = create_case("in_review")  # Région and Bpifrance lines
    ops.request_info(world.region_agent, case, message="Ajoutez le cofinancement de l'AER.")
    ops.add_line(world.applicant, case, scheme=world.aer_scheme, requested_amount="10000")
    ops.resubmit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    db.session.commit()

    login(client, world.aer_agent)
    assert client.get(f"/dossiers/{case.reference}").status_code == 200
    inbox = client.get("/organisme/?section=en-instruction").get_data(as_text=True)
    assert case.reference in inbox
