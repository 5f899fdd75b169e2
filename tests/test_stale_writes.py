"""Two people act on the same line or case from the same page: one wins, the other is told to reload.

"Loading the page" is rendering the dossier's action forms for each person and reading the hidden
``version`` of the form they are about to send.
"""
import re

import pytest
from flask import g, render_template
from flask_login import login_user
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from atelier.cases import actions as case_actions
from atelier.cases import operations as ops
from atelier.cases.actions import available_actions
from atelier.extensions import db
from atelier.models import AgendaItem, Event, FundingLine

from conftest import login as _login

MEANWHILE = "modifié entre-temps"


def login(client, user) -> None:
    _login(client, user)
    g.pop("_login_user", None)  # Flask-Login keeps the previous request's user in g


def take_flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


def count_events(case, name=None) -> int:
    query = select(func.count(Event.id)).where(Event.case_id == case.id)
    if name:
        query = query.where(Event.name == name)
    return db.session.scalar(query)


def version_on_page(app, user, case, action_url: str) -> str:
    """The hidden version of the form that posts to ``action_url``, as ``user`` sees the page now."""
    with app.test_request_context():
        login_user(user)
        html = render_template("cases/_actions.html", case=case, actions=available_actions(user, case))
    form = html[html.index(f'action="{action_url}"'):]
    form = form[:form.index("</form>")]
    return re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)


@pytest.fixture
def second_region_agent(world, create_user):
    agent = create_user("agent", agency=world.region)
    db.session.commit()
    return agent


def test_two_agents_propose_the_same_line(app, client, world, create_case, second_region_agent):
    case = create_case("in_review")
    line = case.lines[0]
    url = f"/dossiers/{case.reference}/demandes/{line.id}/actions/propose"
    first_seen = version_on_page(app, world.region_agent, case, url)
    second_seen = version_on_page(app, second_region_agent, case, url)
    assert first_seen == second_seen == str(line.version)

    login(client, world.region_agent)
    response = client.post(url, data={"version": first_seen, "meeting_id": world.region_meeting.id,
                                      "proposed_amount": "50000"})
    assert response.status_code == 303
    assert [category for category, _ in take_flashes(client)] == ["success"]

    login(client, second_region_agent)
    response = client.post(url, data={"version": second_seen, "meeting_id": world.region_meeting.id,
                                      "proposed_amount": "40000"})
    assert response.status_code == 303
    flashes = take_flashes(client)
    assert [category for category, _ in flashes] == ["error"] and MEANWHILE in flashes[0][1]

    assert line.state == "on_agenda" and line.proposed_amount == 50000
    assert count_events(case, "propose") == 1
    assert db.session.scalar(select(func.count(AgendaItem.id)).where(AgendaItem.line_id == line.id)) == 1


def test_a_transfer_and_a_proposal_on_the_same_line(app, client, world, create_case, create_user):
    case = create_case("in_review")
    line = case.lines[1]  # Bpifrance's
    colleague = create_user("agent", agency=world.bpi)
    db.session.commit()
    transfer_url = f"/dossiers/{case.reference}/demandes/{line.id}/actions/transfer"
    propose_url = f"/dossiers/{case.reference}/demandes/{line.id}/actions/propose"
    transfer_seen = version_on_page(app, world.bpi_agent, case, transfer_url)
    propose_seen = version_on_page(app, colleague, case, propose_url)

    login(client, world.bpi_agent)
    client.post(transfer_url, data={"version": transfer_seen, "agency_id": world.aer.id,
                                    "reason": "Relève de l'AER"})
    assert take_flashes(client)[0][0] == "success"

    login(client, colleague)
    client.post(propose_url, data={"version": propose_seen, "meeting_id": world.bpi_meeting.id,
                                   "proposed_amount": "30000"})
    flashes = take_flashes(client)
    assert len(flashes) == 1 and flashes[0][0] == "error" and MEANWHILE in flashes[0][1]

    assert line.agency_id == world.aer.id and line.state == "under_review"
    assert count_events(case, "transfer") == 1 and count_events(case, "propose") == 0


def test_two_agents_act_on_the_same_case(app, client, world, create_case, second_region_agent):
    case = create_case("submitted")
    seen = version_on_page(app, world.region_agent, case, f"/dossiers/{case.reference}/actions/accept")
    assert seen == version_on_page(app, second_region_agent, case,
                                   f"/dossiers/{case.reference}/actions/request_info")
    login(client, world.region_agent)
    client.post(f"/dossiers/{case.reference}/actions/accept", data={"version": seen})
    assert take_flashes(client)[0][0] == "success"
    before = count_events(case)

    login(client, second_region_agent)
    client.post(f"/dossiers/{case.reference}/actions/request_info",
                data={"version": seen, "message": "Il manque le Kbis."})
    flashes = take_flashes(client)
    assert flashes[0][0] == "error" and MEANWHILE in flashes[0][1]
    assert case.state == "in_review" and count_events(case) == before


def test_truly_simultaneous_writes_one_wins(client, world, create_case, monkeypatch):
    """Both requests pass the version check; the other one commits first: the flush finds it (no lost
    update), the whole request is rolled back and the person is told to reload."""
    case = create_case("in_review")
    line = case.lines[0]
    seen = line.version
    real_propose = ops.propose_line

    def propose_while_another_commits(*args, **kwargs):
        with Session(db.engine) as other:  # another request, its own transaction
            other.execute(update(FundingLine).where(FundingLine.id == line.id)
                          .values(version=FundingLine.version + 1))
            other.commit()
        return real_propose(*args, **kwargs)

    monkeypatch.setattr(case_actions.ops, "propose_line", propose_while_another_commits)
    before = count_events(case)
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/demandes/{line.id}/actions/propose",
                           data={"version": seen, "meeting_id": world.region_meeting.id,
                                 "proposed_amount": "50000"})
    assert response.status_code == 303
    flashes = take_flashes(client)
    assert flashes[0][0] == "error" and MEANWHILE in flashes[0][1]
    db.session.expire_all()
    assert line.state == "under_review" and line.version == seen + 1
    assert count_events(case) == before
    assert db.session.scalar(select(func.count(AgendaItem.id))) == 0
