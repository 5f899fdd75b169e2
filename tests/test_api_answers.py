"""The questionnaires through the API: a dossier's answers read typed with the wording of the version
answered, written with a write token while the dossier is editable by the questionnaire page's own
rules (types, conditions, nothing half-written, optimistic version), then the dossier submitted."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.questionnaires import operations as q_ops
from atelier.questionnaires.models import Answer
from atelier.questionnaires.types import dump, from_json, load, parse
from test_api_story import bearer, call  # noqa: F401  (fixture)
from test_questionnaires import build, library, own, questionnaires  # noqa: F401  (fixtures)
from test_questionnaires_properties import DOCUMENTS, SETTINGS, questions, values

HEADCOUNT = "Effectif salarié en équivalents temps plein (ETP)"


@pytest.fixture
def draft(client, world, bearer, questionnaires):
    """A draft asking the Region (headcount, investments) and Bpifrance (headcount, turnover, loans)."""
    applicant = bearer(world.applicant)
    case = call(client, "POST", "/cases", applicant, {
        "company_id": world.company.id, "title": "Nouvelle ligne de production", "eligible_cost": 250000,
        "description": "Achat d'une machine.", "starts_on": paris_today().isoformat()}, 201)
    reference = case["reference"]
    region = call(client, "POST", f"/cases/{reference}/lines", applicant,
                  {"scheme": world.region_scheme.code, "requested_amount": 60000}, 201)
    bpi = call(client, "POST", f"/cases/{reference}/lines", applicant,
               {"scheme": world.bpi_scheme.code, "requested_amount": 40000}, 201)
    call(client, "POST", f"/cases/{reference}/no-minimis", applicant)
    return {"reference": reference, "region": region["id"], "bpi": bpi["id"], "headers": applicant}


def good_answers(draft, **changes):
    answers = [
        {"line_id": None, "question_key": "headcount_fte", "value": 12},
        {"line_id": None, "question_key": "turnover_last_year", "value": "1 250 000,50"},
        {"line_id": draft["region"], "question_key": "investments", "value": [
            {"libelle": "Presse plieuse", "fournisseur": "Amada", "montant_ht": "120000"},
            {"libelle": "=Robot", "fournisseur": None, "montant_ht": 30000}]},
        {"line_id": draft["bpi"], "question_key": "bank_loans", "value": True},
        {"line_id": draft["bpi"], "question_key": "bank_loans_amount", "value": "80000"},
    ]
    for item in answers:
        if item["question_key"] in changes:
            item["value"] = changes[item["question_key"]]
    return answers


def by_key(case) -> dict:
    return {(item["line_id"], item["question_key"]): item for item in case["answers"]}


def test_a_dossier_shows_every_question_it_asks_typed_and_unanswered(client, draft):
    case = call(client, "GET", f"/cases/{draft['reference']}", draft["headers"])
    answers = by_key(case)
    assert list(answers) == [(None, "headcount_fte"), (None, "turnover_last_year"),
                             (draft["region"], "investments"), (draft["bpi"], "bank_loans")]  # amount hidden
    headcount = answers[(None, "headcount_fte")]
    assert headcount == {"line_id": None, "question_key": "headcount_fte", "type": "integer",
                         "required": True, "label": HEADCOUNT, "version": 1, "value": None}
    assert [column["key"] for column in answers[(draft["region"], "investments")]["columns"]] == [
        "libelle", "fournisseur", "montant_ht"]


def test_answers_are_written_typed_then_the_dossier_is_submitted(client, world, draft, bearer):
    reference, headers = draft["reference"], draft["headers"]
    refused = call(client, "POST", f"/cases/{reference}/events", headers, {"event": "submit"}, 409)
    assert "Liste des investissements" in refused["detail"]

    case = call(client, "GET", f"/cases/{reference}", headers)
    case = call(client, "PUT", f"/cases/{reference}/answers", headers,
                {"answers": good_answers(draft), "version": case["version"]})
    answers = by_key(case)
    assert answers[(None, "headcount_fte")]["value"] == 12
    assert answers[(None, "turnover_last_year")]["value"] == "1250000.50"
    assert answers[(draft["bpi"], "bank_loans")]["value"] is True
    assert answers[(draft["bpi"], "bank_loans_amount")]["value"] == "80000.00"
    assert answers[(draft["region"], "investments")]["value"] == [
        {"libelle": "Presse plieuse", "fournisseur": "Amada", "montant_ht": "120000.00"},
        {"libelle": "=Robot", "fournisseur": None, "montant_ht": "30000.00"}]

    case = call(client, "POST", f"/cases/{reference}/events", headers, {"event": "submit"})
    assert case["state"] == "submitted"
    # submitted: the answers are read-only now
    refused = call(client, "PUT", f"/cases/{reference}/answers", headers,
                   {"answers": good_answers(draft)}, 409)
    assert "ne peut plus être modifié" in refused["detail"]
    # sent back as incomplete: the applicant corrects an answer, then sends the dossier again
    call(client, "POST", f"/cases/{reference}/events", bearer(world.region_agent),
         {"event": "request_info", "message": "Précisez l'effectif."})
    case = call(client, "PUT", f"/cases/{reference}/answers", headers,
                {"answers": good_answers(draft, headcount_fte=14)})
    assert by_key(case)[(None, "headcount_fte")]["value"] == 14
    case = call(client, "POST", f"/cases/{reference}/events", headers, {"event": "resubmit"})
    assert case["state"] == "submitted"


def test_each_wrong_answer_is_named_and_nothing_is_written(client, draft):
    reference, headers = draft["reference"], draft["headers"]
    answers = good_answers(draft, headcount_fte="douze", bank_loans_amount="-5",
                           investments=[{"libelle": "", "fournisseur": "Amada", "montant_ht": "12"}])
    problem = call(client, "PUT", f"/cases/{reference}/answers", headers, {"answers": answers}, 422)
    details = {error["field"]: error["detail"] for error in problem["errors"]}
    assert set(details) == {"answers/0/value", "answers/2/value", "answers/4/value"}
    assert details["answers/0/value"].startswith(f"« {HEADCOUNT} » : ")
    assert "Libellé" in details["answers/2/value"]
    assert db.session.scalar(select(Answer.id)) is None


@pytest.mark.parametrize("item, message", [
    ({"line_id": None, "question_key": "bank_loans", "value": True}, "propre à une demande"),
    ({"line_id": "REGION", "question_key": "headcount_fte", "value": 3}, "une fois pour tout le dossier"),
    ({"line_id": None, "question_key": "nope", "value": "x"}, "ne pose pas cette question"),
    ({"line_id": None, "question_key": "headcount_fte", "value": True}, "nombre entier"),
    ({"line_id": "BPI", "question_key": "bank_loans", "value": "oui"}, "true ou false"),
    ({"line_id": None, "question_key": "turnover_last_year", "value": 4}, "deux fois"),
])
def test_what_the_dossier_does_not_ask_is_refused(client, draft, item, message):
    item = {**item, "line_id": {"REGION": draft["region"], "BPI": draft["bpi"]}.get(item["line_id"])}
    answers = [{"line_id": None, "question_key": "turnover_last_year", "value": 3}, item]
    problem = call(client, "PUT", f"/cases/{draft['reference']}/answers", draft["headers"],
                   {"answers": answers}, 422)
    assert [error["field"] for error in problem["errors"]][0].startswith("answers/1")
    assert message in problem["errors"][0]["detail"]


def test_a_hidden_question_keeps_no_answer_and_a_left_out_one_loses_it(client, draft):
    reference, headers = draft["reference"], draft["headers"]
    call(client, "PUT", f"/cases/{reference}/answers", headers, {"answers": good_answers(draft)})
    case = call(client, "PUT", f"/cases/{reference}/answers", headers,
                {"answers": good_answers(draft, bank_loans=False)[1:]})
    answers = by_key(case)
    assert (draft["bpi"], "bank_loans_amount") not in answers  # hidden by its condition
    assert answers[(None, "headcount_fte")]["value"] is None  # left out
    keys = set(db.session.scalars(select(Answer.question_key)))
    assert keys == {"turnover_last_year", "investments", "bank_loans"}


def test_a_stale_version_and_the_wrong_people_are_refused(client, world, draft, bearer):
    reference, headers = draft["reference"], draft["headers"]
    case = call(client, "GET", f"/cases/{reference}", headers)
    call(client, "PUT", f"/cases/{reference}/answers", headers,
         {"answers": good_answers(draft), "version": case["version"]})
    call(client, "PUT", f"/cases/{reference}/answers", headers,
         {"answers": good_answers(draft, headcount_fte=40), "version": case["version"]}, 409)
    call(client, "PUT", f"/cases/{reference}/answers", bearer(world.applicant, "read"),
         {"answers": good_answers(draft)}, 403)
    call(client, "PUT", f"/cases/{reference}/answers", bearer(world.region_agent),
         {"answers": good_answers(draft)}, 404)  # a draft is nobody else's to see
    assert db.session.scalar(select(Answer.value).where(Answer.question_key == "headcount_fte")) == 12


def test_the_document_refuses_what_is_no_answer(client, draft):
    problem = call(client, "PUT", f"/cases/{draft['reference']}/answers", draft["headers"],
                   {"answers": [{"question_key": "headcount_fte", "value": {"a": 1}}], "extra": 1}, 422)
    assert {error["field"] for error in problem["errors"]} == {"answers", "extra"}
    problem = call(client, "PUT", f"/cases/{draft['reference']}/answers", draft["headers"],
                   {"answers": [{"question_key": "headcount_fte", "value": 12.5}]}, 422)
    assert problem["errors"][0]["field"] == "answers"


def test_answers_keep_the_wording_of_the_version_answered(client, world, draft):
    """The Region rewords its question and publishes version 2: the draft answered version 1."""
    reference, headers = draft["reference"], draft["headers"]
    call(client, "PUT", f"/cases/{reference}/answers", headers, {"answers": good_answers(draft)})
    scheme = world.region_scheme
    draft_structure = q_ops.draft_of(scheme).structure
    position = [q.get("key") for q in draft_structure["sections"][0]["questions"]].index("investments")
    q_ops.remove_item(world.admin, scheme, item=f"q0-{position}")
    q_ops.add_own_question(world.admin, scheme, section=0, **own(
        "investments", "group", "Investissements prévus (nouvelle liste)", max_rows="5",
        columns="*Libellé | text\n*Montant HT | amount"))
    version = q_ops.publish(world.admin, scheme)
    db.session.commit()
    assert version.number == 2

    item = by_key(call(client, "GET", f"/cases/{reference}", headers))[(draft["region"], "investments")]
    assert item["label"] == "Liste des investissements" and item["version"] == 1
    assert [column["key"] for column in item["columns"]] == ["libelle", "fournisseur", "montant_ht"]


def test_a_date_answer_is_read_in_ascii_digits_only(client, world, bearer, create_scheme):
    scheme = create_scheme(world.region)
    scheme.code = "DATES"
    build(world.admin, scheme, [("Dates", [own("started", "date", "Date de début des travaux")])])
    applicant = bearer(world.applicant)
    case = call(client, "POST", "/cases", applicant, {"company_id": world.company.id, "title": "Projet"}, 201)
    line = call(client, "POST", f"/cases/{case['reference']}/lines", applicant,
                {"scheme": "DATES", "requested_amount": 1000}, 201)
    url = f"/cases/{case['reference']}/answers"
    problem = call(client, "PUT", url, applicant, {"answers": [
        {"line_id": line["id"], "question_key": "started", "value": "٢٠٢٥-٠١-٣١"}]}, 422)
    assert "date valide" in problem["errors"][0]["detail"]
    case = call(client, "PUT", url, applicant, {"answers": [
        {"line_id": line["id"], "question_key": "started", "value": "31/01/2025"}]})
    assert case["answers"][0]["value"] == "2025-01-31"


def test_the_answers_are_typed_in_the_document_and_linked_from_a_dossier(client, draft):
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    call(client, "PUT", f"/cases/{draft['reference']}/answers", draft["headers"],
         {"answers": good_answers(draft)})
    case = call(client, "GET", f"/cases/{draft['reference']}", draft["headers"])
    validator = Draft202012Validator({"$ref": "#/components/schemas/Answer",
                                      "components": document["components"]})
    for item in case["answers"]:
        assert not list(validator.iter_errors(item)), item
    variants = {variant["properties"]["type"]["const"]: variant for variant in schemas["Answer"]["oneOf"]}
    assert variants["yes_no"]["properties"]["value"]["type"] == ["boolean", "null"]
    assert list(Draft202012Validator({**variants["integer"], "components": document["components"]})
                .iter_errors({**case["answers"][0], "value": "douze"}))
    links = document["paths"]["/cases/{reference}"]["get"]["responses"]["200"]["links"]
    assert links["ReplaceAnswers"]["operationId"] == "replace_answers"


def test_reading_a_dossier_costs_the_same_queries_whatever_its_answers(client, world, draft):
    from test_case_page import counting_queries

    url = f"/api/v1/cases/{draft['reference']}"
    with counting_queries() as few:
        assert client.get(url, headers=draft["headers"]).status_code == 200
    rows = [{"libelle": f"Machine {n}", "montant_ht": 1000 + n} for n in range(5)]
    call(client, "PUT", f"/cases/{draft['reference']}/answers", draft["headers"],
         {"answers": good_answers(draft, investments=rows)})
    with counting_queries() as many:
        assert client.get(url, headers=draft["headers"]).status_code == 200
    assert many[0] == few[0]


# --------------------------------------------------------------------------- properties

@SETTINGS
@given(st.data())
def test_what_the_api_shows_reads_back_as_the_same_answer(data):
    """Any answer of any question, as ``answers`` shows it, sent back through the API is that answer."""
    question = data.draw(questions())
    value = data.draw(values(question))
    shown_json = json.loads(json.dumps(dump(question, value)))
    assert parse(question, from_json(question, shown_json), DOCUMENTS) == value
    assert parse(question, from_json(question, None), DOCUMENTS) is None  # null: no answer


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


@SETTINGS
@given(st.data())
def test_any_json_value_is_read_or_refused_in_french(data):
    question = data.draw(questions())
    try:
        value = parse(question, from_json(question, data.draw(JSON_VALUES)), DOCUMENTS)
    except ActionRefused as refused:
        assert refused.message and refused.message[0].isupper()
    else:
        if value is not None:
            assert load(question, json.loads(json.dumps(dump(question, value)))) == value
