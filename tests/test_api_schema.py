"""The OpenAPI document is valid, and the app never contradicts it: a bounded schemathesis run with a
write token finds no server error and no response the document does not describe."""
import re
import threading
from contextlib import contextmanager

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from werkzeug.serving import WSGIRequestHandler, make_server

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


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # thousands of requests: the failures say what matters
        pass


@contextmanager
def served(app):
    """The app on a real local HTTP server (as the partners reach it), for the time of a run."""
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def _exchange(recorder, case_id: str) -> str:
    """The request and the answer of a failing case, to read in the report."""
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return ""
    request, response = interaction.request, interaction.response
    body = request.body.decode(errors="replace")[:300] if request.body else ""
    answer = response.content.decode(errors="replace")[:400] if response is not None and response.content else ""
    status = response.status_code if response is not None else None
    return f"\n  → {request.method} {request.uri} {body}\n  ← {status} {answer}"


ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")


def run_schemathesis(base_url: str, token: str, *, seed: int, max_examples: int, max_steps: int,
                     phases=ALL_PHASES):
    """Every check of schemathesis, every phase (examples, coverage, fuzzing, and the stateful one
    that follows the document's links with the ids the API answered), with a fixed seed: the
    mismatches found (check, operation, message) and the statuses seen per operation."""
    config = SchemathesisConfig.from_dict({
        "seed": seed, "workers": 1, "base-url": f"{base_url}/api/v1",
        "headers": {"Authorization": f"Bearer {token}"},
        "checks": {"enabled": True},
        # NUL and lone surrogates are refused by the input rule of the whole application (400),
        # which the document states in prose: the generated data leaves them out.
        "generation": {"max-examples": max_examples, "deterministic": True, "allow-x00": False,
                       "codec": "utf-8", "database": "none"},
        "phases": {**{phase: {"enabled": phase in phases} for phase in ALL_PHASES},
                   "stateful": {"enabled": "stateful" in phases, "max-steps": max_steps}},
        "suppress-health-check": ["all"],
    })
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)
    failures, statuses, phases = [], {}, set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            phases.add(event.phase.name if hasattr(event.phase, "name") else str(event.phase))
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    request = interaction.request
                    statuses.setdefault(f"{request.method} {request.uri}", set()).add(
                        interaction.response.status_code)
            for case_id, checks_of_case in event.recorder.checks.items():
                for node in checks_of_case:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        failures.append(f"{node.name} — {failure.operation}: {failure.title}\n{failure.message}"
                                        + _exchange(event.recorder, case_id))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"erreur de schemathesis : {getattr(event, 'value', None) or event.exception!r}")
    return sorted(set(failures)), statuses, phases


def test_schemathesis_finds_no_mismatch_for_an_agent(app, scene):
    """All checks, all phases, with the write token of an agent who holds a line on the agenda and
    was asked an opinion: no server error, no answer the document does not describe, nothing the
    document allows that the API refuses, nothing it forbids that the API accepts."""
    real, token = scene
    app.config["API_RATE_LIMIT"] = "100000/minute"
    try:
        with served(app) as base_url:
            failures, statuses, phases = run_schemathesis(base_url, token, seed=8, max_examples=20, max_steps=15)
    finally:
        app.config.pop("API_RATE_LIMIT")
    assert not failures, f"{len(failures)} écarts :\n\n" + "\n\n".join(failures[:8])
    assert {"EXAMPLES", "COVERAGE", "FUZZING", "STATEFUL_TESTING"} <= phases, phases
    assert all(status < 500 for seen in statuses.values() for status in seen)
    assert sum(len(seen) for seen in statuses.values()) > 50


def test_schemathesis_follows_the_links_of_an_applicants_draft(app, world):
    """The stateful run as an applicant: the link of /me gives the company a draft is created for,
    and the links of the draft lead the next calls to it (read, edit, lines, declarations, events);
    no mismatch."""
    _, token = create_token(world.applicant, name="schemathesis", scope="write", days=1)
    db.session.commit()
    app.config["API_RATE_LIMIT"] = "100000/minute"
    try:
        with served(app) as base_url:
            failures, statuses, phases = run_schemathesis(base_url, token, seed=11, max_examples=25, max_steps=20,
                                                          phases=("stateful",))
    finally:
        app.config.pop("API_RATE_LIMIT")
    assert not failures, f"{len(failures)} écarts :\n\n" + "\n\n".join(failures[:8])
    created = {status for call, seen in statuses.items() if call.startswith("POST") and call.endswith("/cases")
               for status in seen}
    assert phases == {"STATEFUL_TESTING"}
    assert 201 in created, statuses  # the link from /me gave a company of the applicant
    # ...and the links of the created draft led to it: read, edited or declared with its reference
    assert any(re.search(r" \S*/api/v1/cases/AP-\d{4}-\d{5}(/|$)", call) and seen & {200, 201}
               for call, seen in statuses.items()), statuses
