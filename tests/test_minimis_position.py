"""The company's de minimis position (received, headroom, when each aid drops out), the cumulation of
the regulations, and the estimate of the gross grant equivalent of a loan or an advance."""
import re
from html import unescape
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from atelier.cases import minimis
from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import day, paris_today
from atelier.models import MinimisAid

from conftest import login


def plain(text: str) -> str:
    return unescape(text).replace("\u202f", " ").replace("\xa0", " ")


def declare(case, *, amount, regime="de_minimis", days_ago=30, body="Département du Doubs"):
    aid = MinimisAid(siren=case.company.siren, granted_on=paris_today() - timedelta(days=days_ago),
                     granting_body=body, amount=Decimal(amount), regime=regime, source="declared",
                     case_id=case.id)
    db.session.add(aid)
    db.session.flush()
    return aid


def propose(world, line, key, amount):
    ops.propose_line(getattr(world, f"{key}_agent"), line, meeting=getattr(world, f"{key}_meeting"),
                     proposed_amount=amount)


# --------------------------------------------------------------------------- when an aid drops out

@pytest.mark.parametrize("granted_on, first_day_out", [
    (date(2024, 3, 15), date(2027, 3, 15)),
    (date(2024, 2, 29), date(2027, 3, 1)),  # no 29 February in 2027: it still counts on the 28th
    (date(2025, 2, 28), date(2028, 2, 28)),
    (date(2023, 12, 31), date(2026, 12, 31)),
])
def test_an_aid_drops_out_on_its_third_anniversary(granted_on, first_day_out):
    assert minimis.drops_out_on(granted_on) == first_day_out


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 12, 31)))
def test_drops_out_on_is_the_first_day_the_window_no_longer_holds_the_aid(granted_on):
    """The window of a day D holds the aids granted after three_years_before(D), up to D."""
    out = minimis.drops_out_on(granted_on)
    the_day_before = out - timedelta(days=1)
    assert minimis.three_years_before(the_day_before) < granted_on  # still counted the day before
    assert minimis.three_years_before(out) >= granted_on  # no longer counted


# --------------------------------------------------------------------------- cumulation

def test_an_agricultural_aid_fitting_its_own_ceiling_is_refused_over_the_general_cumulation(world, create_case,
                                                                                           create_scheme):
    agri = create_scheme(world.aer, committee=world.aer_committee, regime="de_minimis_agri",
                         ceiling=Decimal("50000"), max_rate=Decimal("1"), name="Aide agricole")
    case = create_case("in_review", lines=[(world.region_scheme, "60000"), (agri, "45000")])
    declare(case, amount="260000")  # general de minimis, well under 300 000 € alone
    line = case.lines[1]
    propose(world, line, "aer", "45000")
    with pytest.raises(ActionRefused) as refused:
        ops.approve_line(world.aer_secretary, line, granted_amount="45000")
    message = plain(refused.value.message)
    assert message.startswith("Plafond de cumul des aides de minimis générales, agricoles et de la pêche dépassé")
    assert "déjà reçu 260 000,00 €" in message and "le plafond est de 300 000,00 €" in message
    assert "Marge disponible : 40 000,00 €" in message
    # what fits is approved (the secretary approves a lower amount)
    ops.approve_line(world.aer_secretary, line, granted_amount="40000")
    assert line.state == "approved"
    assert minimis.received_by_regime(case.company.siren, paris_today(), case_id=case.id) == {
        "de_minimis": Decimal("260000.00"), "de_minimis_agri": Decimal("40000.00")}


def test_general_and_sgei_aid_together_stay_under_the_sgei_ceiling(world, create_case, create_scheme):
    sgei = create_scheme(world.region, committee=world.region_committee, regime="de_minimis_sgei",
                         ceiling=Decimal("750000"), max_rate=Decimal("1"), name="Service d'intérêt général")
    case = create_case("in_review", lines=[(sgei, "100000"), (world.bpi_scheme, "40000")])
    case.eligible_cost = Decimal("1000000")
    declare(case, amount="290000")
    declare(case, amount="400000", regime="de_minimis_sgei")
    line = case.lines[0]
    propose(world, line, "region", "70000")  # 400 000 + 70 000 ≤ 750 000 alone, not with the 290 000
    with pytest.raises(ActionRefused) as refused:
        ops.approve_line(world.region_secretary, line, granted_amount="70000")
    message = plain(refused.value.message)
    assert message.startswith("Plafond de cumul de toutes les aides de minimis (SIEG comprises) dépassé")
    assert "déjà reçu 690 000,00 €" in message and "Marge disponible : 60 000,00 €" in message
    ops.approve_line(world.region_secretary, line, granted_amount="60000")
    assert line.granted_amount == Decimal("60000")


def test_aid_of_the_general_regime_does_not_use_the_fisheries_ceiling(world, create_case):
    case = create_case("in_review", lines=[(world.region_scheme, "60000"), (world.bpi_scheme, "40000")])
    declare(case, amount="39000", regime="de_minimis_fish")  # near its own 40 000 € ceiling
    line = case.lines[0]
    propose(world, line, "region", "60000")
    ops.approve_line(world.region_secretary, line, granted_amount="60000")  # 99 000 in the general group
    assert line.state == "approved"


# --------------------------------------------------------------------------- the GGE estimate

def test_the_default_estimate_is_the_documented_formula(app):
    with app.test_request_context():
        assert minimis.estimated_gge(Decimal("100000")) == Decimal("12000.00")  # 4 % × (5 + 1) / 2
        assert minimis.estimated_gge(Decimal("33333.33")) == Decimal("4000.00")  # 3 999,9996 rounded
        app.config.update(MINIMIS_REFERENCE_RATE="0.03", MINIMIS_DEFAULT_YEARS=10)
        try:
            assert minimis.estimated_gge(Decimal("100000")) == Decimal("16500.00")  # 3 % × 11 / 2
            assert "3 %" in minimis.gge_formula_text() and "10 ans" in minimis.gge_formula_text()
        finally:
            del app.config["MINIMIS_REFERENCE_RATE"], app.config["MINIMIS_DEFAULT_YEARS"]


def test_a_loan_approved_without_gge_counts_for_the_estimate_and_says_so(world, create_case):
    case = create_case("in_review")
    line = case.lines[1]  # Bpifrance zero-rate loan, de minimis
    propose(world, line, "bpi", "40000")
    event = ops.approve_line(world.bpi_secretary, line, granted_amount="40000", gross_grant_equivalent="")
    assert line.gross_grant_equivalent == Decimal("4800.00")
    assert event.data["gross_grant_equivalent"] == "4800.00"
    assert event.data["gross_grant_equivalent_estimated"] is True
    granted = db.session.scalars(db.select(MinimisAid).where(MinimisAid.line_id == line.id)).one()
    assert granted.amount == Decimal("4800.00") and granted.source == "granted"


def test_the_gge_typed_by_the_agent_overrides_the_estimate(world, create_case):
    case = create_case("in_review")
    line = case.lines[1]
    propose(world, line, "bpi", "40000")
    event = ops.approve_line(world.bpi_secretary, line, granted_amount="40000", gross_grant_equivalent="3 150,40")
    assert line.gross_grant_equivalent == Decimal("3150.40")
    assert "gross_grant_equivalent_estimated" not in event.data


def test_the_estimate_is_checked_against_the_ceiling(world, create_case):
    case = create_case("in_review")
    declare(case, amount="295500")
    line = case.lines[1]
    propose(world, line, "bpi", "40000")  # estimate 4 800 €: 300 300 > 300 000
    with pytest.raises(ActionRefused, match=r"Plafond de minimis \(général\) dépassé"):
        ops.approve_line(world.bpi_secretary, line, granted_amount="40000")
    ops.approve_line(world.bpi_secretary, line, granted_amount="40000", gross_grant_equivalent="4500")
    assert line.state == "approved"


def test_the_meeting_page_offers_the_estimate_and_accepts_an_empty_gge(client, world, create_case):
    case = create_case("in_review")
    line = case.lines[1]
    propose(world, line, "bpi", "40000")
    db.session.commit()
    login(client, world.bpi_secretary)
    page = plain(client.get(f"/comites/seances/{world.bpi_meeting.id}").get_data(as_text=True))
    assert "Laissé vide, l'estimation est retenue : 4 800,00 €" in page
    field = re.search(r'<input[^>]*name="gross_grant_equivalent"[^>]*>', page).group(0)
    assert "required" not in field
    response = client.post(f"/dossiers/{case.reference}/demandes/{line.id}/actions/approve", data={
        "granted_amount": "40 000", "gross_grant_equivalent": "", "version": line.version})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(type(line), line.id).gross_grant_equivalent == Decimal("4800.00")


# --------------------------------------------------------------------------- on the dossier page

def test_agents_see_the_company_position_with_headroom_and_drop_out_dates(client, world, create_case):
    case = create_case("in_review")
    old = declare(case, amount="120000", days_ago=400, body="Département de la Nièvre")
    declare(case, amount="30000", regime="de_minimis_agri", days_ago=20, body="Chambre d'agriculture")
    other = create_case("in_review")  # an aid granted here on another dossier counts too
    propose(world, other.lines[0], "region", "50000")
    ops.approve_line(world.region_secretary, other.lines[0], granted_amount="50000")
    db.session.commit()
    login(client, world.bpi_agent)
    page = plain(client.get(f"/dossiers/{case.reference}").get_data(as_text=True))
    section = page[page.index('id="position-de-minimis"'):]
    section = section[:section.index("</section>")]
    assert "170 000,00 €" in section  # general: 120 000 declared + 50 000 granted here
    # general headroom: 300 000 − 170 000 − 30 000 (agricultural aid counts with it): 100 000
    assert "100 000,00 €" in section and "limitée par le plafond de cumul" in section
    assert "Accordée dans l'Atelier" in section and "Déclarée par le demandeur" in section
    drop_out = minimis.drops_out_on(old.granted_on)
    assert plain(day(drop_out)) in section
    assert "200 000,00 €" in section  # total received over three years


def test_the_applicant_does_not_see_the_register_of_the_company(client, world, create_case):
    case = create_case("in_review")
    declare(case, amount="120000")
    db.session.commit()
    login(client, world.applicant)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert 'id="position-de-minimis"' not in page
    assert "Département du Doubs" in page  # their own declaration is shown


def test_the_position_costs_one_query_whatever_the_number_of_aids(app, world, create_case):
    from sqlalchemy import event as sa_event

    case = create_case("in_review")
    for n in range(30):
        declare(case, amount="1000", days_ago=10 + n)
    statements = []
    engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        position = minimis.minimis_position(case.company.siren, paris_today(), case_id=case.id,
                                            regimes={"de_minimis"})
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    assert len(position.aids) == 30 and position.regimes[0].received == Decimal("30000.00")
    assert len(statements) == 1
