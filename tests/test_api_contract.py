"""The API does what its OpenAPI document says: every request is judged against the document first
(422, in French, one entry per field), a rule of the product that the document cannot state answers
409 naming the field, every error under /api/ is a problem document, and OPTIONS tells the truth."""
from datetime import timedelta

import pytest

from atelier.api.tokens import create_token
from atelier.extensions import db
from atelier.formatting import paris_today

PROBLEM = "application/problem+json"


@pytest.fixture
def applicant(world):
    _, token = create_token(world.applicant, name="contrat", scope="write", days=1)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def agent(world):
    _, token = create_token(world.bpi_agent, name="contrat", scope="write", days=1)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


def fields(response, status: int = 422) -> dict:
    return {error["field"]: error["detail"] for error in problem(response, status)["errors"]}


@pytest.mark.parametrize("path", ["/api/v1/lines/99999999999", "/api/v1/lines/2147483648/events",
                                  "/api/v1/opinions/12345678901234567890", "/api/v2/cases", "/api/"])
def test_every_404_under_api_is_a_french_problem(client, agent, path):
    body = problem(client.get(path, headers=agent), 404)
    assert "n'existe pas" in body["detail"]


def test_options_lists_the_methods_the_address_really_has(client):
    for path, methods in (("/api/v1/me", "GET, HEAD, OPTIONS"), ("/api/v1/cases", "GET, HEAD, POST, OPTIONS"),
                          ("/api/v1/cases/AP-2026-00001", "GET, HEAD, PATCH, OPTIONS"),
                          ("/api/v1/cases/AP-2026-00001/lines/3", "DELETE, OPTIONS"),
                          ("/api/v1/lines/7/events", "POST, OPTIONS")):
        response = client.options(path)
        assert response.status_code == 204 and response.headers["Allow"] == methods, (path, response.headers)
    problem(client.options("/api/v1/nulle-part"), 404)


def test_an_unknown_method_is_405_with_allow(client, agent):
    response = client.put("/api/v1/me", headers=agent)
    assert problem(response, 405) and response.headers["Allow"] == "GET"


def test_an_unknown_value_of_a_query_parameter_is_refused(client, agent, applicant):
    for token in (agent, applicant):  # an applicant has no opinions to list, and is refused all the same
        assert "pending, answered, all" in fields(client.get("/api/v1/opinions?status=AAA", headers=token))["status"]
    assert "status" not in client.get("/api/v1/opinions?status=all", headers=agent).get_json()
    assert set(fields(client.get("/api/v1/cases?state=perdu&limit=0&updated_since=hier", headers=agent))) == {
        "state", "limit", "updated_since"}
    assert fields(client.get("/api/v1/cases?limit=abc", headers=agent))["limit"] == "Un nombre entier est attendu."
    assert "updated_since" in fields(client.get("/api/v1/cases?updated_since=2026-02-30T08:00:00Z", headers=agent))
    assert client.head("/api/v1/cases?limit=abc&cursor=x", headers=agent).status_code == 422  # HEAD is a GET


def test_a_cursor_is_what_the_previous_page_gave(client, agent, create_case):
    for _ in range(3):
        create_case("submitted")
    first = client.get("/api/v1/cases?limit=2", headers=agent).get_json()
    cursor = first["next_cursor"]
    rest = client.get(f"/api/v1/cases?limit=2&cursor={cursor}", headers=agent).get_json()
    assert len(first["items"]) + len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert {c["reference"] for c in first["items"]}.isdisjoint(c["reference"] for c in rest["items"])
    assert "next_cursor" in fields(client.get("/api/v1/cases?cursor=eyJhIjogMX0", headers=agent))["cursor"]
    # any text of the cursor's form is a place in the list: here, after the largest id ever possible
    far = client.get("/api/v1/cases?cursor=9999999999999999-9999999999", headers=agent)
    assert far.status_code == 200 and len(far.get_json()["items"]) == 3


def test_the_document_refuses_what_the_forms_would_refuse(client, applicant, world):
    company = world.company.id
    # title required, and not blank
    assert fields(client.post("/api/v1/cases", json={"company_id": company}, headers=applicant)) == {
        "title": "Ce champ est obligatoire."}
    assert "vide" in fields(client.post("/api/v1/cases", json={"company_id": company, "title": " \t"},
                                        headers=applicant))["title"]
    # a field the document does not know is refused, and named
    assert "inconnu" in fields(client.post("/api/v1/cases", json={"company_id": company, "title": "Projet",
                                                                   "budget": 3}, headers=applicant))["budget"]
    # amounts: more than zero, two decimals at most, under a thousand billion, text or whole number
    created = client.post("/api/v1/cases", json={"company_id": company, "title": "Projet"}, headers=applicant)
    assert created.status_code == 201
    url = f"/api/v1/cases/{created.get_json()['reference']}/lines"
    for amount in ("0", 0, "1.234", 10**12, 12.5, "douze", True):
        body = {"scheme": world.region_scheme.code, "requested_amount": amount}
        assert "montant en euros" in fields(client.post(url, json=body, headers=applicant))["requested_amount"]
    for scheme, amount in ((world.region_scheme, "12 500,50"), (world.bpi_scheme, 40000),
                           (world.aer_scheme, "0,50")):
        body = {"scheme": scheme.code, "requested_amount": amount}
        assert client.post(url, json=body, headers=applicant).status_code == 201, amount
    body = {"scheme": world.aer_scheme.code, "requested_amount": "999999999999.99 €"}
    assert client.post(url, json=body, headers=applicant).status_code == 409  # a well-formed amount: rules judge
    # dates: AAAA-MM-JJ between 1900 and 2100
    reference = created.get_json()["reference"]
    assert "1900 et 2100" in fields(client.patch(f"/api/v1/cases/{reference}", json={"starts_on": "31/12/2026"},
                                                 headers=applicant))["starts_on"]
    # a PATCH sends what changes, but never empties a required field
    assert "vide" in fields(client.patch(f"/api/v1/cases/{reference}", json={"title": ""},
                                         headers=applicant))["title"]
    assert client.patch(f"/api/v1/cases/{reference}", json={"description": "Une machine."},
                        headers=applicant).status_code == 200
    cleared = client.patch(f"/api/v1/cases/{reference}", json={"description": None}, headers=applicant)
    assert cleared.status_code == 200 and not cleared.get_json()["description"]  # null: left empty
    # a body is required where the document says so
    assert client.patch(f"/api/v1/cases/{reference}", headers=applicant).status_code == 422
    # an event's body is the body of that event
    assert set(fields(client.post(f"/api/v1/cases/{reference}/events", json={"event": "dismiss", "motif": "x"},
                                  headers=applicant))) == {"reason", "motif"}
    assert fields(client.post(f"/api/v1/cases/{reference}/events", json={"event": {}}, headers=applicant)
                  )["event"].startswith("Événement inconnu")


def test_a_rule_the_document_cannot_state_is_409_naming_the_field(client, applicant, world):
    company = world.company.id
    today = paris_today()
    refused = client.post("/api/v1/cases", json={
        "company_id": company, "title": "Projet", "starts_on": today.isoformat(),
        "ends_on": (today - timedelta(days=3)).isoformat()}, headers=applicant)
    assert "ends_on" in fields(refused, 409)
    assert "company_id" in fields(client.post("/api/v1/cases", json={"company_id": world.other_company.id,
                                                                     "title": "Projet"}, headers=applicant), 409)
    created = client.post("/api/v1/cases", json={"company_id": company, "title": "Projet"}, headers=applicant)
    url = f"/api/v1/cases/{created.get_json()['reference']}/lines"
    assert "scheme" in fields(client.post(url, json={"scheme": "INCONNU", "requested_amount": "100"},
                                          headers=applicant), 409)
    over = client.post(url, json={"scheme": world.region_scheme.code, "requested_amount": "900000"},
                       headers=applicant)
    assert "requested_amount" in fields(over, 409)


def test_every_route_of_the_api_is_in_the_document_and_every_operation_is_routed(app, client):
    from atelier.api.openapi import UNDOCUMENTED_ENDPOINTS, document_path

    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routed = {(document_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint not in UNDOCUMENTED_ENDPOINTS
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    operation_ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    links = [link for item in document["paths"].values() for op in item.values()
             for response in op["responses"].values() for link in response.get("links", {}).values()]
    assert len(links) > 20 and {link["operationId"] for link in links} <= operation_ids
