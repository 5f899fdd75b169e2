"""Findings of the code review of issue 2, each pinned by a test that failed before its fix."""
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from atelier.cases import operations as ops
from atelier.extensions import db
from tests.conftest import login


@contextmanager
def statements():
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


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


@pytest.mark.parametrize("reference", ["AP-2026-0000%00", "AP-2026-00001%00", "x" * 300, "AP-2026-１２３４５"])
def test_a_malformed_reference_is_a_404_without_asking_the_database(client, world, reference):
    """PostgreSQL refuses a NUL byte in a parameter: such a URL gave a 500 there."""
    login(client, world.region_agent)
    with statements() as seen:
        assert client.get(f"/dossiers/{reference}").status_code == 404
        assert client.post(f"/dossiers/{reference}/messages", data={"body": "x"}).status_code == 404
    assert not [statement for statement in seen if "FROM cases" in statement]
