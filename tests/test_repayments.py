"""Payments and repayments: the repayment schedule of an advance or a zero-rate loan (instalments to the
cent), repayments recorded against it, late instalments, and a line settled only once repaid or with the
rest written off for a reason."""
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from unittest import mock

import pytest
from hypothesis import given, strategies as st

from atelier.cases import operations as ops
from atelier.cases.repayments import add_months, repayment_position, schedule, split_evenly
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import day, paris_today
from atelier.models import Event, FundingLine, RepaymentInstalment
from conftest import login

def plain(text: str) -> str:
    return unescape(text).replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def granted_loan(world, create_case):
    """The Bpifrance zero-rate loan of a fresh dossier, granted 40 000 € (not yet signed)."""
    def factory(amount="40000"):
        case = create_case("in_review")
        line = case.lines[1]
        ops.propose_line(world.bpi_agent, line, meeting=world.bpi_meeting, proposed_amount=amount)
        ops.approve_line(world.bpi_secretary, line, granted_amount=amount, gross_grant_equivalent="1000")
        db.session.commit()
        return line
    return factory


@pytest.fixture
def signed_loan(world, granted_loan):
    """40 000 € in 4 quarterly instalments of 10 000 €, the first three months after the signature."""
    line = granted_loan()
    ops.sign_agreement(world.bpi_agent, line, signed_on=paris_today(), instalment_count="4", frequency_months="3")
    db.session.commit()
    return line


# --------------------------------------------------------------------------- amounts and dates

def test_ten_thousand_euros_in_three_instalments_add_up_to_the_cent():
    assert split_evenly(Decimal("10000"), 3) == [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]


@pytest.mark.parametrize("amount, count", [("0.01", 1), ("0.05", 5), ("100000", 7), ("12345.67", 12),
                                           ("999999999.99", 240), ("1", 3), ("0.10", 3)])
def test_awkward_amounts_add_up_to_the_cent(amount, count):
    shares = split_evenly(Decimal(amount), count)
    assert len(shares) == count and sum(shares) == Decimal(amount)
    assert all(share > 0 and share == share.quantize(Decimal("0.01")) for share in shares)
    assert max(shares) - min(shares) < Decimal("0.01") * count  # the rest is only cents


@given(cents=st.integers(1, 10**13), count=st.integers(1, 240))
def test_instalments_always_add_up_to_the_amount(cents, count):
    amount = Decimal(cents) / 100
    shares = split_evenly(amount, count)
    assert sum(shares) == amount and len(shares) == count
    if cents >= count:  # what sign_agreement allows: at least a cent each
        assert all(share > 0 for share in shares)


@pytest.mark.parametrize("start, months, expected", [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2027, 5, 15), 12, date(2028, 5, 15)),
    (date(2027, 12, 1), 1, date(2028, 1, 1)),
])
def test_adding_months_keeps_the_day_or_takes_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_a_schedule_from_a_month_end_keeps_month_ends():
    dates = [due for due, _ in schedule(Decimal("400"), count=4, frequency_months=3, first_due_on=date(2027, 1, 31))]
    assert dates == [date(2027, 1, 31), date(2027, 4, 30), date(2027, 7, 31), date(2027, 10, 31)]


# --------------------------------------------------------------------------- the agreement sets the schedule

def test_signing_a_loan_creates_its_schedule(world, granted_loan):
    line = granted_loan("10000")
    event = ops.sign_agreement(world.bpi_agent, line, signed_on=paris_today(), instalment_count="3",
                               frequency_months="6", deferral_months="12")
    first = add_months(paris_today(), 12 + 6)
    assert [(i.number, i.due_on, i.amount) for i in line.instalments] == [
        (1, first, Decimal("3333.33")), (2, add_months(first, 6), Decimal("3333.33")),
        (3, add_months(first, 12), Decimal("3333.34"))]
    assert line.repayment_frequency_months == 6 and line.repayment_deferral_months == 12
    assert event.data["instalment_count"] == 3 and event.data["first_due_on"] == first.isoformat()
    db.session.commit()
    stored = db.session.scalars(db.select(RepaymentInstalment).where(RepaymentInstalment.line_id == line.id))
    assert sum(i.amount for i in stored) == Decimal("10000.00")


def test_the_first_due_date_may_be_chosen_but_not_during_the_deferral(world, granted_loan):
    line = granted_loan()
    with pytest.raises(ActionRefused, match="pendant le différé") as refused:
        ops.sign_agreement(world.bpi_agent, line, signed_on=paris_today(), instalment_count="4", frequency_months="12",
                           deferral_months="6", first_due_on=add_months(paris_today(), 5))
    assert refused.value.field == "first_due_on"
    ops.sign_agreement(world.bpi_agent, line, signed_on=paris_today(), instalment_count="4", frequency_months="12",
                       deferral_months="6", first_due_on=add_months(paris_today(), 6).isoformat())
    assert line.instalments[0].due_on == add_months(paris_today(), 6)
    assert line.instalments[-1].due_on == add_months(paris_today(), 6 + 36)


@pytest.mark.parametrize("fields, field, message", [
    ({}, "instalment_count", "Indiquez le nombre d'échéances."),
    ({"instalment_count": "0"}, "instalment_count", "de 1 à 240"),
    ({"instalment_count": "241"}, "instalment_count", "de 1 à 240"),
    ({"instalment_count": "-3"}, "instalment_count", "de 1 à 240"),
    ({"instalment_count": "deux"}, "instalment_count", "de 1 à 240"),
    ({"instalment_count": "4", "frequency_months": "2"}, "frequency_months", "Choisissez la périodicité"),
    ({"instalment_count": "4", "frequency_months": ""}, "frequency_months", "Choisissez la périodicité"),
    ({"instalment_count": "4", "frequency_months": "3", "deferral_months": "121"}, "deferral_months", "de 0 à 120"),
    ({"instalment_count": "4", "frequency_months": "3", "first_due_on": paris_today()}, "first_due_on",
     "après la signature"),
])
def test_a_wrong_schedule_is_refused_beside_its_field(world, granted_loan, fields, field, message):
    line = granted_loan()
    with pytest.raises(ActionRefused) as refused:
        ops.sign_agreement(world.bpi_agent, line, signed_on=paris_today(), **fields)
    assert message in refused.value.message and refused.value.field == field
    assert line.state == "approved" and not line.instalments


def test_more_instalments_than_cents_is_refused(world, create_case, create_scheme):
    tiny = create_scheme(world.aer, committee=world.aer_committee, instrument="repayable_advance",
                         regime="gber", ceiling=Decimal("100"), max_rate=Decimal("1"))
    case = create_case("in_review", lines=[(tiny, "1"), (world.bpi_scheme, "40000")])
    line = case.lines[0]
    ops.propose_line(world.aer_agent, line, meeting=world.aer_meeting, proposed_amount="1")
    ops.approve_line(world.aer_secretary, line, granted_amount="1")
    with pytest.raises(ActionRefused, match="au moins un centime"):
        ops.sign_agreement(world.aer_agent, line, signed_on=paris_today(), instalment_count="101", frequency_months="1")
    ops.sign_agreement(world.aer_agent, line, signed_on=paris_today(), instalment_count="100", frequency_months="1")
    assert sum(i.amount for i in line.instalments) == Decimal("1")


def test_a_grant_has_no_schedule(world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="50000")
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    assert line.state == "agreement_signed" and not line.instalments
    with pytest.raises(ActionRefused, match="n'est pas remboursable"):
        ops.record_repayment(world.region_agent, line, amount="10", repaid_on=paris_today())


# --------------------------------------------------------------------------- repayments and late instalments

def test_the_company_repays_what_it_received_and_no_more(world, signed_loan):
    line = signed_loan
    with pytest.raises(ActionRefused, match="dépasserait ce que l'entreprise doit"):
        ops.record_repayment(world.bpi_agent, line, amount="1", repaid_on=paris_today())  # nothing paid yet
    ops.record_payment(world.bpi_agent, line, amount="25000", paid_on=paris_today())
    event = ops.record_repayment(world.bpi_agent, line, amount="10 000,00", repaid_on=paris_today())
    assert line.owed == Decimal("15000") and event.data["owed_after"] == "15000.00"
    with pytest.raises(ActionRefused) as refused:
        ops.record_repayment(world.bpi_agent, line, amount="15000.01", repaid_on=paris_today())
    assert refused.value.field == "amount"
    assert "15 000,00 €" in plain(refused.value.message) and "25 000,00 €" in plain(refused.value.message)
    with pytest.raises(ActionRefused, match="dans le futur") as refused:
        ops.record_repayment(world.bpi_agent, line, amount="100", repaid_on=paris_today() + timedelta(days=1))
    assert refused.value.field == "repaid_on"
    assert db.session.scalar(db.select(db.func.count(Event.id)).where(
        Event.line_id == line.id, Event.name == "record_repayment")) == 1


def test_a_repayment_cannot_predate_the_agreement(world, signed_loan):
    ops.record_payment(world.bpi_agent, signed_loan, amount="10000", paid_on=paris_today())
    with pytest.raises(ActionRefused, match="ne peut pas précéder la signature de la convention"):
        ops.record_repayment(world.bpi_agent, signed_loan, amount="100", repaid_on=paris_today() - timedelta(days=1))


def test_late_instalments_appear_after_their_due_date(world, signed_loan):
    line = signed_loan
    ops.record_payment(world.bpi_agent, line, amount="40000", paid_on=paris_today())
    first, second = line.instalments[0].due_on, line.instalments[1].due_on
    assert repayment_position(line, first).late_instalments == []  # due today: not late yet
    after = repayment_position(line, first + timedelta(days=1))
    assert [(each.number, each.late_amount) for each in after.late_instalments] == [(1, Decimal("10000"))]
    ops.record_repayment(world.bpi_agent, line, amount="4000", repaid_on=paris_today())
    after = repayment_position(line, first + timedelta(days=1))
    assert after.late_total == Decimal("6000") and after.instalments[0].status == "En retard"
    later = repayment_position(line, second + timedelta(days=1))
    assert [(each.number, each.late_amount) for each in later.late_instalments] == [
        (1, Decimal("6000")), (2, Decimal("10000"))]
    ops.record_repayment(world.bpi_agent, line, amount="16000", repaid_on=paris_today())
    assert repayment_position(line, second + timedelta(days=1)).late_instalments == []
    assert [each.status for each in repayment_position(line, second).instalments] == [
        "Remboursée", "Remboursée", "À venir", "À venir"]


def test_the_company_is_never_late_for_more_than_it_received(world, signed_loan):
    line = signed_loan
    ops.record_payment(world.bpi_agent, line, amount="15000", paid_on=paris_today())  # of 40 000 granted
    long_after = repayment_position(line, line.instalments[-1].due_on + timedelta(days=1))
    assert long_after.late_total == Decimal("15000") and long_after.owed == Decimal("15000")
    assert [each.number for each in long_after.late_instalments] == [1, 2]


# --------------------------------------------------------------------------- settling

def test_a_loan_not_repaid_is_settled_only_with_the_rest_written_off_for_a_reason(world, signed_loan):
    line = signed_loan
    ops.record_payment(world.bpi_agent, line, amount="30000", paid_on=paris_today())
    ops.record_repayment(world.bpi_agent, line, amount="12000", repaid_on=paris_today())
    with pytest.raises(ActionRefused, match="Il reste 18") as refused:
        ops.settle_line(world.bpi_agent, line)
    assert refused.value.field == "reason" and line.state == "agreement_signed"
    event = ops.settle_line(world.bpi_agent, line, reason="Liquidation judiciaire de l'entreprise.")
    assert line.state == "settled"
    assert line.written_off_amount == Decimal("18000") and line.released_amount == Decimal("10000")
    assert event.reason == "Liquidation judiciaire de l'entreprise."
    assert event.data["written_off_amount"] == "18000.00" and event.data["repaid_total"] == "12000.00"


def test_a_repaid_loan_is_settled_without_writing_anything_off(world, signed_loan):
    line = signed_loan
    ops.record_payment(world.bpi_agent, line, amount="40000", paid_on=paris_today())
    ops.record_repayment(world.bpi_agent, line, amount="40000", repaid_on=paris_today())
    event = ops.settle_line(world.bpi_agent, line)
    assert line.state == "settled" and line.written_off_amount == 0
    assert event.data["written_off_amount"] == "0.00"


def test_payments_never_exceed_the_grant_and_settle_releases_the_rest(world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="50000")
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    ops.record_payment(world.region_agent, line, amount="30000", paid_on=paris_today())
    with pytest.raises(ActionRefused, match="il reste 20"):
        ops.record_payment(world.region_agent, line, amount="20000.01", paid_on=paris_today())
    assert line.remaining_to_pay == Decimal("20000")
    event = ops.settle_line(world.region_agent, line)
    assert line.released_amount == Decimal("20000") and event.data["released_amount"] == "20000.00"


# --------------------------------------------------------------------------- on the pages

def test_the_agreement_form_asks_for_the_schedule_of_a_loan_only(client, world, create_case):
    case = create_case("in_review")
    for line, key in ((case.lines[0], "region"), (case.lines[1], "bpi")):
        ops.propose_line(getattr(world, f"{key}_agent"), line, meeting=getattr(world, f"{key}_meeting"),
                         proposed_amount="30000")
        ops.approve_line(getattr(world, f"{key}_secretary"), line, granted_amount="30000",
                         gross_grant_equivalent="3000")
    db.session.commit()
    login(client, world.bpi_agent)
    page = plain(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    loan_form = page[page.index(f"demande-{case.lines[1].id}-sign_agreement"):]
    assert 'name="instalment_count"' in loan_form and '<label for="demande-' in loan_form
    assert re.search(r'<option selected value="3">Trimestrielle</option>|<option value="3" selected>', loan_form)
    login(client, world.region_agent)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert f"demande-{case.lines[0].id}-sign_agreement" in page and 'name="instalment_count"' not in page


def test_signing_and_repaying_through_the_pages(client, world, granted_loan):
    line = granted_loan("10000")
    case = line.case
    login(client, world.bpi_agent)
    url = f"/dossiers/{case.reference}/demandes/{line.id}/actions"
    response = client.post(f"{url}/sign_agreement", data={
        "signed_on": paris_today().isoformat(), "instalment_count": "trois", "frequency_months": "3",
        "version": line.version})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(FundingLine, line.id).state == "approved"  # nothing half-written
    page = plain(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    assert "doit être un nombre entier de 1 à 240" in page
    line = db.session.get(FundingLine, line.id)
    client.post(f"{url}/sign_agreement", data={
        "signed_on": paris_today().strftime("%d/%m/%Y"), "instalment_count": "3", "frequency_months": "3",
        "deferral_months": "0", "version": line.version})
    db.session.expire_all()
    line = db.session.get(FundingLine, line.id)
    assert line.state == "agreement_signed" and len(line.instalments) == 3
    client.post(f"{url}/record_payment", data={"amount": "10 000", "paid_on": paris_today().isoformat(),
                                               "version": line.version})
    db.session.expire_all()
    line = db.session.get(FundingLine, line.id)
    client.post(f"{url}/record_repayment", data={"amount": "1 000,50", "repaid_on": paris_today().isoformat(),
                                                 "version": line.version})
    db.session.expire_all()
    line = db.session.get(FundingLine, line.id)
    assert line.repaid_total == Decimal("1000.50")
    page = plain(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    section = page[page.index('id="remboursements"'):]
    assert "3 333,34 €" in section and "Reste dû" in section and "8 999,50 €" in section
    assert "Aucune échéance en retard" in section
    # a month after the second due date, the first two instalments are late (by what is not repaid)
    later = line.instalments[1].due_on + timedelta(days=30)
    with mock.patch("atelier.cases.views.paris_today", return_value=later):
        page = plain(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    section = page[page.index('id="remboursements"'):]
    assert "En retard : 5 666,16 €" in section  # 6 666,66 due, 1 000,50 repaid
    assert day(line.instalments[0].due_on) in section


def test_the_applicant_sees_the_schedule_of_their_loan(client, world, signed_loan):
    login(client, world.applicant)
    page = plain(client.get(f"/dossiers/{signed_loan.case.reference}").get_data(as_text=True))
    assert 'id="remboursements"' in page and "10 000,00 €" in page and "trimestrielles" in page


def test_settling_a_loan_on_the_page_asks_for_the_reason_of_the_write_off(client, world, signed_loan):
    line = signed_loan
    ops.record_payment(world.bpi_agent, line, amount="40000", paid_on=paris_today())
    db.session.commit()
    login(client, world.bpi_agent)
    page = client.get(f"/dossiers/{line.case.reference}").get_data(as_text=True)
    settle_form = page[page.index(f"demande-{line.id}-settle"):]
    assert 'name="reason"' in settle_form[:3000]
    response = client.post(f"/dossiers/{line.case.reference}/demandes/{line.id}/actions/settle",
                           data={"version": line.version})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(FundingLine, line.id).state == "agreement_signed"
    client.post(f"/dossiers/{line.case.reference}/demandes/{line.id}/actions/settle",
                data={"version": line.version, "reason": "Abandon de créance voté par le comité."})
    db.session.expire_all()
    settled = db.session.get(FundingLine, line.id)
    assert settled.state == "settled" and settled.written_off_amount == Decimal("40000")
