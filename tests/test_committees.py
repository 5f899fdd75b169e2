"""Committee pages: the meetings of my agency, planning a meeting, the agenda and its decision forms."""
import re
from html import unescape
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from atelier.cases import operations as ops
from atelier.committees.operations import create_meeting
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Meeting

from conftest import login


@pytest.fixture
def put_on_agenda(world):
    """A case in review whose Region line (60 000 €) is proposed at 50 000 € to ``meeting``."""

    def factory(meeting=None, *, title="Nouvelle ligne de production", company=None, applicant=None):
        applicant = applicant or world.applicant
        case = ops.create_case(applicant, company or world.company, title=title,
                               description="Achat d'une machine.", starts_on=paris_today(),
                               eligible_cost="250000")
        ops.add_line(applicant, case, scheme=world.region_scheme, requested_amount="60000")
        ops.declare_no_minimis(applicant, case)
        ops.submit_case(applicant, case)
        ops.accept_case(world.region_agent, case)
        ops.propose_line(world.region_agent, case.lines[0], meeting=meeting or world.region_meeting,
                         proposed_amount="50000")
        db.session.commit()
        return case

    return factory


@contextmanager
def count_queries(app):
    """The statements run inside the block, by requests made in a fresh app context (own session)."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", record)


def html(response) -> str:
    """The page with its entities decoded (Jinja writes ' as &#39;)."""
    return unescape(response.get_data(as_text=True))


def meeting_url(meeting):
    return f"/comites/seances/{meeting.id}"


# --------------------------------------------------------------------------- the list of meetings

def test_meetings_lists_my_agency_committees_upcoming_first_then_past(client, world, create_meeting,
                                                                      put_on_agenda):
    later = create_meeting(world.region_committee, in_days=60, place="Besançon")
    past = create_meeting(world.region_committee, in_days=-30, place="Dijon, salle ancienne")
    older = create_meeting(world.region_committee, in_days=-90, place="Dijon, salle très ancienne")
    put_on_agenda()
    put_on_agenda()
    db.session.commit()
    login(client, world.region_agent)
    response = client.get("/comites/")
    assert response.status_code == 200
    page = html(response)
    assert world.region_committee.name in page
    assert world.bpi_committee.name not in page  # another agency's committee
    positions = [page.index(meeting_url(m) + '"') for m in (world.region_meeting, later, past, older)]
    assert positions == sorted(positions)  # upcoming soonest first, then past latest first
    assert page.index("Séances à venir") < positions[0] < positions[1] < page.index("Séances passées") \
        < positions[2]
    row = page[positions[0]:page.index("</tr>", positions[0])]
    assert re.findall(r'<td class="number">(\d+)</td>', row) == ["2", "2"]
    assert f"/comites/seances/{world.bpi_meeting.id}" not in page
    assert "Programmer une séance" not in page  # a plain agent does not plan meetings


def test_secretary_sees_how_to_plan_a_meeting(client, world):
    login(client, world.region_secretary)
    page = html(client.get("/comites/"))
    assert f"/comites/seances/nouvelle?comite={world.region_committee.id}" in page


@pytest.mark.parametrize("who", ["applicant", "admin"])
def test_committee_pages_are_for_agents_only(client, world, who):
    login(client, getattr(world, who))
    assert client.get("/comites/").status_code == 404
    assert client.get(meeting_url(world.region_meeting)).status_code == 404
    assert client.get("/comites/seances/nouvelle").status_code == 404


def test_anonymous_is_sent_to_the_login_page(client, world):
    response = client.get("/comites/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_meetings_page_queries_do_not_grow_with_meetings(app, client, world, create_meeting, put_on_agenda):
    put_on_agenda()
    for days in range(1, 31):  # a full page (the total is then counted)
        create_meeting(world.region_committee, in_days=-days)
    db.session.commit()
    login(client, world.region_agent)
    with count_queries(app) as few:
        assert client.get("/comites/").status_code == 200
    for days in range(1, 41):
        create_meeting(world.region_committee, in_days=days * 3 + 100)
        create_meeting(world.region_committee, in_days=-days * 3 - 100)
    db.session.commit()
    with count_queries(app) as many:
        assert client.get("/comites/").status_code == 200
    with count_queries(app) as later_page:
        assert client.get("/comites/?page=3").status_code == 200
    assert len(many) == len(few) == len(later_page)


# --------------------------------------------------------------------------- planning a meeting

def test_secretary_plans_a_meeting(client, world):
    login(client, world.region_secretary)
    form = client.get(f"/comites/seances/nouvelle?comite={world.region_committee.id}")
    assert form.status_code == 200
    assert f'<option selected value="{world.region_committee.id}">' in html(form)
    day = paris_today() + timedelta(days=30)
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.region_committee.id, "meets_on": day.isoformat(),
        "place": "Hôtel de Région, Dijon"})
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting).where(Meeting.meets_on == day))
    assert meeting.committee_id == world.region_committee.id and meeting.place == "Hôtel de Région, Dijon"
    assert response.headers["Location"].endswith(meeting_url(meeting))


def test_french_date_format_is_accepted(client, world):
    login(client, world.region_secretary)
    day = paris_today() + timedelta(days=40)
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.region_committee.id, "meets_on": day.strftime("%d/%m/%Y"), "place": ""})
    assert response.status_code == 302
    assert db.session.scalar(select(Meeting.id).where(Meeting.meets_on == day)) is not None


def test_a_plain_agent_cannot_plan_a_meeting(client, world):
    login(client, world.region_agent)
    day = paris_today() + timedelta(days=30)
    assert client.get("/comites/seances/nouvelle").status_code == 404
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.region_committee.id, "meets_on": day.isoformat()})
    assert response.status_code == 404
    assert db.session.scalar(select(Meeting.id).where(Meeting.meets_on == day)) is None
    with pytest.raises(ActionRefused, match="secrétaire"):
        create_meeting(world.region_agent, world.region_committee, day, "Dijon")


def test_a_committee_of_another_agency_is_not_found(client, world):
    login(client, world.region_secretary)
    day = paris_today() + timedelta(days=30)
    assert client.get(f"/comites/seances/nouvelle?comite={world.bpi_committee.id}").status_code == 404
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.bpi_committee.id, "meets_on": day.isoformat(), "place": "Paris"})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count(Meeting.id)).where(Meeting.meets_on == day)) == 0
    with pytest.raises(ActionRefused):
        create_meeting(world.region_secretary, world.bpi_committee, day, "Paris")


def test_a_past_date_is_refused_beside_the_field(client, world):
    login(client, world.region_secretary)
    yesterday = paris_today() - timedelta(days=1)
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.region_committee.id, "meets_on": yesterday.isoformat(), "place": "Dijon"})
    assert response.status_code == 422
    page = html(response)
    assert "La date de la séance ne peut pas être passée." in page
    assert 'id="meets_on-error"' in page and 'aria-describedby="meets_on-hint meets_on-error"' in page
    assert db.session.scalar(select(Meeting.id).where(Meeting.meets_on == yesterday)) is None


def test_today_is_not_past(world):
    meeting = create_meeting(world.region_secretary, world.region_committee, paris_today(), " Dijon ")
    assert meeting.place == "Dijon"


def test_two_meetings_of_one_committee_on_the_same_day_are_refused(client, world):
    login(client, world.region_secretary)
    response = client.post("/comites/seances/nouvelle", data={
        "committee": world.region_committee.id, "meets_on": world.region_meeting.meets_on.isoformat(),
        "place": "Dijon"})
    assert response.status_code == 422
    assert "Une séance de ce comité est déjà prévue le" in html(response)
    count = db.session.scalar(select(func.count(Meeting.id)).where(
        Meeting.committee_id == world.region_committee.id))
    assert count == 1
    # another committee may meet that day
    assert create_meeting(world.bpi_secretary, world.bpi_committee,
                          world.region_meeting.meets_on + timedelta(days=1), "Dijon") is not None


@pytest.mark.parametrize("data, message", [
    ({"committee": "", "meets_on": "2031-01-01"}, "Choisissez le comité."),
    ({"committee": "abc", "meets_on": "2031-01-01"}, "Choisissez le comité."),
    ({"committee": "REGION", "meets_on": ""}, "Indiquez la date de la séance."),
    ({"committee": "REGION", "meets_on": "31/02/2031"}, "Cette date n'est pas valide"),
    ({"committee": "REGION", "meets_on": "demain"}, "Cette date n'est pas valide"),
    ({"committee": "REGION", "meets_on": "2031-01-01", "place": "x" * 201}, "Le lieu ne peut pas dépasser"),
])
def test_wrong_input_gets_a_french_message_not_a_500(client, world, data, message):
    login(client, world.region_secretary)
    if data["committee"] == "REGION":
        data = {**data, "committee": world.region_committee.id}
    response = client.post("/comites/seances/nouvelle", data=data)
    assert response.status_code == 422
    page = html(response)
    assert message in page
    assert "Not a valid" not in page and "Invalid" not in page


# --------------------------------------------------------------------------- the agenda

def test_another_agency_meeting_is_not_found(client, world):
    login(client, world.region_secretary)
    assert client.get(meeting_url(world.bpi_meeting)).status_code == 404
    assert client.get("/comites/seances/999999").status_code == 404


def test_agenda_shows_the_proposed_items_as_presented(client, world, put_on_agenda):
    case = put_on_agenda()
    login(client, world.region_agent)
    response = client.get(meeting_url(world.region_meeting))
    assert response.status_code == 200
    page = html(response)
    assert f'<a href="/dossiers/{case.reference}">{case.reference}</a>' in page
    assert world.company.name in page and "Nouvelle ligne de production" in page
    assert "Aide à l'investissement" in page and "Subvention" in page
    assert "250\u202f000,00\xa0€" in page and "60\u202f000,00\xa0€" in page and "50\u202f000,00\xa0€" in page
    assert "À examiner" in page
    assert "/ordre-du-jour.xlsx" in page
    # a plain agent sees the agenda but records no decision
    assert "/actions/approve" not in page and "Décisions à enregistrer" not in page


def test_the_agenda_keeps_the_figures_as_presented(client, world, put_on_agenda):
    case = put_on_agenda()
    original = case.company.name
    case.company.name = "Nouveau nom après la séance"
    db.session.commit()
    login(client, world.region_agent)
    page = html(client.get(meeting_url(world.region_meeting)))
    assert original in page and "Nouveau nom après la séance" not in page


def test_secretary_gets_decision_forms_posting_to_the_line_events(client, world, put_on_agenda):
    case = put_on_agenda()
    line = case.lines[0]
    login(client, world.region_secretary)
    page = html(client.get(meeting_url(world.region_meeting)))
    assert "Décisions à enregistrer" in page
    for event_name in ("approve", "reject", "adjourn"):
        action = f'action="/dossiers/{case.reference}/demandes/{line.id}/actions/{event_name}"'
        assert action in page
    assert page.count(f'name="version" value="{line.version}"') == 3
    assert page.count(f'name="next" value="/comites/seances/{world.region_meeting.id}"') == 3
    assert 'name="granted_amount"' in page and 'value="50000,00"' in page
    assert page.count('name="reason"') == 2
    assert 'name="gross_grant_equivalent"' not in page  # a grant: the face value counts
    for label_for in ("granted_amount-", "reject-reason-", "adjourn-reason-"):
        assert re.search(rf'<label for="{label_for}\d+">', page)


def test_a_de_minimis_loan_asks_for_its_gross_grant_equivalent(client, world, create_case):
    case = create_case("in_review")
    bpi_line = case.lines[1]
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="40000")
    db.session.commit()
    login(client, world.bpi_secretary)
    page = html(client.get(meeting_url(world.bpi_meeting)))
    assert 'name="gross_grant_equivalent"' in page
    assert "Prêt à taux zéro" in page


def test_decided_items_show_their_outcome_and_no_forms(client, world, put_on_agenda):
    approved, rejected = put_on_agenda(), put_on_agenda()
    ops.approve_line(world.region_secretary, approved.lines[0], granted_amount="45000")
    ops.reject_line(world.region_secretary, rejected.lines[0], reason="Budget épuisé")
    db.session.commit()
    login(client, world.region_secretary)
    page = html(client.get(meeting_url(world.region_meeting)))
    assert "Accordé" in page and "45\u202f000,00\xa0€" in page
    assert "Refusé" in page and "Motif : Budget épuisé" in page
    assert "/actions/approve" not in page
    assert "Aucune demande n'attend de décision sur cette séance." in page


def test_the_agenda_page_queries_do_not_grow_with_items(app, client, world, put_on_agenda):
    for _ in range(3):
        put_on_agenda()
    login(client, world.region_secretary)
    url = meeting_url(world.region_meeting)
    with count_queries(app) as few:
        assert client.get(url).status_code == 200
    for _ in range(27):
        put_on_agenda()
    with count_queries(app) as many:
        response = client.get(url)
    assert html(response).count("/actions/approve") == 30
    assert len(many) == len(few) == 4  # the person, the meeting, its agenda, its schemes' envelopes


def _form_fields(page: str, action: str) -> dict:
    """The hidden fields of the form posting to ``action`` on ``page``."""
    start = page.index(f'action="{action}"')
    form = page[start:page.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))


def test_a_decision_taken_on_the_agenda_comes_back_to_it(client, world, put_on_agenda):
    approved, refused, adjourned = put_on_agenda(), put_on_agenda(), put_on_agenda()
    login(client, world.region_secretary)
    url = meeting_url(world.region_meeting)
    page = html(client.get(url))

    action = f"/dossiers/{approved.reference}/demandes/{approved.lines[0].id}/actions/approve"
    response = client.post(action, data={**_form_fields(page, action), "granted_amount": "42 000,50"})
    assert response.status_code == 303 and response.headers["Location"].endswith(url)

    action = f"/dossiers/{refused.reference}/demandes/{refused.lines[0].id}/actions/reject"
    response = client.post(action, data={**_form_fields(page, action), "reason": ""}, follow_redirects=True)
    assert "Indiquez le motif du refus." in html(response)  # shown on the agenda, nothing decided
    response = client.post(action, data={**_form_fields(page, action), "reason": "Hors budget"})
    assert response.headers["Location"].endswith(url)

    action = f"/dossiers/{adjourned.reference}/demandes/{adjourned.lines[0].id}/actions/adjourn"
    client.post(action, data={**_form_fields(page, action), "reason": "Plan de financement à revoir"})

    db.session.expire_all()
    assert [case.lines[0].state for case in (approved, refused, adjourned)] == \
        ["approved", "rejected", "under_review"]
    assert approved.lines[0].granted_amount == Decimal("42000.50")
    page = html(client.get(url))
    assert "Accordé" in page and "Refusé" in page and "Ajourné" in page
    assert "Motif : Plan de financement à revoir" in page
    assert "/actions/approve" not in page


def test_a_stale_agenda_says_modified_meanwhile(client, world, put_on_agenda):
    case = put_on_agenda()
    line = case.lines[0]
    login(client, world.region_secretary)
    url = meeting_url(world.region_meeting)
    page = html(client.get(url))
    action = f"/dossiers/{case.reference}/demandes/{line.id}/actions/approve"
    fields = _form_fields(page, action)
    ops.adjourn_line(world.region_secretary, line, reason="Décidé ailleurs")  # someone else, meanwhile
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    db.session.commit()
    response = client.post(action, data={**fields, "granted_amount": "50000"}, follow_redirects=True)
    assert "modifié entre-temps" in html(response)
    db.session.expire_all()
    assert line.state == "on_agenda"
