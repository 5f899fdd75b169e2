"""Nobody sees a dossier, a document or a workbook outside their scope — in lists, pages and
downloads — and a guessed URL answers 404 (never 403: it must reveal nothing)."""
from datetime import timedelta

import pytest

from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Document
from tests.conftest import login

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def scene(app, world, create_case, create_agency, create_user):
    """A dossier in review: Region lead, Bpifrance line on the agenda, AER consulted, with a document;
    CCI has nothing to do with it."""
    import os

    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.ask_opinion(world.bpi_agent, bpi_line, agency=world.aer, due_on=paris_today() + timedelta(days=7))
    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
    with open(os.path.join(app.config["UPLOAD_FOLDER"], "a" * 32), "wb") as handle:
        handle.write(PDF)
    document = Document(case=case, kind="other", filename="bilan.pdf", stored_name="a" * 32,
                        content_type="application/pdf", size_bytes=len(PDF), uploaded_by=world.applicant)
    db.session.add(document)
    cci = create_agency("cci", short_name="CCI")
    people = {
        "applicant": world.applicant,
        "other_applicant": world.other_applicant,
        "lead_agent": world.region_agent,
        "line_agent": world.bpi_agent,
        "line_secretary": world.bpi_secretary,
        "consulted_agent": world.aer_agent,
        "unrelated_agent": create_user("agent", agency=cci),
        "unrelated_secretary": world.region_secretary,  # sees the case, but not Bpifrance's meeting
        "admin": world.admin,
    }
    db.session.commit()
    return case, document, world.bpi_meeting, people


SEES_CASE = {"applicant", "lead_agent", "line_agent", "line_secretary", "consulted_agent",
             "unrelated_secretary", "admin"}
SEES_MEETING = {"line_agent", "line_secretary"}  # agents of the committee's agency


@pytest.mark.parametrize("kind", ["applicant", "other_applicant", "lead_agent", "line_agent", "line_secretary",
                                  "consulted_agent", "unrelated_agent", "unrelated_secretary", "admin"])
def test_pages_and_downloads(client, scene, kind):
    case, document, meeting, people = scene
    login(client, people[kind])
    expected = 200 if kind in SEES_CASE else 404
    assert client.get(f"/dossiers/{case.reference}").status_code == expected
    assert client.get(f"/dossiers/{case.reference}/pieces/{document.id}").status_code == expected
    expected_meeting = 200 if kind in SEES_MEETING else 404
    assert client.get(f"/comites/seances/{meeting.id}").status_code == expected_meeting
    assert client.get(f"/comites/seances/{meeting.id}/ordre-du-jour.xlsx").status_code == expected_meeting
    if kind not in SEES_CASE:
        before = case.version
        for url in (f"/dossiers/{case.reference}/messages", f"/dossiers/{case.reference}/actions/dismiss",
                    f"/dossiers/{case.reference}/demandes/{case.lines[0].id}/actions/dismiss",
                    f"/dossiers/{case.reference}/modifier"):
            assert client.post(url, data={"body": "x", "reason": "x", "version": before}).status_code == 404
        db.session.refresh(case)
        assert case.version == before


@pytest.mark.parametrize("kind", ["applicant", "other_applicant", "lead_agent", "line_agent",
                                  "consulted_agent", "unrelated_agent", "admin"])
def test_lists_show_only_what_is_in_scope(client, scene, kind):
    case, _, _, people = scene
    login(client, people[kind])
    person = people[kind]
    if person.is_applicant:
        listing = client.get("/dossiers/")
    elif person.is_agent:  # the inbox tab where this dossier would be for that agency
        section = {"lead_agent": "en-instruction", "line_agent": "en-comite", "consulted_agent": "avis"}
        listing = client.get(f"/organisme/?section={section.get(kind, 'en-instruction')}")
    else:
        listing = client.get("/admin/dossiers/")
    assert listing.status_code == 200
    shown = case.reference in listing.get_data(as_text=True)
    assert shown == (kind in {"applicant", "lead_agent", "line_agent", "consulted_agent", "admin"})


def test_guessed_urls_answer_404(client, scene, create_case, world):
    case, document, meeting, people = scene
    other_case = create_case("draft", applicant=world.other_applicant, company=world.other_company)
    login(client, world.applicant)
    for url in (f"/dossiers/{other_case.reference}",                      # someone else's dossier
                f"/dossiers/{other_case.reference}/modifier",
                f"/dossiers/{other_case.reference}/pieces/{document.id}",  # my document under their reference
                f"/dossiers/{case.reference}/pieces/{document.id + 1000}",  # a document that does not exist
                "/dossiers/AP-2026-99999",
                "/comites/seances/99999",
                "/organisme/",  # agents' pages
                "/admin/"):
        assert client.get(url).status_code == 404, url


def test_anonymous_people_are_sent_to_the_login_page(client, scene):
    case, document, meeting, _ = scene
    for url in (f"/dossiers/{case.reference}", f"/dossiers/{case.reference}/pieces/{document.id}",
                f"/comites/seances/{meeting.id}/ordre-du-jour.xlsx", "/organisme/"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"], url
