"""The OpenAPI document is valid, and the app never contradicts it: a bounded schemathesis run with a
write token finds no server error and no response the document does not describe."""
import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from atelier.api.tokens import create_token
from atelier.extensions import db

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_openapi_document_is_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    # event bodies come from the pages' forms: every event of the handlers is described
    from atelier.cases.actions import CASE_HANDLERS, LINE_HANDLERS

    schemas = document["components"]["schemas"]
    assert {v["properties"]["event"]["const"] for v in schemas["CaseEvent"]["oneOf"]} == set(CASE_HANDLERS)
    assert {v["properties"]["event"]["const"] for v in schemas["LineEvent"]["oneOf"]} == set(LINE_HANDLERS)


def test_the_docs_page_needs_no_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>" in html and "/cases/{reference}/events" in html and "probleme-trop-de-requetes" in html
    assert "http://" not in html.replace("http://atelier.test", "") and "https://" not in html
    assert "<script" not in html


@pytest.fixture
def scene(app, world, create_case):
    """A few dossiers in several states, seen by the Bpifrance agent whose write token is used; the
    real ids of a dossier, its lines, a document, an opinion asked of Bpifrance and a meeting."""
    import os
    from datetime import timedelta

    from atelier.cases import operations as ops
    from atelier.formatting import paris_today
    from atelier.models import Document

    create_case("draft")
    create_case("submitted")
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    opinion = ops.ask_opinion(world.region_agent, region_line, agency=world.bpi,
                              due_on=paris_today() + timedelta(days=7))
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
    with open(os.path.join(app.config["UPLOAD_FOLDER"], "b" * 32), "wb") as handle:
        handle.write(b"%PDF-1.4\n%%EOF\n")
    document = Document(case=case, kind="other", filename="bilan.pdf", stored_name="b" * 32,
                        content_type="application/pdf", size_bytes=15, uploaded_by=world.applicant)
    db.session.add(document)
    _, token = create_token(world.bpi_agent, name="schemathesis", scope="write", days=1)
    db.session.commit()
    real = {"reference": case.reference, "line_id": bpi_line.id, "opinion_id": opinion.id,
            "meeting_id": world.bpi_meeting.id, "document_id": document.id, "code": world.bpi_scheme.code}
    yield real, token
    os.remove(os.path.join(app.config["UPLOAD_FOLDER"], "b" * 32))  # leave the shared folder as found


def test_schemathesis_finds_no_server_error_and_no_contradiction(app, scene):
    real, token = scene
    app.config["API_RATE_LIMIT"] = "100000/minute"
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        failures = []
        statuses: dict[str, set[int]] = {}
        count = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            strategy = operation.as_strategy()

            @given(case=strategy, use_real_ids=st.booleans())
            @settings(max_examples=30, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case, use_real_ids):
                nonlocal count
                count += 1
                if use_real_ids and case.path_parameters:  # else nearly every request is a 404
                    case.path_parameters = {name: real.get(name, value)
                                            for name, value in case.path_parameters.items()}
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                response = case.call()
                statuses.setdefault(f"{operation.method.upper()} {operation.path}", set()).add(
                    response.status_code)
                try:
                    # The document cannot say every rule (a ceiling, a date within 1900-2100, a cursor
                    # the server gave): a schema-valid request may still get its documented 422 or 409.
                    case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])
                except Exception as error:  # collected, reported at once below
                    failures.append(f"{operation.method.upper()} {operation.path}: {error}")

            run()
        assert count > 100
        print(statuses)
        assert all(status < 500 for seen in statuses.values() for status in seen)
        for operation in ("GET /cases", "GET /me", "GET /cases/{reference}", "GET /lines/{line_id}",
                          "GET /meetings/{meeting_id}", "GET /opinions/{opinion_id}"):
            assert 200 in statuses[operation], (operation, statuses[operation])
        assert not failures, "\n\n".join(failures[:5])
    finally:
        app.config.pop("API_RATE_LIMIT")
