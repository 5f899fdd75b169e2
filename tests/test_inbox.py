"""The agency inbox: its sections, filters, pagination, scope, and a fixed number of queries."""
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import event

from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today

from conftest import login as _login


def login(client, user) -> None:
    _login(client, user)
    g.pop("_login_user", None)  # Flask-Login keeps the previous request's user in g


def page(client, **params):
    response = client.get("/organisme/", query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------- who may open it

def test_only_agents_see_an_inbox(client, world):
    assert client.get("/organisme/").status_code == 302  # to the login page
    for user in (world.applicant, world.admin):
        login(client, user)
        assert client.get("/organisme/").status_code == 404
    login(client, world.region_agent)
    html = page(client)
    assert "<h1>Corbeille de Région Bourgogne-Franche-Comté</h1>" in html
    assert "Aucun dossier déposé n&#39;attend votre organisme." in html


# --------------------------------------------------------------------------- sections

def test_cases_to_check_are_those_my_agency_leads(client, world, create_case):
    submitted = create_case("submitted")  # Region leads (60 000 € > 40 000 €)
    incomplete = create_case("incomplete")
    accepted = create_case("in_review")
    draft = create_case("draft")
    login(client, world.region_agent)
    html = page(client, section="a-verifier")
    assert submitted.reference in html and incomplete.reference in html
    assert "en attente du demandeur" in html
    assert accepted.reference not in html and draft.reference not in html
    assert "Dossiers à vérifier <span class=\"count\">(2)</span>" in html

    login(client, world.bpi_agent)  # holds a line, does not lead
    html = page(client, section="a-verifier")
    assert submitted.reference not in html and incomplete.reference not in html


def test_lines_under_review_on_agenda_and_decided(client, world, create_case):
    reviewed = create_case("in_review")
    proposed = create_case("in_review")
    ops.propose_line(world.region_agent, proposed.lines[0], meeting=world.region_meeting,
                     proposed_amount="50000")
    decided = create_case("in_review")
    ops.propose_line(world.region_agent, decided.lines[0], meeting=world.region_meeting,
                     proposed_amount="50000")
    ops.approve_line(world.region_secretary, decided.lines[0], granted_amount="40000")
    db.session.commit()

    login(client, world.region_agent)
    html = page(client, section="en-instruction")
    assert reviewed.reference in html and proposed.reference not in html and decided.reference not in html
    html = page(client, section="en-comite")
    assert proposed.reference in html and reviewed.reference not in html
    assert "séance du" in html
    html = page(client, section="decidees")
    assert decided.reference in html and "convention à signer" in html
    assert "40\u202f000,00" in html

    login(client, world.bpi_agent)  # Bpifrance's lines of the same cases are its own business
    html = page(client, section="en-instruction")
    assert reviewed.reference in html and proposed.reference in html and decided.reference in html
    assert "Prêt d&#39;amorçage" in html


def test_opinions_asked_of_my_agency_overdue_in_words(client, world, create_case):
    case = create_case("in_review")
    late = ops.ask_opinion(world.region_agent, case.lines[0], agency=world.aer,
                           due_on=paris_today() + timedelta(days=1), question="Cofinancement ?")
    other = create_case("in_review")
    ops.ask_opinion(world.region_agent, other.lines[0], agency=world.aer,
                    due_on=paris_today() + timedelta(days=20))
    answered = create_case("in_review")
    done = ops.ask_opinion(world.region_agent, answered.lines[0], agency=world.aer,
                           due_on=paris_today() + timedelta(days=5))
    ops.give_opinion(world.aer_agent, done, verdict="favourable")
    db.session.commit()
    late.due_on = paris_today() - timedelta(days=3)
    db.session.commit()

    login(client, world.aer_agent)
    html = page(client, section="avis")
    assert case.reference in html and other.reference in html and answered.reference not in html
    assert html.count(">En retard</strong>") == 1 and "Dans les délais" in html
    assert "Cofinancement ?" in html
    html = page(client, section="avis", state="overdue")
    assert case.reference in html and other.reference not in html
    html = page(client, section="avis", state="waiting")
    assert other.reference in html and case.reference not in html

    login(client, world.region_agent)  # the asker has no opinion to give
    assert case.reference not in page(client, section="avis")
    html = page(client, section="en-instruction")  # ...but sees that one is late on its line
    assert "1 en retard" in html


# --------------------------------------------------------------------------- filters and pages

def test_filters_by_state_and_scheme(client, world, create_case, create_scheme):
    submitted = create_case("submitted")
    incomplete = create_case("incomplete")
    other_scheme = create_scheme(world.region, committee=world.region_committee, name="Aide export")
    export = create_case("submitted", lines=[(other_scheme, "80000"), (world.bpi_scheme, "10000")])
    login(client, world.region_agent)
    html = page(client, section="a-verifier", state="incomplete")
    assert incomplete.reference in html and submitted.reference not in html
    assert '<label for="filtre-etat">État</label>' in html
    assert '<label for="filtre-dispositif">Dispositif</label>' in html
    assert '<option value="incomplete" selected>' in html
    html = page(client, section="a-verifier", scheme=other_scheme.id)
    assert export.reference in html and submitted.reference not in html and incomplete.reference not in html
    assert "Aucun résultat pour ces filtres." in page(client, section="a-verifier", state="incomplete",
                                                     scheme=other_scheme.id)


@pytest.mark.parametrize("params", [
    {"section": "n-importe-quoi"}, {"state": "exploded"}, {"scheme": "abc"}, {"page": "-4"},
    {"page": "x"}, {"page": "999"}, {"section": "avis", "state": "submitted"}, {"scheme": "99999999"},
])
def test_odd_parameters_never_give_a_500(client, world, create_case, params):
    create_case("submitted")
    login(client, world.region_agent)
    page(client, **params)


def test_pagination_keeps_the_filters(app, client, world, create_case, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    cases = [create_case("submitted") for _ in range(5)]
    login(client, world.region_agent)
    first = page(client, section="a-verifier", state="submitted")
    assert "Page 1 sur 3" in first
    assert "section=a-verifier" in first and "state=submitted" in first and "page=2" in first
    third = page(client, section="a-verifier", state="submitted", page=3)
    assert cases[4].reference in third and cases[0].reference not in third


# --------------------------------------------------------------------------- a fixed number of queries

def _fill(world, create_case, count: int) -> None:
    """``count`` dossiers spread over every section of the Region's inbox, through the operations."""
    for number in range(count):
        kind = number % 5
        case = create_case("incomplete" if kind == 1 else "submitted" if kind == 0 else "in_review")
        line = case.lines[0]
        if kind in (3, 4):
            ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
        if kind == 4:
            ops.approve_line(world.region_secretary, line, granted_amount="1000")
            ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
            ops.record_payment(world.region_agent, line, amount="500", paid_on=paris_today())
        if kind == 2:
            ops.ask_opinion(world.bpi_agent, case.lines[1], agency=world.region,
                            due_on=paris_today() + timedelta(days=number % 3))
            ops.ask_opinion(world.region_agent, line, agency=world.aer, due_on=paris_today())
    db.session.commit()


SECTIONS = ["a-verifier", "en-instruction", "en-comite", "avis", "decidees"]


def _statements_per_section(app, client) -> dict[str, int]:
    counted = {}
    for section in SECTIONS:
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        db.session.expire_all()  # as in a fresh request: nothing already loaded
        g.pop("_login_user", None)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            html = page(client, section=section)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert "Aucun" not in html.split("<h2>", 1)[1][:400]  # the section has rows
        counted[section] = len(statements)
    return counted


def test_same_number_of_queries_for_10_and_200_dossiers(app, client, world, create_case):
    _fill(world, create_case, 10)
    login(client, world.region_agent)
    small = _statements_per_section(app, client)
    _fill(world, create_case, 190)
    large = _statements_per_section(app, client)
    assert large == small
    assert max(small.values()) <= 13  # with the grouped envelope figures of the agency's schemes
