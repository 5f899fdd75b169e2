"""What was really done: the execution report filed before the balance payment, and the balance paid
pro rata of the eligible expenses really made."""
import io
from decimal import ROUND_DOWN, Decimal

import pytest
from flask import g
from hypothesis import given, settings, strategies as st
from sqlalchemy import select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, FundingLine, Payment
from atelier.plans import operations as plans
from tests.conftest import login as conftest_login

PDF = b"%PDF-1.4\n%%EOF\n"


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)


# --------------------------------------------------------------------------- the rule

def test_pro_rata_examples():
    assert plans.pro_rata(Decimal("50000.00"), Decimal("200000.00"),
                          Decimal("150000.00")) == Decimal("37500.00")
    assert plans.pro_rata(Decimal("1000.00"), Decimal("3.00"), Decimal("1.00")) == Decimal("333.33")  # down
    assert plans.pro_rata(Decimal("1000.00"), Decimal("3.00"), Decimal("2.00")) == Decimal("666.66")
    assert plans.pro_rata(Decimal("1000.00"), Decimal("300.00"), Decimal("450.00")) == Decimal("1000.00")
    assert plans.pro_rata(Decimal("1000.00"), Decimal("300.00"), Decimal("0.00")) == Decimal("0.00")


@settings(max_examples=400, deadline=None)
@given(granted=st.integers(min_value=1, max_value=10**11), planned=st.integers(min_value=1, max_value=10**13),
       share=st.fractions(min_value=0, max_value=2))
def test_pro_rata_never_exceeds_the_grant_and_is_exact_to_the_cent(granted, planned, share):
    realised = int(planned * share)  # in cents, like the two others
    result = plans.pro_rata(Decimal(granted) / 100, Decimal(planned) / 100, Decimal(realised) / 100)
    assert result == result.quantize(Decimal("0.01"))
    assert Decimal(0) <= result <= Decimal(granted) / 100
    if realised >= planned:
        assert result == Decimal(granted) / 100
    else:  # granted × realised / planned, rounded down to the cent, computed on whole cents
        assert result == Decimal(granted * realised // planned) / 100


# --------------------------------------------------------------------------- a grant waiting for its balance

@pytest.fixture
def signed(world, create_case):
    """A dossier with a balanced plan (200 000 € of equipment the Region funds, 50 000 € of software it
    does not), its Region grant of 50 000 € approved and its agreement signed."""
    world.region_scheme.funded_categories = ["tangible"]
    case = create_case("draft", lines=[(world.region_scheme, "60000")])
    plans.save_plan(world.applicant, case,
                    expenses=[{"category": "tangible", "label": "Presse plieuse", "amount": "200000"},
                              {"category": "intangible", "label": "Logiciel", "amount": "50000"}],
                    resources=[{"kind": "own_funds", "label": "", "amount": "190000"}])
    ops.submit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="50000")
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    db.session.commit()
    return case


def _file(world, case, rows, proof=True):
    if proof:
        class Upload:
            stream, filename = io.BytesIO(PDF), "factures.pdf"

            def read(self, *args):
                return self.stream.read(*args)

        plans.add_report_document(world.applicant, case, Upload())
    plans.save_execution_report(world.applicant, case, expenses=[
        {"category": c, "label": label, "amount": a} for c, label, a in rows], file=True)
    db.session.commit()


def test_the_last_payment_waits_for_the_report_and_is_paid_pro_rata(world, signed):
    line = signed.lines[0]
    ops.record_payment(world.region_agent, line, amount="20000", paid_on=paris_today())
    db.session.commit()
    with pytest.raises(ActionRefused, match="bilan d'exécution") as refused:
        ops.record_payment(world.region_agent, line, amount="30000", paid_on=paris_today())
    assert refused.value.field == "amount"
    db.session.rollback()
    with pytest.raises(ActionRefused, match="doit d'abord déposer le bilan d'exécution"):
        ops.settle_line(world.region_agent, line, balance_paid_on=paris_today())
    db.session.rollback()
    # 150 000 € of the 200 000 € of equipment made (the software, not funded by the Region, is ignored).
    _file(world, signed, [("tangible", "Presse plieuse", "150000"), ("intangible", "Logiciel", "80000")])
    event = ops.settle_line(world.region_agent, line, balance_paid_on=paris_today())
    db.session.commit()
    assert line.state == "settled"
    assert [payment.amount for payment in line.payments] == [Decimal("20000.00"), Decimal("17500.00")]
    assert line.released_amount == Decimal("12500.00")  # 50 000 granted − 37 500 due
    assert event.data == {"paid_total": "37500.00", "released_amount": "12500.00",
                          "planned_eligible": "200000.00", "realised_eligible": "150000.00",
                          "entitled_amount": "37500.00", "balance_computed": "17500.00",
                          "balance_amount": "17500.00", "balance_paid_on": paris_today().isoformat()}


def test_when_all_was_done_the_whole_grant_is_paid(world, signed):
    line = signed.lines[0]
    _file(world, signed, [("tangible", "Presse plieuse", "210000")])
    ops.settle_line(world.region_agent, line, balance_paid_on=paris_today())
    assert line.paid_total == Decimal("50000.00") and line.released_amount == Decimal("0.00")


def test_the_agent_adjusts_the_balance_only_with_a_written_reason(world, signed):
    line = signed.lines[0]
    _file(world, signed, [("tangible", "Presse plieuse", "100000")])  # half: 25 000 € due
    with pytest.raises(ActionRefused, match="Le solde calculé .* est de 25") as refused:
        ops.settle_line(world.region_agent, line, balance_amount="26000", balance_paid_on=paris_today())
    assert refused.value.field == "reason"
    db.session.rollback()
    with pytest.raises(ActionRefused, match="ne peut pas dépasser ce qui reste à verser") as refused:
        ops.settle_line(world.region_agent, line, balance_amount="50000,01", balance_paid_on=paris_today(),
                        reason="Erreur")
    assert refused.value.field == "balance_amount"
    db.session.rollback()
    line = db.session.get(FundingLine, line.id)
    assert line.state == "agreement_signed" and not line.payments
    event = ops.settle_line(world.region_agent, line, balance_amount="26000", balance_paid_on=paris_today(),
                            reason="Facture de transport retenue après contrôle sur place.")
    db.session.commit()
    assert event.reason == "Facture de transport retenue après contrôle sur place."
    assert event.data["balance_adjusted"] is True and event.data["balance_computed"] == "25000.00"
    assert line.paid_total == Decimal("26000.00") and line.released_amount == Decimal("24000.00")


def test_the_report_is_filed_once_by_the_companys_applicant_after_the_agreement(world, create_case, signed):
    with pytest.raises(ActionRefused, match="Seul un membre"):
        plans.save_execution_report(world.other_applicant, signed, expenses=[], file=False)
    with pytest.raises(ActionRefused, match="Joignez les justificatifs"):
        plans.save_execution_report(world.applicant, signed, expenses=[
            {"category": "tangible", "label": "Presse", "amount": "1000"}], file=True)
    db.session.rollback()
    draft = create_case("draft")
    with pytest.raises(ActionRefused, match="une fois la convention signée"):
        plans.save_execution_report(world.applicant, draft, expenses=[], file=False)
    db.session.rollback()
    _file(world, db.session.get(Case, signed.id), [("tangible", "Presse plieuse", "150000")])
    event = db.session.scalars(select(Event).where(Event.case_id == signed.id)
                               .where(Event.name == "file_execution_report")).one()
    assert event.entity == "report" and event.actor_id == world.applicant.id
    assert (event.from_state, event.to_state) == (None, None)  # no state changes: no machine event
    assert event.data == {"realised_total": "150000.00", "planned_total": "250000.00"}
    with pytest.raises(ActionRefused, match="déjà déposé"):
        plans.save_execution_report(world.applicant, signed, expenses=[], file=False)


# --------------------------------------------------------------------------- the pages

def test_the_applicant_files_the_report_through_its_page(client, world, signed):
    url = f"/dossiers/{signed.reference}/bilan-execution"
    for person in (world.other_applicant, world.region_agent):
        login(client, person)
        assert client.get(url).status_code == 404
    login(client, world.applicant)
    page = client.get(f"/dossiers/{signed.reference}").get_data(as_text=True)
    assert "Remplir le bilan d&#39;exécution" in page
    assert client.get(url).status_code == 200
    rows = {"expenses-0-category": "tangible", "expenses-0-label": "Presse plieuse",
            "expenses-0-amount": "150000"}
    refused = client.post(url, data={**rows, "file_report": "1"})
    assert refused.status_code == 422
    assert "Joignez les justificatifs" in refused.get_data(as_text=True)
    wrong = client.post(url, data={"expenses-0-category": "tangible", "expenses-0-label": "",
                                   "expenses-0-amount": "beaucoup"})
    assert wrong.status_code == 422 and "Décrivez la dépense." in wrong.get_data(as_text=True)
    uploaded = client.post(f"{url}/pieces", data={"document-file": (io.BytesIO(PDF), "factures.pdf")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302
    filed = client.post(url, data={**rows, "file_report": "1"})
    assert filed.status_code == 302
    page = client.get(f"/dossiers/{signed.reference}").get_data(as_text=True)
    assert "Bilan d&#39;exécution déposé" in page  # the history
    assert "aide due 37" in page
    again = client.post(url, data=rows)
    assert again.status_code == 302  # back to the dossier: filed for good


def test_the_agent_settles_from_the_dossier_page_with_the_computed_balance(client, world, signed):
    _file(world, signed, [("tangible", "Presse plieuse", "150000")])
    line = signed.lines[0]
    login(client, world.region_agent)
    page = client.get(f"/dossiers/{signed.reference}").get_data(as_text=True)
    assert 'name="balance_amount"' in page and "l&#39;aide due est de 37" in page
    response = client.post(f"/dossiers/{signed.reference}/demandes/{line.id}/actions/settle", data={
        "version": line.version, "balance_amount": "37 500", "balance_paid_on": paris_today().isoformat()})
    assert response.status_code == 303
    db.session.expire_all()
    line = db.session.get(FundingLine, line.id)
    assert line.state == "settled" and line.released_amount == Decimal("12500.00")
    assert db.session.scalar(select(Payment.amount).where(Payment.line_id == line.id)) == Decimal("37500.00")


def test_a_rounding_never_pays_more_than_granted(world, signed):
    line = signed.lines[0]
    _file(world, signed, [("tangible", "Presse plieuse", "199999.99")])
    ops.settle_line(world.region_agent, line, balance_paid_on=paris_today())
    expected = (Decimal("50000") * Decimal("199999.99") / Decimal("200000")).quantize(Decimal("0.01"),
                                                                                       ROUND_DOWN)
    assert line.paid_total == expected == Decimal("49999.99")


def test_only_grants_wait_for_the_report(world, create_case):
    case = create_case("draft")
    region_line, bpi_line = case.lines
    assert not plans.balance_applies(region_line)  # no plan: today's payments and settle
    plans.save_plan(world.applicant, case, expenses=[{"category": "tangible", "label": "Machine",
                                                      "amount": "250000"}], resources=[])
    assert plans.balance_applies(region_line)  # a grant
    assert not plans.balance_applies(bpi_line)  # a zero-rate loan is paid and repaid as agreed
