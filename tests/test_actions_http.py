"""Every event of both machines fired through HTTP, the refusals, and what each person is offered."""
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import g, render_template
from flask_login import login_user
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.cases.actions import available_actions
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import AgendaItem, Event, Message, Opinion, Payment

from conftest import login as _login


def login(client, user) -> None:
    """Log ``user`` in, also when another person made the previous request of this test
    (Flask-Login keeps the user of a request in ``g``, which lives as long as the test's app context)."""
    _login(client, user)
    g.pop("_login_user", None)


# --------------------------------------------------------------------------- helpers

def take_flashes(client) -> list[tuple[str, str]]:
    """The messages flashed so far (and forget them, as the next page would)."""
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


def errors(client) -> str:
    return " ".join(message for category, message in take_flashes(client) if category == "error")


def successes(client) -> str:
    return " ".join(message for category, message in take_flashes(client) if category == "success")


def count_events(case, name=None) -> int:
    query = select(func.count(Event.id)).where(Event.case_id == case.id)
    if name:
        query = query.where(Event.name == name)
    return db.session.scalar(query)


def last_event(case) -> Event:
    return db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id.desc())).first()


def post_case(client, case, event, **data):
    data.setdefault("version", case.version)
    return client.post(f"/dossiers/{case.reference}/actions/{event}", data=data)


def post_line(client, line, event, **data):
    data.setdefault("version", line.version)
    return client.post(f"/dossiers/{line.case.reference}/demandes/{line.id}/actions/{event}", data=data)


def assert_back_on_case(response, case):
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/dossiers/{case.reference}")


@pytest.fixture
def line_in(world, create_case):
    """The Region line (60 000 €) of an in-review case, brought to ``state`` through the operations."""
    def factory(state):
        case = create_case("in_review")
        line = case.lines[0]
        if state in ("on_agenda", "approved", "rejected", "agreement_signed"):
            ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
        if state in ("approved", "agreement_signed"):
            ops.approve_line(world.region_secretary, line, granted_amount="45000")
        if state == "agreement_signed":
            ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
        if state == "rejected":
            ops.reject_line(world.region_secretary, line, reason="Projet non éligible")
        db.session.commit()
        assert line.state == state
        return line
    return factory


# --------------------------------------------------------------------------- case events

def test_applicant_submits_a_draft(client, world, create_case):
    case = create_case("draft")
    login(client, world.applicant)
    response = post_case(client, case, "submit")
    assert_back_on_case(response, case)
    assert "déposé" in successes(client)
    assert case.state == "submitted" and case.lead_agency_id == world.region.id
    event = last_event(case)
    assert (event.name, event.from_state, event.to_state, event.actor_id) == \
        ("submit", "draft", "submitted", world.applicant.id)


def test_applicant_resubmits_an_incomplete_case(client, world, create_case):
    case = create_case("incomplete")
    login(client, world.applicant)
    assert_back_on_case(post_case(client, case, "resubmit"), case)
    assert case.state == "submitted"
    assert last_event(case).name == "resubmit"


def test_applicant_withdraws_with_an_optional_reason(client, world, create_case):
    case = create_case("submitted")
    login(client, world.applicant)
    assert_back_on_case(post_case(client, case, "withdraw", reason="Projet abandonné"), case)
    assert case.state == "withdrawn"
    event = db.session.scalars(select(Event).where(Event.case_id == case.id, Event.name == "withdraw",
                                                   Event.entity == "case")).one()
    assert event.reason == "Projet abandonné" and event.actor_id == world.applicant.id
    assert {line.state for line in case.lines} == {"withdrawn"}


def test_lead_agent_requests_information(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    assert_back_on_case(post_case(client, case, "request_info", message="Joignez le Kbis."), case)
    assert case.state == "incomplete"
    assert last_event(case).name == "request_info"
    assert db.session.scalar(select(Message.body).where(Message.case_id == case.id)) == "Joignez le Kbis."


def test_lead_agent_accepts(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    assert_back_on_case(post_case(client, case, "accept"), case)
    assert "complet" in successes(client)
    assert case.state == "in_review"
    assert [line.state for line in case.lines] == ["under_review", "under_review"]
    assert count_events(case, "accept") == 1 and count_events(case, "start_review") == 2


def test_lead_agent_transfers_the_lead(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    response = post_case(client, case, "transfer_lead", agency_id=world.aer.id, reason="Compétence AER")
    assert_back_on_case(response, case)
    assert "AER BFC" in successes(client)
    assert case.lead_agency_id == world.aer.id and case.state == "submitted"
    event = last_event(case)
    assert event.name == "transfer_lead" and event.reason == "Compétence AER"


def test_lead_agent_dismisses(client, world, create_case):
    case = create_case("in_review")
    login(client, world.region_agent)
    assert_back_on_case(post_case(client, case, "dismiss", reason="Hors périmètre"), case)
    assert case.state == "dismissed"
    assert {line.state for line in case.lines} == {"dismissed"}


# --------------------------------------------------------------------------- line events

def test_line_agent_transfers_a_line_with_a_new_scheme(client, world, create_case):
    case = create_case("in_review")
    bpi_line = case.lines[1]
    login(client, world.bpi_agent)
    response = post_line(client, bpi_line, "transfer", agency_id=world.aer.id, scheme_id=world.aer_scheme.id,
                         reason="Relève de l'avance remboursable")
    assert_back_on_case(response, case)
    assert "AER BFC" in successes(client)
    assert bpi_line.agency_id == world.aer.id and bpi_line.scheme_id == world.aer_scheme.id
    assert last_event(case).name == "transfer"


def test_line_agent_proposes_a_french_amount(client, world, line_in):
    line = line_in("under_review")
    login(client, world.region_agent)
    response = post_line(client, line, "propose", meeting_id=world.region_meeting.id,
                         proposed_amount="50 000,50")
    assert_back_on_case(response, line.case)
    assert "inscrite" in successes(client)
    assert line.state == "on_agenda" and line.proposed_amount == Decimal("50000.50")
    item = db.session.scalars(select(AgendaItem).where(AgendaItem.line_id == line.id)).one()
    assert item.meeting_id == world.region_meeting.id
    event = last_event(line.case)
    assert (event.name, event.line_id, event.from_state, event.to_state) == \
        ("propose", line.id, "under_review", "on_agenda")


def test_secretary_approves(client, world, line_in):
    line = line_in("on_agenda")
    login(client, world.region_secretary)
    assert_back_on_case(post_line(client, line, "approve", granted_amount="45000"), line.case)
    assert line.state == "approved" and line.granted_amount == Decimal("45000")
    assert last_event(line.case).name == "approve"


def test_secretary_rejects(client, world, line_in):
    line = line_in("on_agenda")
    login(client, world.region_secretary)
    assert_back_on_case(post_line(client, line, "reject", reason="Fonds propres insuffisants"), line.case)
    assert line.state == "rejected"
    assert last_event(line.case).reason == "Fonds propres insuffisants"


def test_secretary_adjourns(client, world, line_in):
    line = line_in("on_agenda")
    login(client, world.region_secretary)
    assert_back_on_case(post_line(client, line, "adjourn", reason="Pièces à compléter"), line.case)
    assert line.state == "under_review"
    assert last_event(line.case).name == "adjourn"


def test_line_agent_records_the_agreement_with_a_french_date(client, world, line_in):
    line = line_in("approved")
    login(client, world.region_agent)
    today = paris_today()
    response = post_line(client, line, "sign_agreement", signed_on=today.strftime("%d/%m/%Y"))
    assert_back_on_case(response, line.case)
    assert line.state == "agreement_signed" and line.agreement_signed_on == today


def test_line_agent_records_a_payment_then_settles(client, world, line_in):
    line = line_in("agreement_signed")
    login(client, world.region_agent)
    response = post_line(client, line, "record_payment", amount="20000", paid_on=paris_today().isoformat())
    assert_back_on_case(response, line.case)
    assert "versement" in successes(client).lower()
    assert db.session.scalar(select(Payment.amount).where(Payment.line_id == line.id)) == Decimal("20000")
    assert line.state == "agreement_signed"
    assert_back_on_case(post_line(client, line, "settle"), line.case)
    assert line.state == "settled" and line.released_amount == Decimal("25000")
    assert last_event(line.case).name in ("settle", "close")
    assert count_events(line.case, "settle") == 1


def test_line_agent_dismisses_then_reopens(client, world, line_in):
    line = line_in("under_review")
    login(client, world.region_agent)
    assert_back_on_case(post_line(client, line, "dismiss", reason="Doublon"), line.case)
    assert line.state == "dismissed"
    assert_back_on_case(post_line(client, line, "reopen", reason="Recours gracieux reçu"), line.case)
    assert line.state == "under_review"
    assert last_event(line.case).name == "reopen"


def test_reopen_a_rejected_line(client, world, line_in):
    line = line_in("rejected")
    login(client, world.region_agent)
    assert_back_on_case(post_line(client, line, "reopen", reason="Recours"), line.case)
    assert line.state == "under_review"


# --------------------------------------------------------------------------- opinions

def test_ask_then_give_an_opinion(client, world, line_in):
    line = line_in("under_review")
    case = line.case
    login(client, world.region_agent)
    due = paris_today() + timedelta(days=10)
    response = client.post(f"/dossiers/{case.reference}/demandes/{line.id}/avis",
                           data={"version": line.version, "agency_id": world.aer.id,
                                 "due_on": due.isoformat(), "question": "Cofinancez-vous ?"})
    assert_back_on_case(response, case)
    assert "AER BFC" in successes(client)
    opinion = db.session.scalars(select(Opinion).where(Opinion.line_id == line.id)).one()
    assert (opinion.agency_id, opinion.due_on, opinion.question) == (world.aer.id, due, "Cofinancez-vous ?")
    assert last_event(case).name == "ask_opinion"

    # the Region agent may not answer for AER
    response = client.post(f"/dossiers/{case.reference}/avis/{opinion.id}", data={"verdict": "favourable"})
    assert_back_on_case(response, case)
    assert "organisme consulté" in errors(client)
    assert opinion.verdict is None

    login(client, world.aer_agent)
    response = client.post(f"/dossiers/{case.reference}/avis/{opinion.id}",
                           data={"verdict": "reserved", "intended_amount": "15 000",
                                 "comment": "Sous réserve."})
    assert_back_on_case(response, case)
    assert "réservé" in successes(client)
    assert (opinion.verdict, opinion.intended_amount, opinion.comment) == \
        ("reserved", Decimal("15000"), "Sous réserve.")
    assert last_event(case).name == "give_opinion"

    before = count_events(case)
    client.post(f"/dossiers/{case.reference}/avis/{opinion.id}", data={"verdict": "favourable"})
    assert "déjà été donné" in errors(client)
    assert opinion.verdict == "reserved" and count_events(case) == before


def test_opinion_form_errors_are_named(client, world, line_in):
    line = line_in("under_review")
    login(client, world.region_agent)
    before = count_events(line.case)
    client.post(f"/dossiers/{line.case.reference}/demandes/{line.id}/avis",
                data={"version": line.version, "agency_id": world.aer.id, "due_on": "31/02/2020"})
    assert "date" in errors(client)
    client.post(f"/dossiers/{line.case.reference}/demandes/{line.id}/avis",
                data={"version": line.version, "agency_id": world.region.id,
                      "due_on": (paris_today() + timedelta(days=3)).isoformat()})
    assert "organisme qui instruit" in errors(client)
    assert count_events(line.case) == before
    opinion = ops.ask_opinion(world.region_agent, line, agency=world.aer,
                              due_on=paris_today() + timedelta(days=3))
    db.session.commit()
    login(client, world.aer_agent)
    client.post(f"/dossiers/{line.case.reference}/avis/{opinion.id}", data={"verdict": "peut-être"})
    assert "favorable, réservé ou défavorable" in errors(client)
    client.post(f"/dossiers/{line.case.reference}/avis/{opinion.id}",
                data={"verdict": "favourable", "intended_amount": "beaucoup"})
    message = errors(client)
    assert "Cofinancement envisagé" in message and "nombre" in message
    assert opinion.verdict is None


# --------------------------------------------------------------------------- refusals: French, no change

def test_wrong_person_is_refused_in_french_and_nothing_changes(client, world, create_case):
    case = create_case("submitted")
    before = count_events(case)
    login(client, world.applicant)  # an applicant cannot accept
    assert_back_on_case(post_case(client, case, "accept"), case)
    assert "Seul un agent de l'organisme pilote" in errors(client)
    login(client, world.bpi_agent)  # Bpifrance holds a line but does not lead
    assert_back_on_case(post_case(client, case, "accept"), case)
    assert "Seul un agent de l'organisme pilote" in errors(client)
    assert case.state == "submitted" and count_events(case) == before


def test_admin_sees_the_case_but_cannot_act(client, world, create_case):
    case = create_case("submitted")
    before = count_events(case)
    login(client, world.admin)
    assert_back_on_case(post_case(client, case, "accept"), case)
    assert "Seul" in errors(client)
    assert case.state == "submitted" and count_events(case) == before


def test_wrong_state_is_refused(client, world, create_case):
    case = create_case("in_review")
    before = count_events(case)
    login(client, world.region_agent)
    assert_back_on_case(post_case(client, case, "accept"), case)
    assert "pas possible dans l'état actuel du dossier (en instruction)" in errors(client)
    login(client, world.applicant)
    post_case(client, case, "submit")
    assert "pas possible" in errors(client)
    assert case.state == "in_review" and count_events(case) == before


def test_missing_reason_is_named(client, world, create_case):
    case = create_case("submitted")
    before = count_events(case)
    login(client, world.region_agent)
    assert_back_on_case(post_case(client, case, "dismiss", reason="   "), case)
    message = errors(client)
    assert "Motif du classement sans suite" in message and "Indiquez le motif" in message
    post_case(client, case, "request_info", message="")
    assert "Écrivez au demandeur" in errors(client)
    post_case(client, case, "transfer_lead", agency_id=world.aer.id)
    assert "Motif du transfert" in errors(client)
    assert case.state == "submitted" and count_events(case) == before


@pytest.mark.parametrize("amount, expected", [
    ("abc", "doit être un nombre"),
    ("", "est obligatoire"),
    ("-5", "supérieur à zéro"),
    ("12,345", "deux décimales"),
    ("NaN", "doit être un nombre"),
    ("60000,01", "ne peut pas dépasser le montant demandé"),
    ("1e400", "doit être un nombre"),  # no exponents, as everywhere (one amount rule)
    ("99999999999999999999999999999999", "trop élevé"),
])
def test_bad_amounts_are_refused_beside_their_field(client, world, line_in, amount, expected):
    line = line_in("under_review")
    before = count_events(line.case)
    login(client, world.region_agent)
    response = post_line(client, line, "propose", meeting_id=world.region_meeting.id, proposed_amount=amount)
    assert_back_on_case(response, line.case)
    message = errors(client)
    assert message.startswith("Montant proposé (en euros) :") and expected in message
    assert line.state == "under_review" and count_events(line.case) == before
    assert db.session.scalar(select(func.count(AgendaItem.id))) == 0


def test_meeting_of_another_committee_or_none_is_refused(client, world, line_in):
    line = line_in("under_review")
    login(client, world.region_agent)
    post_line(client, line, "propose", meeting_id=world.bpi_meeting.id, proposed_amount="1000")
    assert "pas une séance du comité" in errors(client)
    post_line(client, line, "propose", meeting_id="n'importe quoi", proposed_amount="1000")
    assert "Choisissez la séance" in errors(client)
    assert line.state == "under_review"


def test_bad_dates_never_give_a_500(client, world, line_in):
    line = line_in("approved")
    login(client, world.region_agent)
    for data in ({"signed_on": "hier"}, {"signed_on": ""}, {"signed_on": "2999-01-01"},
                 {"signed_on": "31/02/2024"}):
        response = post_line(client, line, "sign_agreement", **data)
        assert response.status_code == 303
        assert "Date de signature de la convention :" in errors(client)
    assert line.state == "approved"
    line = line_in("agreement_signed")
    response = post_line(client, line, "record_payment", amount="50000", paid_on=paris_today().isoformat())
    assert "dépasserait le montant accordé" in errors(client)
    response = post_line(client, line, "record_payment", amount="10", paid_on="32/13/2020")
    assert "Date du versement" in errors(client)
    assert db.session.scalar(select(func.count(Payment.id))) == 0


def test_non_secretary_cannot_approve(client, world, line_in):
    line = line_in("on_agenda")
    before = count_events(line.case)
    login(client, world.region_agent)
    post_line(client, line, "approve", granted_amount="45000")
    assert "Seul un secrétaire du comité" in errors(client)
    login(client, world.bpi_secretary)  # a secretary, but of another agency's committee
    post_line(client, line, "approve", granted_amount="45000")
    assert "Seul un secrétaire du comité" in errors(client)
    assert line.state == "on_agenda" and count_events(line.case) == before


def test_missing_or_bad_version_is_refused(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    client.post(f"/dossiers/{case.reference}/actions/accept", data={})
    assert "rechargez-la" in errors(client)
    client.post(f"/dossiers/{case.reference}/actions/accept", data={"version": "douze"})
    assert "rechargez-la" in errors(client)
    post_case(client, case, "accept", version=case.version - 1)
    assert "modifié entre-temps" in errors(client)
    assert case.state == "submitted"


# --------------------------------------------------------------------------- 404s and redirects

def test_case_outside_scope_is_404(client, world, create_case):
    case = create_case("submitted")
    login(client, world.other_applicant)
    assert post_case(client, case, "withdraw").status_code == 404
    login(client, world.aer_agent)  # AER has no hand in this case
    assert post_case(client, case, "accept").status_code == 404
    assert post_line(client, case.lines[0], "transfer", agency_id=world.aer.id, reason="x").status_code == 404
    assert client.post(f"/dossiers/{case.reference}/demandes/{case.lines[0].id}/avis").status_code == 404
    assert case.state == "submitted"


def test_unknown_or_system_events_lines_and_opinions_are_404(client, world, create_case, line_in):
    case = create_case("in_review")
    other = create_case("in_review")
    login(client, world.region_agent)
    assert post_case(client, case, "explode").status_code == 404
    assert post_case(client, case, "close").status_code == 404  # a system event is nobody's to fire
    assert post_case(client, case, "reopen").status_code == 404
    assert post_line(client, case.lines[0], "start_review").status_code == 404
    assert post_line(client, case.lines[0], "withdraw").status_code == 404
    assert client.post(f"/dossiers/{case.reference}/demandes/{other.lines[0].id}/actions/dismiss",
                       data={"reason": "x", "version": 1}).status_code == 404
    assert client.post(f"/dossiers/{case.reference}/demandes/999999/avis").status_code == 404
    assert client.post(f"/dossiers/{case.reference}/avis/999999").status_code == 404
    assert client.post("/dossiers/AP-1999-00001/actions/accept").status_code == 404
    assert client.get(f"/dossiers/{case.reference}/actions/accept").status_code == 405


def test_anonymous_goes_to_login(client, world, create_case):
    case = create_case("submitted")
    response = post_case(client, case, "accept")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert case.state == "submitted"


def test_next_is_followed_when_local_only(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    response = post_case(client, case, "request_info", message="Kbis ?", next="/comites/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/comites/")
    case2 = create_case("submitted")
    response = post_case(client, case2, "accept", next="https://exemple.com/")
    assert_back_on_case(response, case2)


def test_refusal_is_shown_on_the_dossier_page(client, world, create_case):
    """Following the redirect, the French message is on the page, as an alert."""
    case = create_case("submitted")
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/actions/dismiss",
                           data={"version": case.version, "reason": ""}, follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "Indiquez le motif du classement sans suite." in page


# --------------------------------------------------------------------------- available_actions

def _names(actions):
    return set(actions.case_names)


def test_applicant_sees_submit_on_a_draft_not_accept(world, create_case):
    case = create_case("draft")
    actions = available_actions(world.applicant, case)
    assert _names(actions) == {"submit", "withdraw"}
    assert not actions.lines
    assert not available_actions(world.other_applicant, case)


def test_lead_agent_sees_the_review_events_of_a_submitted_case(world, create_case):
    case = create_case("submitted")
    actions = available_actions(world.region_agent, case)
    assert _names(actions) == {"accept", "request_info", "transfer_lead", "dismiss"}
    assert "submit" not in _names(available_actions(world.applicant, case))
    assert _names(available_actions(world.applicant, case)) == {"withdraw"}
    assert _names(available_actions(world.bpi_agent, case)) == set()  # not the lead
    transfer = next(action for action in actions.case if action.name == "transfer_lead")
    assert transfer.label == "Transférer le pilotage"
    values = [str(choice[0]) for choice in transfer.form.agency_id.iter_choices()]
    assert str(world.region.id) not in values and str(world.aer.id) in values


def test_non_secretary_never_sees_approve(world, line_in):
    line = line_in("on_agenda")
    case = line.case
    assert "approve" not in available_actions(world.region_agent, case).line_names(line)
    assert "approve" not in available_actions(world.bpi_secretary, case).line_names(line)
    secretary = available_actions(world.region_secretary, case).line_names(line)
    assert {"approve", "reject", "adjourn"} <= set(secretary)


def test_admin_sees_nothing(world, line_in):
    line = line_in("on_agenda")
    assert not available_actions(world.admin, line.case)


def test_system_events_never_appear(world, line_in):
    line = line_in("under_review")
    actions = available_actions(world.region_agent, line.case)
    assert not {"close", "reopen"} & _names(actions)
    names = actions.line_names(line)
    assert set(names) == {"transfer", "propose", "dismiss", "ask_opinion"}
    assert "start_review" not in names and "withdraw" not in names


def test_propose_offers_planned_meetings_of_the_schemes_committee(world, line_in, create_meeting):
    line = line_in("under_review")
    past = create_meeting(world.region_committee, in_days=-7)
    later = create_meeting(world.region_committee, in_days=40)
    actions = available_actions(world.region_agent, line.case)
    propose = next(a for a in actions.lines[0].actions if a.name == "propose")
    ids = [choice[0] for choice in propose.form.meeting_id.iter_choices()]
    assert ids == [world.region_meeting.id, later.id] and past.id not in ids
    assert propose.note is None


def test_opinion_actions(world, line_in):
    line = line_in("under_review")
    opinion = ops.ask_opinion(world.region_agent, line, agency=world.aer,
                              due_on=paris_today() + timedelta(days=5))
    db.session.commit()
    assert "ask_opinion" in available_actions(world.region_agent, line.case).line_names(line)
    aer = available_actions(world.aer_agent, line.case)
    assert [action.opinion.id for action in aer.opinions] == [opinion.id]
    assert not aer.case and not aer.lines
    assert not available_actions(world.bpi_agent, line.case).opinions


def test_granted_case_offers_no_withdraw(world, line_in):
    line = line_in("approved")
    assert "withdraw" not in _names(available_actions(world.applicant, line.case))
    assert "dismiss" not in _names(available_actions(world.region_agent, line.case))


# --------------------------------------------------------------------------- the partials

def _render(app, user, template, case, **context):
    """The partial as the dossier page renders it, for ``user``, inside a request."""
    with app.test_request_context():
        login_user(user)
        return render_template(template, case=case, actions=available_actions(user, case), **context)


def test_actions_partial_has_labels_version_token_and_french_buttons(app, world, line_in):
    line = line_in("under_review")
    case = line.case
    html = _render(app, world.region_agent, "cases/_actions.html", case)
    assert f'action="/dossiers/{case.reference}/demandes/{line.id}/actions/propose"' in html
    hidden = 'name="version" type="hidden" value="{}"'
    assert f'id="demande-{line.id}-propose-version" ' + hidden.format(line.version) in html
    assert 'id="dossier-request_info-version" ' + hidden.format(case.version) in html
    assert html.count('name="csrf_token"') == html.count("<form ")
    assert ">Inscrire en comité</button>" in html and ">Transférer le pilotage</button>" in html
    label = f'<label for="demande-{line.id}-propose-proposed_amount">Montant proposé (en euros)</label>'
    assert label in html
    assert f'<label for="demande-{line.id}-propose-meeting_id">Séance du comité</label>' in html
    assert f'action="/dossiers/{case.reference}/demandes/{line.id}/avis"' in html
    ids = [chunk.split('"', 1)[0] for chunk in html.split(' id="')[1:]]
    assert len(ids) == len(set(ids))  # every id once on the page


def test_actions_partial_explains_a_propose_without_meeting(app, world, line_in):
    line = line_in("under_review")
    db.session.delete(world.region_meeting)
    db.session.commit()
    html = _render(app, world.region_agent, "cases/_actions.html", line.case)
    assert "Aucune séance à venir du comité" in html
    assert "/actions/propose" not in html


def test_actions_partial_is_empty_for_the_admin(app, world, line_in):
    line = line_in("under_review")
    assert "<form" not in _render(app, world.admin, "cases/_actions.html", line.case)


def test_opinions_partial_marks_overdue_in_words_and_offers_the_answer(app, world, line_in):
    line = line_in("under_review")
    opinion = ops.ask_opinion(world.region_agent, line, agency=world.aer,
                              due_on=paris_today() + timedelta(days=1), question="Votre avis ?")
    db.session.commit()
    opinion.due_on = paris_today() - timedelta(days=2)  # time has passed
    db.session.commit()
    html = _render(app, world.aer_agent, "cases/_opinions.html", line.case, today=paris_today())
    assert "En retard" in html and "Votre avis ?" in html
    assert f'action="/dossiers/{line.case.reference}/avis/{opinion.id}"' in html
    assert f'<label for="reponse-avis-{opinion.id}-verdict-0">Favorable</label>' in html
    assert "Envoyer l&#39;avis</button>" in html
    html = _render(app, world.region_agent, "cases/_opinions.html", line.case, today=paris_today())
    assert "En retard" in html and f"/avis/{opinion.id}\"" not in html  # no answer form for the asker
    assert "<form" not in _render(app, world.applicant, "cases/_opinions.html", line.case)
