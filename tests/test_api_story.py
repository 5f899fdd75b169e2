"""The whole story of a dossier driven through the API alone: draft, submit, accept, transfer,
opinion, propose, decide, agreement, payment, settle — each person with their own token."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from atelier.api.tokens import create_token
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Event


@pytest.fixture
def bearer():
    def make(user, scope="write"):
        _, token = create_token(user, name="Test", scope=scope, days=30)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}
    return make


def call(client, method, url, headers, json=None, status=200):
    response = client.open(f"/api/v1{url}", method=method, headers=headers, json=json)
    assert response.status_code == status, (method, url, response.status_code, response.get_json())
    assert "Set-Cookie" not in response.headers  # no session for the API
    return response.get_json()


def test_the_whole_story_through_the_api(client, world, bearer, runner):
    applicant, region, bpi = bearer(world.applicant), bearer(world.region_agent), bearer(world.bpi_agent)
    aer, secretary = bearer(world.aer_agent), bearer(world.region_secretary)
    today = paris_today()

    case = call(client, "POST", "/cases", applicant, {
        "company_id": world.company.id, "title": "Nouvelle ligne de production",
        "description": "Achat d'une machine.", "starts_on": today.isoformat(), "eligible_cost": 250000}, 201)
    reference = case["reference"]
    assert case["state"] == "draft" and case["eligible_cost"] == "250000.00"
    call(client, "PATCH", f"/cases/{reference}", applicant, {"title": "Ligne de production n° 2",
                                                              "version": case["version"]})
    region_line = call(client, "POST", f"/cases/{reference}/lines", applicant,
                       {"scheme": world.region_scheme.code, "requested_amount": "60 000,00"}, 201)
    bpi_line = call(client, "POST", f"/cases/{reference}/lines", applicant,
                    {"scheme": world.bpi_scheme.code, "requested_amount": 40000}, 201)
    call(client, "POST", f"/cases/{reference}/no-minimis", applicant)
    case = call(client, "POST", f"/cases/{reference}/events", applicant, {"event": "submit"})
    assert case["state"] == "submitted" and case["lead_agency"]["id"] == world.region.id
    assert case["title"] == "Ligne de production n° 2"

    case = call(client, "POST", f"/cases/{reference}/events", region,
                {"event": "accept", "version": case["version"]})
    assert case["state"] == "in_review"
    assert [line["state"] for line in case["lines"]] == ["under_review", "under_review"]

    line = call(client, "POST", f"/lines/{bpi_line['id']}/events", bpi, {
        "event": "transfer", "agency_id": world.aer.id, "scheme_id": world.aer_scheme.id,
        "reason": "Relève de l'avance remboursable."})
    assert line["agency"]["id"] == world.aer.id and line["scheme"]["code"] == world.aer_scheme.code

    opinion = call(client, "POST", f"/lines/{region_line['id']}/opinions", region, {
        "agency_id": world.aer.id, "due_on": (today + timedelta(days=10)).isoformat(),
        "question": "Cofinancez-vous ?"}, 201)
    pending = call(client, "GET", "/opinions", aer)["items"]
    assert [item["id"] for item in pending] == [opinion["id"]]
    answered = call(client, "POST", f"/opinions/{opinion['id']}/answer", aer, {
        "verdict": "favourable", "intended_amount": "10000", "comment": "Projet solide."})
    assert answered["verdict"] == "favourable" and answered["intended_amount"] == "10000.00"

    line = call(client, "POST", f"/lines/{region_line['id']}/events", region, {
        "event": "propose", "meeting_id": world.region_meeting.id, "proposed_amount": "50000"})
    assert line["state"] == "on_agenda"
    meeting = call(client, "GET", f"/meetings/{world.region_meeting.id}", secretary)
    assert [item["line_id"] for item in meeting["agenda"]] == [region_line["id"]]
    line = call(client, "POST", f"/lines/{region_line['id']}/events", secretary, {
        "event": "approve", "granted_amount": "50000", "version": line["version"]})
    assert line["state"] == "approved" and line["granted_amount"] == "50000.00"
    line = call(client, "POST", f"/lines/{region_line['id']}/events", region, {
        "event": "sign_agreement", "signed_on": today.isoformat()})
    assert line["state"] == "agreement_signed"
    line = call(client, "POST", f"/lines/{region_line['id']}/events", region, {
        "event": "record_payment", "amount": "30000", "paid_on": today.isoformat()})
    assert line["paid_total"] == "30000.00" and line["remaining_to_pay"] == "20000.00"
    line = call(client, "POST", f"/lines/{region_line['id']}/events", region, {"event": "settle"})
    assert line["state"] == "settled" and line["released_amount"] == "20000.00"

    call(client, "POST", f"/lines/{bpi_line['id']}/events", aer,
         {"event": "dismiss", "reason": "Hors du champ de l'avance."})
    case = call(client, "GET", f"/cases/{reference}", applicant)
    assert case["state"] == "closed"
    names = [event["name"] for event in case["events"]]
    for name in ("create", "submit", "accept", "transfer", "ask_opinion", "give_opinion", "propose", "approve",
                 "sign_agreement", "record_payment", "settle", "close"):
        assert name in names
    # what agencies tell each other stays between them
    given = next(event for event in case["events"] if event["name"] == "give_opinion")
    assert given["reason"] is None and given["data"] == {}
    assert all(line["opinions"] == [] for line in case["lines"])
    as_agent = call(client, "GET", f"/cases/{reference}", region)
    assert next(e for e in as_agent["events"] if e["name"] == "give_opinion")["reason"] == "Projet solide."
    # every event was written by the operations, with its actor
    actors = {e.name: e.actor_id for e in db.session.scalars(select(Event).where(Event.name == "approve"))}
    assert actors["approve"] == world.region_secretary.id
    audit = runner.invoke(args=["verify-audit"])
    assert audit.exit_code == 0, audit.output
