"""Repayments of an advance or a loan through the API: the schedule set with the agreement, repayments
recorded as line events, and where the company stands in the line's JSON (issue 4 through issue 5)."""
from datetime import timedelta
from unittest import mock

from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from test_api_story import bearer, call  # noqa: F401  (fixture and helper of the API story)

def test_a_loan_schedule_and_its_repayments_through_the_api(client, world, create_case, bearer):  # noqa: F811
    today = paris_today()  # read when the test runs (a run may cross midnight)
    case = create_case("in_review")
    line = case.lines[1]  # Bpifrance zero-rate loan
    ops.propose_line(world.bpi_agent, line, meeting=world.bpi_meeting, proposed_amount="10000")
    ops.approve_line(world.bpi_secretary, line, granted_amount="10000", gross_grant_equivalent="500")
    db.session.commit()
    agent = bearer(world.bpi_agent)
    url = f"/lines/{line.id}/events"

    refused = client.post(f"/api/v1{url}", headers=agent, json={"event": "sign_agreement",
                                                                "signed_on": today.isoformat()})
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"  # a rule of loans
    assert any(error["field"] == "instalment_count" for error in refused.get_json()["errors"])

    call(client, "POST", url, agent, {"event": "sign_agreement", "signed_on": today.isoformat(),
                                      "instalment_count": "3", "frequency_months": "12", "deferral_months": "0"})
    call(client, "POST", url, agent, {"event": "record_payment", "amount": "10000", "paid_on": today.isoformat()})
    call(client, "POST", url, agent, {"event": "record_repayment", "amount": "1000",
                                      "repaid_on": today.isoformat()})
    too_much = client.post(f"/api/v1{url}", headers=agent, json={"event": "record_repayment", "amount": "9000.01",
                                                                 "repaid_on": today.isoformat()})
    assert too_much.status_code == 409 and "dépasserait ce que l'entreprise doit" in too_much.get_data(as_text=True)

    data = call(client, "GET", f"/lines/{line.id}", bearer(world.applicant, "read"))
    repayment = data["repayment"]
    assert [each["amount"] for each in repayment["instalments"]] == ["3333.33", "3333.33", "3333.34"]
    assert repayment["repaid_total"] == "1000.00" and repayment["owed"] == "9000.00"
    assert repayment["late_total"] == "0.00" and repayment["frequency_months"] == 12
    first_due = repayment["instalments"][0]["due_on"]
    with mock.patch("atelier.api.views.paris_today", return_value=today + timedelta(days=400)):
        data = call(client, "GET", f"/lines/{line.id}", bearer(world.bpi_agent, "read"))
    assert data["repayment"]["late_total"] == "2333.33" and first_due < (today + timedelta(days=400)).isoformat()

    grant = case.lines[0]
    assert call(client, "GET", f"/lines/{grant.id}", agent)["repayment"] is None
