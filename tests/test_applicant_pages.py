"""The entrepreneur's pages over HTTP: list, new draft, editing (project, financing plan, de minimis,
documents), the submission checklist, and what is refused."""
import html as html_lib
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import event, func, select
from werkzeug.datastructures import FileStorage

from atelier.cases import documents
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import money, paris_today
from atelier.models import Case, Company, Document, FundingLine, MinimisAid
from conftest import login as conftest_login


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)  # the test's app context is shared: forget the previous person


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counted: ...`` then ``counted[0]`` is the number of SQL statements."""
    from contextlib import contextmanager

    @contextmanager
    def counter():
        counted = [0]

        def count(*args, **kwargs):
            counted[0] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            yield counted
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    return counter


@pytest.fixture
def applicant_client(client, world):
    login(client, world.applicant)
    return client


def text(response) -> str:
    """The page, with its HTML entities decoded (so that ``l'entreprise`` reads as typed)."""
    return html_lib.unescape(response.get_data(as_text=True))


def error_beside(html: str, field_id: str) -> str:
    """The error message shown beside the field ``field_id`` (tied to it by aria-describedby)."""
    match = re.search(rf'<p class="error-message" id="{re.escape(field_id)}-error">(.*?)</p>', html, re.S)
    assert match, f"no error beside {field_id}"
    assert f'aria-describedby="{field_id}-error"' in html or f'{field_id}-hint {field_id}-error' in html
    return html_lib.unescape(match.group(1))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def new_draft(world, *, eligible_cost="250000", **project):
    case = ops.create_case(world.applicant, world.company, title=project.get("title", "Atelier de découpe"),
                           description=project.get("description", "Une machine laser."),
                           starts_on=paris_today(), eligible_cost=eligible_cost)
    db.session.commit()
    return case


# --------------------------------------------------------------------------- my dossiers

def test_my_cases_lists_the_dossiers_of_my_companies_only(applicant_client, world, create_case,
                                                          create_company):
    mine = create_case("draft")
    submitted = create_case("submitted")
    second_company = create_company(members=[world.applicant], name="Deuxième Société")
    other_company_case = create_case("draft", company=second_company)
    theirs = create_case("draft", applicant=world.other_applicant, company=world.other_company)

    response = applicant_client.get("/dossiers/")
    html = text(response)
    assert response.status_code == 200
    for case in (mine, submitted, other_company_case):
        assert case.reference in html
    assert theirs.reference not in html
    assert "Deuxième Société" in html
    # the state is written in French (the badge is text, not only a colour)
    assert ">Brouillon</span>" in html and ">Déposé</span>" in html
    assert money(Decimal("100000")) in html
    assert "<title>Mes dossiers — Atelier des projets</title>" in html


def test_my_cases_is_paginated(applicant_client, world, create_case, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    cases = [create_case("draft") for _ in range(3)]
    first, second = text(applicant_client.get("/dossiers/")), text(applicant_client.get("/dossiers/?page=2"))
    assert sum(case.reference in first for case in cases) == 2
    assert sum(case.reference in second for case in cases) == 1
    assert "Page 2 sur 2" in second
    assert applicant_client.get("/dossiers/?page=abc").status_code == 200
    assert applicant_client.get("/dossiers/?page=99").status_code == 200


def test_my_cases_issues_a_fixed_number_of_queries(applicant_client, create_case, count_queries):
    create_case("draft")
    with count_queries() as few:
        assert applicant_client.get("/dossiers/").status_code == 200
    for _ in range(5):
        create_case("submitted")
    with count_queries() as many:
        assert applicant_client.get("/dossiers/").status_code == 200
    assert many[0] == few[0]


def test_my_cases_is_for_applicants(client, world):
    login(client, world.region_agent)
    assert client.get("/dossiers/").status_code == 404
    assert client.get("/dossiers/nouveau").status_code == 404


# --------------------------------------------------------------------------- new draft

def test_new_case_without_a_company_sends_me_to_declare_one(client, create_user):
    login(client, create_user("applicant"))
    response = client.get("/dossiers/nouveau")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/entreprises/nouvelle")
    with client.session_transaction() as session:
        flashes = session["_flashes"]
    assert any("déclarez d'abord l'entreprise" in message for _, message in flashes)


def test_new_case_creates_a_draft_and_goes_to_the_edit_page(applicant_client, world):
    response = applicant_client.post("/dossiers/nouveau", data={
        "company": world.company.id, "title": "Nouvel atelier", "description": "Un atelier.",
        "starts_on": "2030-01-15", "ends_on": "31/12/2030", "eligible_cost": "120 000,50"})
    assert response.status_code == 302
    case = db.session.scalars(select(Case)).one()
    assert response.headers["Location"].endswith(f"/dossiers/{case.reference}/modifier")
    assert (case.state, case.title, case.company_id) == ("draft", "Nouvel atelier", world.company.id)
    assert case.eligible_cost == Decimal("120000.50")
    assert str(case.ends_on) == "2030-12-31"


@pytest.mark.parametrize("data, field_id, message", [
    ({"title": ""}, "title", "Le titre du projet est obligatoire."),
    ({"starts_on": "32/13/2030"}, "starts_on", "Indiquez une date valide (jj/mm/aaaa)."),
    ({"starts_on": "0001-01-01"}, "starts_on", "Indiquez une date entre 1900 et 2100."),
    ({"starts_on": "2030-06-01", "ends_on": "2030-01-01"}, "ends_on",
     "La date de fin doit suivre la date de début."),
    ({"eligible_cost": "abc"}, "eligible_cost", "Le coût éligible doit être un nombre"),
    ({"eligible_cost": "1e999"}, "eligible_cost", "Le coût éligible doit être un nombre"),
    ({"eligible_cost": "-5"}, "eligible_cost", "Le coût éligible doit être supérieur à zéro."),
    ({"company": "abc"}, "company", "Choisissez l'entreprise."),
])
def test_new_case_refusals_are_shown_beside_the_field(applicant_client, world, data, field_id, message):
    form = {"company": world.company.id, "title": "Projet", "description": "", **data}
    response = applicant_client.post("/dossiers/nouveau", data=form)
    assert response.status_code == 422
    assert message in error_beside(text(response), field_id)
    assert count(Case) == 0


def test_with_several_companies_i_choose_one(applicant_client, world, create_company):
    second = create_company(members=[world.applicant], name="Seconde Société")
    db.session.commit()
    page = text(applicant_client.get("/dossiers/nouveau"))
    assert "— Choisissez —" in page and "Seconde Société" in page and world.company.name in page
    response = applicant_client.post("/dossiers/nouveau", data={"title": "Projet"})
    assert response.status_code == 422
    assert "Choisissez l'entreprise." in error_beside(text(response), "company")
    response = applicant_client.post("/dossiers/nouveau", data={"title": "Projet", "company": second.id})
    assert response.status_code == 302
    assert db.session.scalars(select(Case.company_id)).one() == second.id


def test_new_case_for_a_company_i_do_not_belong_to_is_refused(applicant_client, world):
    response = applicant_client.post("/dossiers/nouveau", data={"company": world.other_company.id,
                                                               "title": "Projet"})
    assert response.status_code == 422
    assert "Choisissez l'entreprise." in error_beside(text(response), "company")
    assert count(Case) == 0


# --------------------------------------------------------------------------- the whole flow

def test_draft_edit_lines_minimis_document_then_ready_to_submit(applicant_client, world):
    world.region_scheme.required_documents = ["kbis"]
    db.session.commit()
    client = applicant_client
    client.post("/dossiers/nouveau", data={"company": world.company.id, "title": "Atelier"})
    case = db.session.scalars(select(Case)).one()
    edit_url = f"/dossiers/{case.reference}/modifier"

    page = text(client.get(edit_url))
    assert "Décrivez le projet." in page and "Déposer le dossier</button>" not in page

    response = client.post(edit_url, data={"title": "Atelier de découpe laser", "description": "Achat",
                                           "starts_on": "2030-02-01", "eligible_cost": "200000",
                                           "version": case.version})
    assert response.status_code == 302
    response = client.post(f"/dossiers/{case.reference}/demandes", data={
        "line-scheme": world.region_scheme.id, "line-requested_amount": "60 000"})
    assert response.status_code == 302, text(response)
    client.post(f"/dossiers/{case.reference}/demandes", data={
        "line-scheme": world.bpi_scheme.id, "line-requested_amount": "40000,00"})
    response = client.post(f"/dossiers/{case.reference}/de-minimis", data={
        "minimis-granted_on": (paris_today() - timedelta(days=400)).isoformat(),
        "minimis-granting_body": "Département de la Côte-d'Or", "minimis-amount": "15000",
        "minimis-regime": "de_minimis"})
    assert response.status_code == 302, text(response)

    page = text(client.get(edit_url))
    assert "Pièce manquante : Extrait Kbis de moins de trois mois." in page
    assert "Non, à joindre" in page
    response = client.post(f"/dossiers/{case.reference}/pieces", data={
        "document-kind": "kbis", "document-file": (io.BytesIO(PDF), "Kbis société.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, text(response)

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert [(line.scheme_id, line.requested_amount) for line in case.lines] == [
        (world.region_scheme.id, Decimal("60000.00")), (world.bpi_scheme.id, Decimal("40000.00"))]
    assert [aid.amount for aid in case.declared_minimis] == [Decimal("15000.00")]
    assert case.minimis_declared
    assert [document.filename for document in case.documents] == ["Kbis société.pdf"]

    page = text(client.get(edit_url))
    assert "Votre dossier est complet" in page
    assert f'action="/dossiers/{case.reference}/actions/submit"' in page
    assert f'name="version" value="{case.version}"' in page
    assert "Déposer le dossier</button>" in page
    # the dossier page says the same to the applicant
    page = text(client.get(f"/dossiers/{case.reference}"))
    assert "Votre dossier est complet" in page and "Déposer le dossier</button>" in page
    assert "Atelier de découpe laser" in page and "Département de la Côte-d'Or" in page


def test_stale_version_on_the_project_form_says_modified_meanwhile(applicant_client, world):
    case = new_draft(world)
    stale = case.version
    ops.update_project(world.applicant, case, title="Autre titre", description="", starts_on=None,
                       ends_on=None, eligible_cost=None)
    db.session.commit()
    response = applicant_client.post(f"/dossiers/{case.reference}/modifier", data={
        "title": "Mon titre", "version": stale})
    assert response.status_code == 422
    assert "modifié entre-temps" in text(response)
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Autre titre"


# --------------------------------------------------------------------------- amounts

BAD_AMOUNTS = [
    ("0", "doit être supérieur à zéro"),
    ("-100", "doit être supérieur à zéro"),
    ("abc", "doit être un nombre"),
    ("1e999", "doit être un nombre"),
    ("NaN", "doit être un nombre"),
    ("Infinity", "doit être un nombre"),
    ("100,005", "ne peut pas avoir plus de deux décimales"),
    ("99999999999999999999999999999999", "est trop élevé"),
    ("", "est obligatoire"),
]


@pytest.mark.parametrize("amount, message", BAD_AMOUNTS + [
    ("200 000,01", "dépasse le plafond du dispositif"),  # ceiling 200 000 €
    ("100 000,01", "dépasse le taux maximal du dispositif"),  # 40 % of 250 000 €
])
def test_bad_requested_amounts_are_refused_beside_the_field(applicant_client, world, amount, message):
    case = new_draft(world)
    response = applicant_client.post(f"/dossiers/{case.reference}/demandes", data={
        "line-scheme": world.region_scheme.id, "line-requested_amount": amount})
    assert response.status_code == 422
    assert message in error_beside(text(response), "line-requested_amount")
    assert count(FundingLine) == 0


def test_a_scheme_not_in_the_list_is_refused(applicant_client, world, create_scheme):
    closed = create_scheme(world.region, opens_in_days=-60, closes_in_days=-1)
    db.session.commit()
    case = new_draft(world)
    for value in (closed.id, "abc", "", 999999):
        response = applicant_client.post(f"/dossiers/{case.reference}/demandes", data={
            "line-scheme": value, "line-requested_amount": "1000"})
        assert response.status_code == 422
        assert "Choisissez un dispositif" in error_beside(text(response), "line-scheme")
    assert count(FundingLine) == 0


def test_scheme_select_shows_agency_and_instrument(applicant_client, world):
    case = new_draft(world)
    page = text(applicant_client.get(f"/dossiers/{case.reference}/modifier"))
    assert re.search(r"Prêt d'amorçage — Bpifrance — Prêt à taux zéro", page)
    assert 'optgroup label="Bpifrance Bourgogne-Franche-Comté"' in page


@pytest.mark.parametrize("amount, message", BAD_AMOUNTS[:-1])
def test_bad_eligible_costs_are_refused_beside_the_field(applicant_client, world, amount, message):
    case = new_draft(world)
    response = applicant_client.post(f"/dossiers/{case.reference}/modifier", data={
        "title": "Nouveau titre", "eligible_cost": amount, "version": case.version})
    assert response.status_code == 422
    assert message in error_beside(text(response), "eligible_cost")
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert (case.title, case.eligible_cost) == ("Atelier de découpe", Decimal("250000.00"))


@pytest.mark.parametrize("amount, message", BAD_AMOUNTS)
def test_bad_minimis_amounts_are_refused_beside_the_field(applicant_client, world, amount, message):
    case = new_draft(world)
    response = applicant_client.post(f"/dossiers/{case.reference}/de-minimis", data={
        "minimis-granted_on": "2024-01-10", "minimis-granting_body": "Région",
        "minimis-amount": amount, "minimis-regime": "de_minimis"})
    assert response.status_code == 422
    assert message in error_beside(text(response), "minimis-amount")
    assert count(MinimisAid) == 0


@pytest.mark.parametrize("data, field_id, message", [
    ({"minimis-granted_on": ""}, "minimis-granted_on", "Indiquez la date d'octroi de l'aide."),
    ({"minimis-granted_on": "hier"}, "minimis-granted_on", "Indiquez une date valide"),
    ({"minimis-granted_on": (paris_today() + timedelta(days=3)).isoformat()}, "minimis-granted_on",
     "ne peut pas être dans le futur"),
    ({"minimis-granting_body": "  "}, "minimis-granting_body", "L'organisme qui a accordé l'aide"),
    ({"minimis-regime": "gber"}, "minimis-regime", "Choisissez un régime de minimis."),
])
def test_minimis_declaration_refusals(applicant_client, world, data, field_id, message):
    case = new_draft(world)
    form = {"minimis-granted_on": "2024-01-10", "minimis-granting_body": "Région",
            "minimis-amount": "1000", "minimis-regime": "de_minimis", **data}
    response = applicant_client.post(f"/dossiers/{case.reference}/de-minimis", data=form)
    assert response.status_code == 422
    assert message in error_beside(text(response), field_id)
    assert count(MinimisAid) == 0


def test_no_minimis_needs_the_box_ticked(applicant_client, world):
    case = new_draft(world)
    response = applicant_client.post(f"/dossiers/{case.reference}/de-minimis/aucune", data={})
    assert response.status_code == 422
    assert "Cochez la case" in error_beside(text(response), "nominimis-confirm")
    db.session.expire_all()
    assert not db.session.get(Case, case.id).minimis_declared
    response = applicant_client.post(f"/dossiers/{case.reference}/de-minimis/aucune",
                                     data={"nominimis-confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, case.id).minimis_declared
    page = text(applicant_client.get(f"/dossiers/{case.reference}/modifier"))
    assert "aucune aide de minimis reçue" in page


def test_remove_a_declared_aid_and_a_line(applicant_client, world):
    case = new_draft(world)
    line = ops.add_line(world.applicant, case, scheme=world.region_scheme, requested_amount="1000")
    aid = ops.declare_minimis_aid(world.applicant, case, granted_on=paris_today(), granting_body="CCI",
                                  amount="500", regime="de_minimis")
    db.session.commit()
    remove_line = f"/dossiers/{case.reference}/demandes/{line.id}/supprimer"
    remove_aid = f"/dossiers/{case.reference}/de-minimis/{aid.id}/supprimer"
    assert applicant_client.post(remove_line).status_code == 302
    assert applicant_client.post(remove_aid).status_code == 302
    assert count(FundingLine) == 0 and count(MinimisAid) == 0
    assert applicant_client.post(remove_line).status_code == 404
    assert applicant_client.post(remove_aid).status_code == 404


# --------------------------------------------------------------------------- once submitted

def test_editing_a_submitted_case_is_refused(applicant_client, world, create_case):
    case = create_case("submitted")
    edit_url = f"/dossiers/{case.reference}/modifier"
    response = applicant_client.get(edit_url)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/dossiers/{case.reference}")
    page = text(applicant_client.get(response.headers["Location"]))
    assert "Ce dossier ne peut plus être modifié : il est déposé." in page
    assert "Modifier le dossier</a>" not in page

    line = case.lines[0]
    attempts = [
        (edit_url, {"title": "Détourné", "version": case.version}),
        (f"/dossiers/{case.reference}/demandes", {"line-scheme": world.aer_scheme.id,
                                                   "line-requested_amount": "1000"}),
        (f"/dossiers/{case.reference}/demandes/{line.id}/supprimer", {}),
        (f"/dossiers/{case.reference}/de-minimis/aucune", {"nominimis-confirm": "y"}),
        (f"/dossiers/{case.reference}/pieces", {"document-kind": "other",
                                                "document-file": (io.BytesIO(PDF), "a.pdf")}),
    ]
    for url, data in attempts:
        response = applicant_client.post(url, data=data, content_type="multipart/form-data")
        assert response.status_code == 302, url
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.title == "Nouvelle ligne de production" and len(case.lines) == 2
    assert count(Document) == 0


def test_incomplete_case_shows_the_request_and_the_resubmit_form(applicant_client, world, create_case):
    case = create_case("incomplete")
    for url in (f"/dossiers/{case.reference}/modifier", f"/dossiers/{case.reference}"):
        page = text(applicant_client.get(url))
        assert "Informations demandées par l'organisme pilote" in page
        assert "Merci de joindre le Kbis." in page
        assert f'action="/dossiers/{case.reference}/actions/resubmit"' in page
        assert "Renvoyer le dossier complété</button>" in page
    # once submitted, a line can no longer be removed, even while incomplete
    line = case.lines[0]
    response = applicant_client.post(f"/dossiers/{case.reference}/demandes/{line.id}/supprimer")
    assert response.status_code == 302
    assert count(FundingLine) == 2
    page = text(applicant_client.get(f"/dossiers/{case.reference}/modifier"))
    assert "ne peut plus être supprimée" in page


def test_withdraw_goes_through_a_confirmation_page(applicant_client, world, create_case):
    case = create_case("submitted")
    page = text(applicant_client.get(f"/dossiers/{case.reference}"))
    assert f'href="/dossiers/{case.reference}/retrait"' in page
    confirm = text(applicant_client.get(f"/dossiers/{case.reference}/retrait"))
    assert f'action="/dossiers/{case.reference}/actions/withdraw"' in confirm
    assert f'name="version" value="{case.version}"' in confirm
    assert 'name="reason"' in confirm and "Je confirme le retrait" in confirm
    assert "<h1>Retirer le dossier" in confirm


def test_withdraw_confirmation_of_a_final_case_goes_back(applicant_client, world, create_case):
    case = create_case("dismissed")
    response = applicant_client.get(f"/dossiers/{case.reference}/retrait")
    assert response.status_code == 302
    page = text(applicant_client.get(f"/dossiers/{case.reference}"))
    assert "ne peut pas être retiré" in page
    assert "/retrait" not in page


# --------------------------------------------------------------------------- someone else's dossier

def test_another_applicants_dossier_is_not_found(applicant_client, world, create_case):
    theirs = create_case("draft", applicant=world.other_applicant, company=world.other_company)
    their_document = documents.add_document(world.other_applicant, theirs, "other",
                                            FileStorage(io.BytesIO(PDF), "secret.pdf"))
    db.session.commit()
    ref = theirs.reference
    line = theirs.lines[0]
    for url in (f"/dossiers/{ref}", f"/dossiers/{ref}/modifier", f"/dossiers/{ref}/retrait",
                f"/dossiers/{ref}/pieces/{their_document.id}"):
        assert applicant_client.get(url).status_code == 404, url
    posts = [(f"/dossiers/{ref}/modifier", {"title": "Piraté"}),
             (f"/dossiers/{ref}/demandes", {"line-scheme": world.aer_scheme.id,
                                            "line-requested_amount": "10"}),
             (f"/dossiers/{ref}/demandes/{line.id}/supprimer", {}),
             (f"/dossiers/{ref}/de-minimis/aucune", {"nominimis-confirm": "y"}),
             (f"/dossiers/{ref}/pieces/{their_document.id}/supprimer", {}),
             (f"/dossiers/{ref}/messages", {"body": "Bonjour"})]
    for url, data in posts:
        assert applicant_client.post(url, data=data).status_code == 404, url
    db.session.expire_all()
    assert db.session.get(Case, theirs.id).title == "Nouvelle ligne de production"
    assert count(FundingLine) == 2 and count(Document) == 1


def test_agents_cannot_use_the_edit_pages(client, world, create_case):
    case = create_case("incomplete")
    login(client, world.region_agent)
    assert client.get(f"/dossiers/{case.reference}/modifier").status_code == 404
    assert client.post(f"/dossiers/{case.reference}/demandes", data={}).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world, create_case):
    case = create_case("draft")
    for url in ("/dossiers/", f"/dossiers/{case.reference}", f"/dossiers/{case.reference}/modifier"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Company)) == 2


def test_control_characters_are_dropped_from_typed_text(applicant_client, world):
    """Control characters that pasted text may carry are dropped (NUL, which PostgreSQL refuses, is
    refused beside its field before: tests/test_input_cleaning.py)."""
    response = applicant_client.post("/dossiers/nouveau", data={
        "company": world.company.id, "title": "Atelier\x0b laser\x07",
        "description": "Ligne 1\r\nLigne\x0c 2",
        "eligible_cost": "1000\x1b"})
    assert response.status_code == 302
    case = db.session.scalars(select(Case)).one()
    assert (case.title, case.description, case.eligible_cost) == ("Atelier laser", "Ligne 1\nLigne 2",
                                                                  Decimal("1000.00"))
    response = applicant_client.post(f"/dossiers/{case.reference}/de-minimis", data={
        "minimis-granted_on": "2024-01-10", "minimis-granting_body": "Ré\x0bgion",
        "minimis-amount": "10", "minimis-regime": "de_minimis"})
    assert response.status_code == 302
    assert db.session.scalars(select(MinimisAid.granting_body)).one() == "Région"
    response = applicant_client.post(f"/dossiers/{case.reference}/messages", data={"body": "\x0b"})
    assert response.status_code == 422 and "Le message est vide." in text(response)


def test_every_form_of_the_edit_page_carries_a_csrf_token(applicant_client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    case = new_draft(world)
    page = text(applicant_client.get(f"/dossiers/{case.reference}/modifier"))
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    assert len(forms) >= 6
    for form in forms:
        assert re.search(r'<input[^>]*name="(?:[a-z]+-)?csrf_token"[^>]*value="[^"]+"', form), form[:200]
    token = re.search(r'name="line-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"line-scheme": world.region_scheme.id, "line-requested_amount": "1000"}
    assert applicant_client.post(f"/dossiers/{case.reference}/demandes", data=data).status_code == 400
    assert count(FundingLine) == 0
    response = applicant_client.post(f"/dossiers/{case.reference}/demandes",
                                     data={**data, "line-csrf_token": token})
    assert response.status_code == 302 and count(FundingLine) == 1
