"""The rights and scoping tests of the pages, repeated through the API with tokens: every event by every
kind of person (allowed exactly as domain.md says; refused with 409 when the person sees the dossier,
404 when they do not, nothing changed either way), who sees what, lists, pagination and query counts."""
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event, select

from atelier.api.tokens import create_token
from atelier.cases import operations as ops
from atelier.cases.access import visible_cases
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case
from test_rights import (ACTORS, ALLOWED_KINDS, CASE_ACTORS, CASE_FROM, DOMAIN_CASE_WHO, DOMAIN_LINE_WHO,
                         LINE_FROM, OPINION_WHO, count_events, snapshot)
from test_rights import actors  # noqa: F401  (fixture)
from test_scoping import PDF, SEES_CASE, SEES_MEETING  # noqa: F401
from test_scoping import scene  # noqa: F401  (fixture)
from test_workflow_table import case_in_state, line_in_state



@pytest.fixture(autouse=True)
def _no_stored_file_left(app):
    """The scoping scene writes a stored file in the shared upload folder: remove it afterwards."""
    import os

    yield
    path = os.path.join(app.config["UPLOAD_FOLDER"], "a" * 32)
    if os.path.exists(path):
        os.remove(path)


def headers_for(user, scope="write"):
    _, token = create_token(user, name="Test", scope=scope, days=30)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def case_body(w, event):
    return {"event": event, **{
        "withdraw": {"reason": "Projet abandonné."},
        "request_info": {"message": "Merci de joindre le bilan."},
        "transfer_lead": {"agency_id": w.aer.id, "reason": "L'AER suit déjà l'entreprise."},
        "dismiss": {"reason": "Hors périmètre régional."},
    }.get(event, {})}


def line_body(w, event):
    today = paris_today().isoformat()  # read when the test runs (a run may cross midnight)
    return {"event": event, **{
        "transfer": {"agency_id": w.aer.id, "scheme_id": w.aer_scheme.id, "reason": "Relève de l'avance."},
        "propose": {"meeting_id": w.bpi_meeting.id, "proposed_amount": "30000"},
        "approve": {"granted_amount": "30000", "gross_grant_equivalent": "3000"},
        "reject": {"reason": "Fonds propres insuffisants."}, "adjourn": {"reason": "Devis à actualiser."},
        "sign_agreement": {"signed_on": today, "instalment_count": "4", "frequency_months": "3"},
        "record_payment": {"amount": "10000", "paid_on": today},
        "record_repayment": {"amount": "2500", "repaid_on": today},
        "dismiss": {"reason": "Projet hors champ."}, "reopen": {"reason": "Recours gracieux reçu."},
    }.get(event, {})}


def sees(user, case_id) -> bool:
    return db.session.scalars(visible_cases(user).where(Case.id == case_id)).first() is not None


def check(client, user, case_id, url, body, entity, name, allowed, created=False, system=False):
    before = snapshot(case_id)
    events_before = count_events(case_id)
    named_before = count_events(case_id, entity=entity, name=name)
    visible = sees(user, case_id)
    response = client.post(url, json=body, headers=headers_for(user))
    db.session.expire_all()
    if allowed:
        assert response.status_code == (201 if created else 200), response.get_json()
        assert count_events(case_id, entity=entity, name=name) == named_before + 1
        return
    expected = 409 if visible else 404
    if system:  # not an event anybody may send: unknown to the API's document, refused before any lookup
        expected = 422
    assert response.status_code == expected, (response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json"
    assert snapshot(case_id) == before
    assert count_events(case_id) == events_before


CASE_SYSTEM_EVENTS = {"close", "reopen"}  # fired by the application itself, never sent by a person
LINE_SYSTEM_EVENTS = {"start_review", "withdraw"}

CASE_CASES = [(event, kind, kind in ALLOWED_KINDS[who])
              for event, who in DOMAIN_CASE_WHO.items() for kind in CASE_ACTORS]
LINE_CASES = [(event, kind, kind in ALLOWED_KINDS[who])
              for event, who in (DOMAIN_LINE_WHO | OPINION_WHO).items() for kind in ACTORS]


def _ids(cases):
    return [f"{event}-by-{kind}-{'allowed' if allowed else 'refused'}" for event, kind, allowed in cases]


@pytest.mark.parametrize("event, kind, allowed", CASE_CASES, ids=_ids(CASE_CASES))
def test_case_event_by(client, world, create_case, actors, event, kind, allowed):  # noqa: F811
    case = case_in_state(world, create_case, CASE_FROM[event])
    user = actors[kind]
    check(client, user, case.id, f"/api/v1/cases/{case.reference}/events", case_body(world, event), "case",
          event, allowed, system=event in CASE_SYSTEM_EVENTS)


@pytest.mark.parametrize("event, kind, allowed", LINE_CASES, ids=_ids(LINE_CASES))
def test_line_event_by(client, world, create_case, actors, event, kind, allowed):  # noqa: F811
    asked = []

    def consult_aer(line):
        asked.append(ops.ask_opinion(world.bpi_agent, line, agency=world.aer,
                                     due_on=paris_today() + timedelta(days=7), question="Cofinancez-vous ?"))

    line = line_in_state(world, create_case, LINE_FROM[event], which="bpi", on_the_way=consult_aer)
    if event == "record_repayment":  # the company repays what was paid to it
        ops.record_payment(world.bpi_agent, line, amount="10000", paid_on=paris_today())
    db.session.commit()
    user = actors[kind]
    if event == "ask_opinion":
        check(client, user, line.case_id, f"/api/v1/lines/{line.id}/opinions",
              {"agency_id": world.region.id, "due_on": (paris_today() + timedelta(days=10)).isoformat(),
               "question": "Cofinancez-vous ?"}, "opinion", event, allowed, created=True)
        return
    if event == "give_opinion":
        opinion = asked[0]
        body = {"verdict": "favourable", "intended_amount": "10000", "comment": "Projet solide."}
        visible = user.is_agent or user.is_admin
        if not allowed and visible and not sees(user, line.case_id):
            visible = False
        before = count_events(line.case_id)
        response = client.post(f"/api/v1/opinions/{opinion.id}/answer", json=body, headers=headers_for(user))
        if allowed:
            assert response.status_code == 200
            assert count_events(line.case_id, entity="opinion", name="give_opinion") == 1
        else:
            assert response.status_code == (409 if visible else 404), response.get_json()
            assert count_events(line.case_id) == before
        return
    check(client, user, line.case_id, f"/api/v1/lines/{line.id}/events", line_body(world, event), "line",
          event, allowed, system=event in LINE_SYSTEM_EVENTS)


# --------------------------------------------------------------------------- scoping

@pytest.mark.parametrize("kind", ["applicant", "other_applicant", "lead_agent", "line_agent", "line_secretary",
                                  "consulted_agent", "unrelated_agent", "unrelated_secretary", "admin"])
def test_resources_and_downloads(client, scene, kind):  # noqa: F811
    case, document, meeting, people = scene
    headers = headers_for(people[kind])
    expected = 200 if kind in SEES_CASE else 404
    assert client.get(f"/api/v1/cases/{case.reference}", headers=headers).status_code == expected
    response = client.get(f"/api/v1/cases/{case.reference}/documents/{document.id}", headers=headers)
    assert response.status_code == expected
    if expected == 200:
        assert response.data == PDF and response.headers["X-Content-Type-Options"] == "nosniff"
    for line in case.lines:
        assert client.get(f"/api/v1/lines/{line.id}", headers=headers).status_code == expected
    listed = [item["reference"] for item in client.get("/api/v1/cases", headers=headers).get_json()["items"]]
    assert (case.reference in listed) == (kind in SEES_CASE)
    expected_meeting = 200 if kind in SEES_MEETING else 404
    assert client.get(f"/api/v1/meetings/{meeting.id}", headers=headers).status_code == expected_meeting
    pack = client.get(f"/api/v1/meetings/{meeting.id}/pack", headers=headers)
    assert pack.status_code == expected_meeting
    if expected_meeting == 200:
        assert pack.data[:2] == b"PK"
    meetings = [item["id"] for item in client.get("/api/v1/meetings", headers=headers).get_json()["items"]]
    assert (meeting.id in meetings) == (kind in SEES_MEETING)
    if kind not in SEES_CASE:
        before = case.version
        for url, body in ((f"/api/v1/cases/{case.reference}/events", {"event": "dismiss", "reason": "x"}),
                          (f"/api/v1/lines/{case.lines[0].id}/events", {"event": "dismiss", "reason": "x"}),
                          (f"/api/v1/cases/{case.reference}", {"title": "x"})):
            method = client.patch if url.endswith(case.reference) else client.post
            assert method(url, json=body, headers=headers).status_code == 404
        db.session.refresh(case)
        assert case.version == before


def test_applicants_do_not_see_what_agencies_tell_each_other(client, scene):  # noqa: F811
    case, _, _, people = scene
    body = client.get(f"/api/v1/cases/{case.reference}", headers=headers_for(people["applicant"])).get_json()
    assert all(line["opinions"] == [] for line in body["lines"])
    assert client.get("/api/v1/opinions", headers=headers_for(people["applicant"])).get_json() == {"items": []}
    agent = client.get(f"/api/v1/cases/{case.reference}", headers=headers_for(people["line_agent"])).get_json()
    assert any(line["opinions"] for line in agent["lines"])


# --------------------------------------------------------------------------- lists

def _references(client, headers, **params):
    response = client.get("/api/v1/cases", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_cursor_pagination_and_filters(client, world, create_case, create_user, create_company):
    drafts = [create_case("draft") for _ in range(3)]
    in_review = [create_case("in_review") for _ in range(2)]
    headers = headers_for(world.applicant)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _references(client, headers, **params)
        seen += [item["reference"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5 and len(set(seen)) == 5
    stamps = [db.session.scalar(select(Case.updated_at).where(Case.reference == ref)) for ref in seen]
    assert stamps == sorted(stamps, reverse=True)

    assert {i["reference"] for i in _references(client, headers, state="draft")["items"]} == \
        {c.reference for c in drafts}
    assert {i["reference"] for i in _references(client, headers, agency="region", state="in_review")["items"]} == \
        {c.reference for c in in_review}
    assert len(_references(client, headers, scheme=world.bpi_scheme.code)["items"]) == 5
    assert _references(client, headers, scheme="INCONNU")["items"] == []
    latest = max(stamps)
    assert [i["reference"] for i in _references(client, headers, updated_since=latest.isoformat())["items"]] == \
        [seen[0]]
    for params in ({"state": "perdu"}, {"cursor": "pas-un-curseur"}, {"limit": 0}, {"limit": "x"},
                   {"updated_since": "hier"}):
        response = client.get("/api/v1/cases", headers=headers, query_string=params)
        assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == next(iter(params))


def _count_queries(app, call) -> int:
    statements = []

    def record(*args, **kwargs):
        statements.append(args[2])

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def test_the_case_list_issues_a_fixed_number_of_queries(app, client, world, create_case):
    headers = headers_for(world.region_agent)
    create_case("in_review")
    client.get("/api/v1/me", headers=headers)  # the token's first use is written once
    few = _count_queries(app, lambda: client.get("/api/v1/cases", headers=headers))
    for _ in range(4):
        case = create_case("in_review")
        ops.ask_opinion(world.bpi_agent, case.lines[1], agency=world.aer, due_on=paris_today() + timedelta(days=5))
    db.session.commit()
    many_response = []
    many = _count_queries(app, lambda: many_response.append(client.get("/api/v1/cases", headers=headers)))
    assert len(many_response[0].get_json()["items"]) == 5
    assert many == few
