"""The whole story of the first issue, through HTTP only, as the three kinds of people would do it:
an entrepreneur registers, declares the company and submits one dossier asking two agencies; the lead
agency accepts it; Bpifrance hands its line to AER BFC; an opinion is asked and given; both lines go
before committees; decisions are recorded from the agenda; an agreement is signed, a payment made,
the line settled, and the dossier closes by itself with its whole timeline."""
import io
from datetime import timedelta
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, User
from tests.conftest import login, register

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _post(client, url, data, **kwargs):
    response = client.post(url, data=data, **kwargs)
    assert response.status_code in (302, 303), (url, response.status_code, _errors_in(response))
    return response


def _errors_in(response):
    import re

    html = response.get_data(as_text=True)
    return re.findall(r'class="error-message"[^>]*>(.*?)</p>', html, re.S) or html[:500]


def _flashes(client):
    with client.session_transaction() as session:
        return session.get("_flashes", [])


def _event(client, case, event, user, line=None, **data):
    """One event posted as the page's form would, with the version the page showed."""
    login(client, user)
    db.session.expire_all()
    target = line if line is not None else case
    db.session.refresh(target)
    url = (f"/dossiers/{case.reference}/demandes/{line.id}/actions/{event}" if line is not None
           else f"/dossiers/{case.reference}/actions/{event}")
    _post(client, url, {"version": target.version, **data})
    errors = [message for category, message in _flashes(client) if category == "error"]
    assert not errors, (event, errors)


def test_from_registration_to_a_closed_dossier(app, client, world, runner):
    world.region_scheme.required_documents = ["business_plan"]
    db.session.commit()
    today = paris_today()

    # --- the entrepreneur
    # registration: the form, then the link of the email that confirms the address
    registered = register(client, app, name="Sacha Entreprendre", email="sacha@exemple.fr",
                          password="une phrase de passe solide")
    assert registered.status_code == 302 and registered.headers["Location"] == "/entreprises/nouvelle"
    sacha = db.session.scalar(select(User).where(User.email == "sacha@exemple.fr"))
    _post(client, "/entreprises/nouvelle", {
        "siret": "732 829 320 00074", "name": "Menuiserie du Morvan", "legal_form": "SAS", "naf_code": "16.23Z",
        "headcount": "14", "turnover": "1 800 000", "balance_sheet": "950000,50", "address": "3 rue des Tanneries",
        "postcode": "58000", "commune": "Nevers", "departement": ""})
    company = sacha.companies[0]
    assert (company.siren, company.departement, company.size) == ("732829320", "58", "small")
    _post(client, "/dossiers/nouveau", {
        "company": company.id, "title": "Atelier de découpe numérique", "description": "Une machine à commande "
        "numérique et deux embauches.", "starts_on": today.isoformat(), "eligible_cost": "250000"})
    case = db.session.scalar(select(Case).where(Case.company_id == company.id))
    assert case.state == "draft"
    _post(client, f"/dossiers/{case.reference}/demandes", {"line-scheme": world.region_scheme.id,
                                                           "line-requested_amount": "60 000"})
    _post(client, f"/dossiers/{case.reference}/demandes", {"line-scheme": world.bpi_scheme.id,
                                                           "line-requested_amount": "40000,00"})
    _post(client, f"/dossiers/{case.reference}/de-minimis/aucune", {"nominimis-confirm": "y"})
    _post(client, f"/dossiers/{case.reference}/pieces", {
        "document-kind": "business_plan", "document-file": (io.BytesIO(PDF), "plan d'affaires.pdf")},
        content_type="multipart/form-data")
    _event(client, case, "submit", sacha)
    db.session.refresh(case)
    assert case.state == "submitted" and case.lead_agency_id == world.region.id

    # --- the lead agency checks it is complete
    login(client, world.region_agent)
    assert case.reference in client.get("/organisme/").get_data(as_text=True)
    _event(client, case, "accept", world.region_agent)
    region_line, bpi_line = sorted(case.lines, key=lambda line: line.position)
    assert {line.state for line in case.lines} == {"under_review"}

    # --- Bpifrance hands its line over to AER BFC, which runs the right scheme
    _event(client, case, "transfer", world.bpi_agent, line=bpi_line, agency_id=world.aer.id,
           scheme_id=world.aer_scheme.id, reason="Avance remboursable plus adaptée")
    db.session.refresh(bpi_line)
    assert bpi_line.agency_id == world.aer.id
    login(client, world.bpi_agent)
    assert client.get(f"/dossiers/{case.reference}").status_code == 200  # Bpifrance keeps read access

    # --- an opinion asked by the Region and given by AER BFC
    login(client, world.region_agent)
    db.session.refresh(region_line)
    _post(client, f"/dossiers/{case.reference}/demandes/{region_line.id}/avis", {
        "version": region_line.version, "agency_id": world.aer.id,
        "due_on": (today + timedelta(days=7)).isoformat(), "question": "Cofinancerez-vous ce projet ?"})
    db.session.expire_all()
    opinion = db.session.get(type(region_line), region_line.id).opinions[0]
    login(client, world.aer_agent)
    _post(client, f"/dossiers/{case.reference}/avis/{opinion.id}", {
        "verdict": "favourable", "intended_amount": "30000", "comment": "Projet cohérent avec notre avance."})
    db.session.refresh(opinion)
    assert opinion.verdict == "favourable"

    # --- both lines go before committees
    _event(client, case, "propose", world.region_agent, line=region_line,
           meeting_id=world.region_meeting.id, proposed_amount="50000")
    _event(client, case, "propose", world.aer_agent, line=bpi_line,
           meeting_id=world.aer_meeting.id, proposed_amount="30000")

    # --- the secretaries decide from their agendas
    login(client, world.region_secretary)
    agenda = client.get(f"/comites/seances/{world.region_meeting.id}").get_data(as_text=True)
    assert case.reference in agenda
    _event(client, case, "approve", world.region_secretary, line=region_line, granted_amount="45000",
           next=f"/comites/seances/{world.region_meeting.id}")
    workbook = client.get(f"/comites/seances/{world.region_meeting.id}/ordre-du-jour.xlsx")
    assert workbook.status_code == 200
    rows = list(load_workbook(io.BytesIO(workbook.data)).active.iter_rows(values_only=True))
    assert any(case.reference in row and 45000 in row for row in rows)
    _event(client, case, "reject", world.aer_secretary, line=bpi_line, reason="Fonds propres insuffisants")

    # --- agreement, payment, settlement
    _event(client, case, "sign_agreement", world.region_agent, line=region_line, signed_on=today.isoformat())
    _event(client, case, "record_payment", world.region_agent, line=region_line, amount="20000",
           paid_on=today.isoformat())
    _event(client, case, "settle", world.region_agent, line=region_line)

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.state == "closed" and case.closed_at is not None
    assert db.session.get(type(region_line), region_line.id).released_amount == Decimal("25000.00")
    timeline = [(event.entity, event.name) for event in
                db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id))]
    assert timeline == [
        ("case", "create"), ("case", "submit"), ("case", "accept"), ("line", "start_review"),
        ("line", "start_review"), ("line", "transfer"), ("opinion", "ask_opinion"),
        ("opinion", "give_opinion"), ("line", "propose"), ("line", "propose"), ("line", "approve"),
        ("line", "reject"), ("line", "sign_agreement"), ("line", "record_payment"), ("line", "settle"),
        ("case", "close")]

    # --- the entrepreneur sees the outcome, without the agencies' internal exchanges
    login(client, sacha)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert "Clos" in page and "/actions/" not in page  # the timeline, and no button left to press
    assert "Projet cohérent avec notre avance." not in page

    # --- the whole story left an audit trail that checks out
    audit = runner.invoke(args=["verify-audit"])
    assert audit.exit_code == 0, audit.output
