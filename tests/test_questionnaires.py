"""Questionnaires per scheme: the editor (draft, preview, publication, who may), the dossier's
questionnaire page (answered once, conditions, errors beside the fields, nothing half-written), the
answers on the dossier page with the wording of their version, the submission checklist, and the
fixed number of queries of both pages."""
import html
import importlib.util

import pytest
from flask import g
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.questionnaires import answers as answer_ops
from atelier.questionnaires import operations as q_ops
from atelier.questionnaires.library import STANDARD_QUESTIONS, seed_standard_questions
from atelier.questionnaires.models import Answer, PublishedVersionChanged, QuestionnaireVersion
from conftest import login as conftest_login
from test_case_page import counting_queries


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture(autouse=True)
def library(app):
    seed_standard_questions()
    db.session.commit()


def own(key, type_="text", label=None, **fields):
    return {"key": key, "type": type_, "label": label or f"Question {key}", **fields}


def build(actor, scheme, sections):
    """A published questionnaire: ``sections`` = [(title, [standard key | (key, required) | own dict])]."""
    for index, (title, questions) in enumerate(sections):
        q_ops.add_section(actor, scheme, title=title)
        for question in questions:
            if isinstance(question, str):
                q_ops.add_standard_question(actor, scheme, section=index, key=question, required=True)
            elif isinstance(question, tuple):
                q_ops.add_standard_question(actor, scheme, section=index, key=question[0],
                                            required=question[1])
            else:
                q_ops.add_own_question(actor, scheme, section=index, **question)
    version = q_ops.publish(actor, scheme)
    db.session.commit()
    return version


@pytest.fixture
def questionnaires(world):
    """The Region asks headcount (standard) and an investment list; Bpifrance asks headcount too,
    the turnover, and whether there are bank loans (then their amount)."""
    region = build(world.admin, world.region_scheme, [("Le projet", [
        "headcount_fte",
        own("investments", "group", "Liste des investissements", required=True, max_rows="5",
            columns="*Libellé | text\nFournisseur | text\n*Montant HT | amount"),
    ])])
    bpi = build(world.admin, world.bpi_scheme, [("Votre financement", [
        "headcount_fte", ("turnover_last_year", False),
        own("bank_loans", "yes_no", "Avez-vous des prêts bancaires ?", required=True),
        own("bank_loans_amount", "amount", "Montant des prêts bancaires", required=True,
            condition_key="bank_loans", condition_value="oui"),
    ])])
    return region, bpi


def fields(case, **by_key):
    """Form data for the questionnaire page: ``common_<key>`` or ``<agency slug>_<key>``."""
    data = {"version": str(case.version)}
    lines = {line.agency.slug: line for line in case.lines}
    for name, value in by_key.items():
        scope, _, key = name.partition("__")
        prefix = "common" if scope == "common" else f"line{lines[scope].id}"
        data[f"{prefix}-{key}"] = value
    return data


# --------------------------------------------------------------------------- the editor

def test_a_line_answers_the_version_current_when_it_was_added(world, create_case, questionnaires):
    before = create_case("draft", lines=[(world.aer_scheme, "10000")])
    region, bpi = questionnaires
    case = create_case("draft")
    assert {line.agency.slug: line.questionnaire_version_id for line in case.lines} == {
        "region": region.id, "bpifrance": bpi.id}
    assert before.lines[0].questionnaire_version_id is None  # the AER has published no questionnaire


def test_publishing_makes_a_new_version_and_never_changes_the_old_one(world, questionnaires):
    region, _ = questionnaires
    q_ops.add_own_question(world.admin, world.region_scheme, section=0, **own("website", "text", "Site web"))
    db.session.commit()
    db.session.refresh(region)
    assert [q["key"] for q in region.questions()] == ["headcount_fte", "investments"]  # the draft moved on
    second = q_ops.publish(world.admin, world.region_scheme)
    db.session.commit()
    assert (second.number, [q["key"] for q in second.questions()]) == (
        2, ["headcount_fte", "investments", "website"])
    assert second.structure["sections"][0]["questions"][0]["label"] == STANDARD_QUESTIONS[0]["label"]
    region.structure = {"sections": []}
    with pytest.raises(PublishedVersionChanged):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(QuestionnaireVersion, region.id))
    with pytest.raises(PublishedVersionChanged):
        db.session.flush()
    db.session.rollback()


def test_the_draft_is_edited_moved_and_checked(world):
    scheme = world.aer_scheme
    q_ops.add_section(world.admin, scheme, title="Première")
    q_ops.add_own_question(world.admin, scheme, section=0, **own("has_site", "yes_no", "Site ?"))
    q_ops.add_own_question(world.admin, scheme, section=0, **own(
        "site", "text", "Adresse du site", condition_key="has_site", condition_value="oui"))
    with pytest.raises(ActionRefused, match="doit rester avant"):  # a condition speaks of an earlier question
        q_ops.move_item(world.admin, scheme, item="q0-1", direction="up")
    with pytest.raises(ActionRefused, match="doit rester avant"):
        q_ops.remove_item(world.admin, scheme, item="q0-0")
    with pytest.raises(ActionRefused, match="déjà prise"):
        q_ops.add_own_question(world.admin, scheme, section=0, **own("site"))
    with pytest.raises(ActionRefused, match="déjà prise"):
        q_ops.add_own_question(world.admin, scheme, section=0, **own("headcount_fte"))
    with pytest.raises(ActionRefused, match="au moins deux"):
        q_ops.add_own_question(world.admin, scheme, section=0, **own("kind", "choice", choices="Seul"))
    with pytest.raises(ActionRefused, match="modifié entre-temps"):
        q_ops.add_section(world.admin, scheme, title="Seconde", expected_version=0)
    q_ops.add_section(world.admin, scheme, title="Seconde")
    q_ops.move_item(world.admin, scheme, item="s1", direction="up")
    assert [s["title"] for s in q_ops.draft_of(scheme).structure["sections"]] == ["Seconde", "Première"]


def test_editor_pages_preview_and_publish(client, world):
    login(client, world.admin)
    code = world.aer_scheme.code
    base = f"/questionnaires/dispositifs/{code}"
    assert client.post(f"{base}/sections", data={"title": "", "version": "0"}).status_code == 422
    assert client.post(f"{base}/sections", data={"title": "Emplois", "version": "0"}).status_code == 302
    own_fields = {"own-section": "0", "own-label": "Nombre de sites", "own-key": "Sites",
                  "own-type": "integer", "own-version": "1"}
    response = client.post(f"{base}/questions", data=own_fields)
    assert response.status_code == 422
    assert 'id="own-key-error"' in text_of(response) and "La clé commence" in text_of(response)
    assert client.post(f"{base}/questions", data={**own_fields, "own-key": "sites", "own-min": "1",
                                                  "own-help": "Établissements"}).status_code == 302
    assert client.post(f"{base}/questions-standard", data={
        "library-section": "0", "library-standard": "jobs_created_3y", "library-required": "y",
        "library-version": "2"}).status_code == 302
    preview = text_of(client.get(f"{base}/apercu"))
    assert "Nombre de sites" in preview and "Emplois créés dans les trois ans" in preview
    assert 'aria-describedby="q-apercu-sites-help"' in preview and " disabled" in preview
    assert db.session.scalar(select(func.count()).select_from(QuestionnaireVersion)) == 0
    assert client.post(f"{base}/publier", data={"version": "3"}).status_code == 302
    assert "Version 1, publiée" in text_of(client.get(base))


def test_who_may_edit_a_questionnaire(client, world, create_user):
    manager = create_user("agent", agency=world.region)
    q_ops.set_scheme_manager(manager, True)
    elsewhere = create_user("agent", agency=world.bpi)
    q_ops.set_scheme_manager(elsewhere, True)
    db.session.commit()
    region_editor = f"/questionnaires/dispositifs/{world.region_scheme.code}"
    login(client, manager)
    assert client.get(region_editor).status_code == 200
    response = client.post(f"{region_editor}/sections", data={"title": "Projet", "version": "0"})
    assert response.status_code == 302
    assert "Questionnaires" in text_of(client.get("/questionnaires/"))
    for person in (elsewhere, world.region_agent, world.applicant):  # another agency, not flagged, applicant
        login(client, person)
        assert client.get(region_editor).status_code == 404
        response = client.post(f"{region_editor}/sections", data={"title": "X", "version": "1"})
        assert response.status_code == 404
    with pytest.raises(ActionRefused):
        q_ops.add_section(elsewhere, world.region_scheme, title="X")
    with pytest.raises(ActionRefused, match="Seul un agent"):
        q_ops.set_scheme_manager(world.admin, True)
    assert len(q_ops.draft_of(world.region_scheme).structure["sections"]) == 1


def test_admin_creates_a_scheme_manager(client, world):
    login(client, world.admin)
    response = client.post("/admin/utilisateurs/nouveau", data={
        "name": "Gestionnaire", "email": "gestion@region.fr", "kind": "agent", "agency": str(world.region.id),
        "scheme_manager": "y", "password": "Un mot de passe solide 42",
        "confirm": "Un mot de passe solide 42"})
    assert response.status_code == 302
    from atelier.auth.models import User
    assert db.session.scalar(select(User).where(User.email == "gestion@region.fr")).is_scheme_manager


# --------------------------------------------------------------------------- the dossier's questionnaires

def test_a_standard_question_of_two_schemes_is_asked_once(client, world, create_case, questionnaires):
    case = create_case("draft")
    login(client, world.applicant)
    page = text_of(client.get(f"/dossiers/{case.reference}/questionnaires"))
    assert page.count("Effectif salarié en équivalents temps plein") == 1
    assert 'name="common-headcount_fte"' in page
    lines = {line.agency.slug: line for line in case.lines}
    assert f'name="line{lines["region"].id}-investments-0-libelle"' in page
    assert f'name="line{lines["bpifrance"].id}-bank_loans"' in page


def test_answers_are_read_by_type_and_stored_typed(client, world, create_case, questionnaires):
    case = create_case("draft")
    login(client, world.applicant)
    url = f"/dossiers/{case.reference}/questionnaires"
    response = client.post(url, data=fields(case, common__headcount_fte="douze",
                                            bpifrance__bank_loans="oui", bpifrance__bank_loans_amount="abc"))
    page = text_of(response)
    assert response.status_code == 422
    assert "Indiquez un nombre entier" in page and 'id="q-common-headcount_fte-error"' in page
    assert 'aria-describedby="q-common-headcount_fte-help q-common-headcount_fte-error"' in page
    assert "Le montant doit être un nombre" in page
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0  # nothing half-written
    data = fields(case, common__headcount_fte="12", common__turnover_last_year="1 500 000,50",
                  bpifrance__bank_loans="oui", bpifrance__bank_loans_amount="80000",
                  region__investments="")
    region_line = next(line for line in case.lines if line.agency.slug == "region")
    data.update({f"line{region_line.id}-investments-0-libelle": "Presse plieuse",
                 f"line{region_line.id}-investments-0-fournisseur": "",
                 f"line{region_line.id}-investments-0-montant_ht": "120 000",
                 f"line{region_line.id}-investments-1-libelle": "",
                 f"line{region_line.id}-investments-1-montant_ht": ""})
    assert client.post(url, data=data).status_code == 302
    stored = {(a.line_id, a.question_key): a.value for a in db.session.scalars(select(Answer))}
    assert stored == {
        (None, "headcount_fte"): 12, (None, "turnover_last_year"): "1500000.50",
        (next(l.id for l in case.lines if l.agency.slug == "bpifrance"), "bank_loans"): True,
        (next(l.id for l in case.lines if l.agency.slug == "bpifrance"), "bank_loans_amount"): "80000.00",
        (region_line.id, "investments"): [{"libelle": "Presse plieuse", "fournisseur": None,
                                           "montant_ht": "120000.00"}],
    }
    again = text_of(client.get(url))
    assert 'value="1500000,50"' in again and 'value="Presse plieuse"' in again


def test_a_hidden_question_is_neither_required_nor_stored(world, create_case, questionnaires):
    case = create_case("draft")
    bpi = next(line for line in case.lines if line.agency.slug == "bpifrance")
    form = _form(fields(case, common__headcount_fte="3", bpifrance__bank_loans="non",
                        bpifrance__bank_loans_amount="pas un montant"))  # hidden: its error does not count
    answer_ops.save_answers(world.applicant, case, form)
    db.session.commit()
    keys = {(a.line_id, a.question_key) for a in db.session.scalars(select(Answer))}
    assert (bpi.id, "bank_loans_amount") not in keys
    problems = " ".join(ops.submission_problems(case, world.region_meeting.meets_on))
    assert "Montant des prêts bancaires" not in problems
    assert "« Prêt d'amorçage » : répondez à « Avez-vous" not in problems


def _form(data):
    from werkzeug.datastructures import MultiDict
    return MultiDict(data)


def test_submission_lists_the_missing_answers_per_scheme(client, world, create_case, questionnaires):
    case = create_case("draft")
    with pytest.raises(ActionRefused) as refused:
        ops.submit_case(world.applicant, case)
    message = refused.value.message
    assert ("Questionnaire « Aide à l'investissement » : répondez à « Effectif salarié en équivalents temps "
            "plein (ETP) », « Liste des investissements ».") in message
    assert ("Questionnaire « Prêt d'amorçage » : répondez à « Effectif salarié en équivalents temps plein "
            "(ETP) », « Avez-vous des prêts bancaires ? ».") in message
    db.session.rollback()
    answer_ops.save_answers(world.applicant, case, _form(fields(
        case, common__headcount_fte="3", bpifrance__bank_loans="oui")))
    db.session.commit()
    problems = ops.submission_problems(case, world.region_meeting.meets_on)
    assert ("Questionnaire « Prêt d'amorçage » : répondez à « Montant des prêts bancaires ».") in problems
    region_line = next(line for line in case.lines if line.agency.slug == "region")
    data = fields(case, common__headcount_fte="3", bpifrance__bank_loans="oui",
                  bpifrance__bank_loans_amount="50000")
    data[f"line{region_line.id}-investments-0-libelle"] = "Four"
    data[f"line{region_line.id}-investments-0-montant_ht"] = "9000"
    answer_ops.save_answers(world.applicant, case, _form(data))
    ops.submit_case(world.applicant, case)
    db.session.commit()
    assert case.state == "submitted"
    login(client, world.applicant)
    assert client.get(f"/dossiers/{case.reference}/questionnaires").status_code == 302  # no longer editable


def test_answers_keep_the_wording_of_their_version(client, world, create_case, questionnaires):
    case = create_case("draft")
    data = fields(case, common__headcount_fte="3", bpifrance__bank_loans="oui",
                  bpifrance__bank_loans_amount="1000")
    region_line = next(line for line in case.lines if line.agency.slug == "region")
    data[f"line{region_line.id}-investments-0-libelle"] = "Four"
    data[f"line{region_line.id}-investments-0-montant_ht"] = "9000"
    answer_ops.save_answers(world.applicant, case, _form(data))
    ops.submit_case(world.applicant, case)  # the agencies see it
    db.session.commit()
    # Bpifrance rewords its question in a new version: the dossier keeps the version it answered
    q_ops.remove_item(world.admin, world.bpi_scheme, item="q0-3")
    q_ops.remove_item(world.admin, world.bpi_scheme, item="q0-2")
    q_ops.add_own_question(world.admin, world.bpi_scheme, section=0,
                           **own("bank_loans", "yes_no", "Un prêt bancaire finance-t-il le projet ?"))
    assert q_ops.publish(world.admin, world.bpi_scheme).number == 2
    db.session.commit()
    for person in (world.applicant, world.bpi_agent):
        login(client, person)
        page = text_of(client.get(f"/dossiers/{case.reference}"))
        assert "Avez-vous des prêts bancaires ?" in page and "Un prêt bancaire finance-t-il" not in page
        assert "Montant des prêts bancaires" in page and "1\u202f000,00\xa0€" in page
        assert "questionnaire version 1" in page


def test_another_company_gets_404(client, world, create_case, questionnaires):
    case = create_case("draft")
    login(client, world.other_applicant)
    url = f"/dossiers/{case.reference}/questionnaires"
    assert client.get(url).status_code == 404
    assert client.post(url, data=fields(case, common__headcount_fte="3")).status_code == 404
    login(client, world.region_agent)
    assert client.get(url).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0


def test_the_migration_seeds_the_library():
    migration = _load_migration()
    assert migration.STANDARD_QUESTIONS == STANDARD_QUESTIONS
    assert {item["key"] for item in STANDARD_QUESTIONS} >= {
        "headcount_fte", "turnover_last_year", "jobs_created_3y", "jobs_maintained", "company_creation_date",
        "own_contribution"}


def _load_migration():
    from pathlib import Path

    path = Path(__file__).parent.parent / "migrations" / "versions" / "0012_questionnaires.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- fixed number of queries

def _questionnaire_of(world, scheme, count: int):
    questions = []
    for n in range(count):
        kind = ("text", "amount", "yes_no", "integer", "date")[n % 5]
        questions.append(own(f"q{n}", kind, f"Question numéro {n}", required=True))
    build(world.admin, scheme, [("Section", ["headcount_fte", *questions])])


def _answer_all(world, case, count: int):
    values = {"text": "Réponse", "amount": "100", "yes_no": "oui", "integer": "4", "date": "2024-01-31"}
    by_key = {"common__headcount_fte": "3"}
    for slug in ("region", "bpifrance"):
        for n in range(count):
            by_key[f"{slug}__q{n}"] = values[("text", "amount", "yes_no", "integer", "date")[n % 5]]
    answer_ops.save_answers(world.applicant, case, _form(fields(case, **by_key)))
    db.session.commit()


@pytest.mark.parametrize("path", ["", "/questionnaires"])
def test_the_pages_issue_a_fixed_number_of_queries(client, world, create_case, create_scheme, path):
    counts = []
    for size in (5, 50):
        region = create_scheme(world.region, committee=world.region_committee)
        bpi = create_scheme(world.bpi, committee=world.bpi_committee, instrument="zero_rate_loan")
        _questionnaire_of(world, region, size)
        _questionnaire_of(world, bpi, size)
        case = create_case("draft", lines=[(region, "1000"), (bpi, "1000")])
        _answer_all(world, case, size)
        login(client, world.applicant)
        db.session.expire_all()
        with counting_queries() as counted:
            response = client.get(f"/dossiers/{case.reference}{path}")
        assert response.status_code == 200
        assert f"Question numéro {size - 1}" in text_of(response)
        counts.append(counted)
    assert counts[0][0] == counts[1][0], "\n\n".join(counts[1][1:])


# --------------------------------------------------------------------------- accessible pages

def test_every_type_is_asked_on_an_accessible_page(client, world, create_case):
    from test_html_quality import check_form_error_page, check_page

    kinds = [own("t", "text", "Nom commercial", help="Tel qu'il figure sur vos factures"),
             own("lt", "long_text", "Présentation"), own("n", "integer", "Nombre de sites", min="1"),
             own("a", "amount", "Fonds propres"), own("p", "percentage", "Part export"),
             own("d", "date", "Date du premier bilan"), own("yn", "yes_no", "Exportez-vous ?"),
             own("c", "choice", "Secteur", choices="Industrie\nServices"),
             own("cs", "choices", "Marchés", choices="France\nEurope\nMonde", condition_key="yn",
                 condition_value="oui"),
             own("s", "siret", "SIRET du fournisseur"),
             own("doc", "document", "Devis", document_kind="quotes"),
             own("g", "group", "Investissements", columns="*Libellé | text\nMontant | amount\nDate | date")]
    build(world.admin, world.aer_scheme, [("Tout", ["own_contribution", *kinds])])
    case = create_case("draft", lines=[(world.aer_scheme, "10000")])
    login(client, world.applicant)
    url = f"/dossiers/{case.reference}/questionnaires"
    page = text_of(client.get(url))
    assert check_page(page) == []
    line = case.lines[0]
    response = client.post(url, data={"version": str(case.version), f"line{line.id}-n": "0",
                                      f"line{line.id}-s": "123", f"line{line.id}-g-0-montant": "x",
                                      f"line{line.id}-g-0-libelle": "Tour"})
    assert response.status_code == 422
    page = text_of(response)
    assert check_page(page) == [] and check_form_error_page(page) == []
    assert "La valeur doit être au moins 1." in page and "Le numéro SIRET compte 14 chiffres" in page
    assert "Ligne 1, « Montant » : Le montant doit être un nombre" in page
    edit_page = text_of(client.get(f"/dossiers/{case.reference}/modifier"))
    assert f'href="/dossiers/{case.reference}/questionnaires"' in edit_page
    login(client, world.admin)
    response = client.post(f"/questionnaires/dispositifs/{world.aer_scheme.code}/questions", data={
        "own-section": "0", "own-label": "", "own-key": "x", "own-type": "group", "own-columns": "Nom | couleur"})
    assert response.status_code == 422
    assert check_page(text_of(response)) == [] and check_form_error_page(text_of(response)) == []
    for path in ("", "/apercu"):
        editor = client.get(f"/questionnaires/dispositifs/{world.aer_scheme.code}{path}")
        assert check_page(text_of(editor)) == []


def test_a_line_removed_from_a_draft_takes_its_answers_along(world, create_case, questionnaires):
    case = create_case("draft")
    data = fields(case, common__headcount_fte="3", bpifrance__bank_loans="non")
    answer_ops.save_answers(world.applicant, case, _form(data))
    db.session.commit()
    bpi = next(line for line in case.lines if line.agency.slug == "bpifrance")
    ops.remove_line(world.applicant, case, bpi)
    db.session.commit()
    kept = {(a.line_id, a.question_key) for a in db.session.scalars(select(Answer))}
    assert kept == {(None, "headcount_fte")}
    assert ops.submission_problems(case, world.region_meeting.meets_on)[-1].startswith(
        "Questionnaire « Aide à l'investissement » : répondez à « Liste des investissements »")


def test_a_stale_page_saves_nothing(client, world, create_case, questionnaires):
    case = create_case("draft")
    seen = case.version
    answer_ops.save_answers(world.applicant, case, _form(fields(case, common__headcount_fte="3")))
    db.session.commit()
    login(client, world.applicant)
    data = fields(case, common__headcount_fte="40")
    data["version"] = str(seen)
    response = client.post(f"/dossiers/{case.reference}/questionnaires", data=data)
    assert "modifié entre-temps" in text_of(client.get(response.headers.get("Location", "/")) if
                                            response.status_code == 302 else response)
    assert db.session.scalar(select(Answer.value).where(Answer.question_key == "headcount_fte")) == 3
