"""The full financing plan: its page, its balance at submission, the eligible cost it gives each line,
and the cumulated public-aid intensity checked at approval."""
from contextlib import contextmanager
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import event, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.models import Case, FinancingPlan
from atelier.plans import operations as plans
from tests.conftest import login as conftest_login


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)


def _plain(text: str) -> str:
    """Money as Babel writes it (narrow and no-break spaces) read with plain spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def _plan(applicant, case, expenses, resources=(), explanation=""):
    plans.save_plan(applicant, case,
                    expenses=[{"category": c, "label": label, "amount": a} for c, label, a in expenses],
                    resources=[dict(zip(("kind", "label", "amount", "status"), row)) for row in resources],
                    gap_explanation=explanation)
    db.session.commit()


@pytest.fixture
def funded(world):
    """The Region funds equipment only; Bpifrance equipment and intangible investments."""
    world.region_scheme.funded_categories = ["tangible"]
    world.bpi_scheme.funded_categories = ["tangible", "intangible"]
    db.session.commit()
    return world


# --------------------------------------------------------------------------- the page

def test_the_page_saves_both_sides_and_the_eligible_cost_follows_the_expenses(client, funded, create_case):
    case = create_case("draft")
    login(client, funded.applicant)
    page = client.get(f"/dossiers/{case.reference}/plan-de-financement")
    assert page.status_code == 200 and "Dépenses prévisionnelles" in page.get_data(as_text=True)
    response = client.post(f"/dossiers/{case.reference}/plan-de-financement", data={
        "version": case.version,
        "expenses-0-category": "tangible", "expenses-0-label": "Presse plieuse",
        "expenses-0-amount": "180 000",
        "expenses-1-category": "intangible", "expenses-1-label": "Logiciel", "expenses-1-amount": "20000,50",
        "expenses-2-category": "working_capital", "expenses-2-label": "Stock", "expenses-2-amount": "50000",
        "resources-0-kind": "own_funds", "resources-0-label": "", "resources-0-amount": "80000",
        "resources-1-kind": "public_aid", "resources-1-label": "Département de la Côte-d'Or",
        "resources-1-amount": "20000", "resources-1-status": "obtained",
        "resources-2-kind": "bank_loan", "resources-2-label": "Banque", "resources-2-amount": "50000,50",
        # a blank row: dropped
        "expenses-3-category": "other", "expenses-3-label": "", "expenses-3-amount": "",
    })
    assert response.status_code == 302
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    plan = case.financing_plan
    assert [(e.category, e.amount) for e in plan.expenses] == [
        ("tangible", Decimal("180000.00")), ("intangible", Decimal("20000.50")),
        ("working_capital", Decimal("50000.00"))]
    assert [(r.kind, r.status) for r in plan.resources] == [("own_funds", None), ("public_aid", "obtained"),
                                                            ("bank_loan", None)]
    # Each line's eligible cost is its scheme's categories; the dossier's is the union of them.
    region_line, bpi_line = case.lines
    assert plans.eligible_cost_for(case, region_line.scheme) == Decimal("180000.00")
    assert plans.eligible_cost_for(case, bpi_line.scheme) == Decimal("200000.50")
    assert case.eligible_cost == Decimal("200000.50")
    # Balanced: 80 000 + 20 000 + 50 000,50 + the 100 000 asked here = 250 000,50.
    assert plans.plan_totals(case).gap == 0
    assert plans.plan_problems(case) == []
    # Once a plan exists, the eligible cost typed on the project is ignored.
    ops.update_project(funded.applicant, case, title=case.title, description=case.description,
                       starts_on=case.starts_on, ends_on=None, eligible_cost="999")
    assert case.eligible_cost == Decimal("200000.50")


def test_rows_are_added_and_removed_without_saving(client, world, create_case):
    case = create_case("draft")
    login(client, world.applicant)
    url = f"/dossiers/{case.reference}/plan-de-financement"
    rows = {"expenses-0-category": "tangible", "expenses-0-label": "Machine", "expenses-0-amount": "1000",
            "expenses-1-category": "consulting", "expenses-1-label": "Étude", "expenses-1-amount": "500"}
    added = client.post(url, data={**rows, "row_action": "expenses:add"})
    assert added.status_code == 200
    assert 'name="expenses-2-label"' in added.get_data(as_text=True)
    removed = client.post(url, data={**rows, "row_action": "expenses:0"})
    text = removed.get_data(as_text=True)
    assert removed.status_code == 200 and "Étude" in text and 'value="Machine"' not in text
    assert db.session.scalar(select(FinancingPlan.id)) is None  # nothing saved


def test_each_wrong_field_gets_its_french_message_and_nothing_is_saved(client, world, create_case):
    case = create_case("draft")
    login(client, world.applicant)
    response = client.post(f"/dossiers/{case.reference}/plan-de-financement", data={
        "expenses-0-category": "bijoux", "expenses-0-label": "", "expenses-0-amount": "douze",
        "expenses-1-category": "tangible", "expenses-1-label": "Machine", "expenses-1-amount": "0",
        "resources-0-kind": "public_aid", "resources-0-label": "", "resources-0-amount": "-5",
    })
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Choisissez la catégorie de la dépense.", "Décrivez la dépense.",
                    "Le montant doit être un nombre", "Le montant doit être supérieur à zéro.",
                    "Indiquez l&#39;organisme qui accorde cette aide.",
                    "Indiquez si cette aide est obtenue ou demandée."):
        assert message in text, message
    assert 'id="expenses-1-amount-error"' in text  # beside its field
    assert db.session.scalar(select(FinancingPlan.id)) is None


def test_at_most_fifty_rows_per_side(world, create_case):
    case = create_case("draft")
    rows = [{"category": "other", "label": f"Dépense {n}", "amount": "10"} for n in range(51)]
    with pytest.raises(ActionRefused, match="Au plus 50 dépenses"):
        plans.save_plan(world.applicant, case, expenses=rows, resources=[])


# --------------------------------------------------------------------------- access

def test_only_the_companys_applicant_sees_the_page_and_not_after_submission(client, world, create_case):
    draft = create_case("draft")
    url = f"/dossiers/{draft.reference}/plan-de-financement"
    for person in (world.other_applicant, world.region_agent, world.admin):
        login(client, person)
        assert client.get(url).status_code == 404
        assert client.post(url, data={"expenses-0-category": "other", "expenses-0-label": "x",
                                      "expenses-0-amount": "1"}).status_code == 404
    submitted = create_case("submitted")
    login(client, world.applicant)
    response = client.post(f"/dossiers/{submitted.reference}/plan-de-financement", data={
        "expenses-0-category": "other", "expenses-0-label": "Après coup", "expenses-0-amount": "10"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ce dossier ne peut plus être modifié" in page
    assert db.session.scalar(select(FinancingPlan.id)) is None
    with pytest.raises(ActionRefused, match="ne peut plus être modifié"):
        plans.save_plan(world.applicant, submitted, expenses=[], resources=[])


# --------------------------------------------------------------------------- balance at submission

def test_an_unbalanced_plan_is_refused_at_submission_with_the_figures(client, world, create_case):
    case = create_case("draft")
    _plan(world.applicant, case, [("tangible", "Machine", "250000")], [("own_funds", "", "100000", None)])
    message = ("Le plan de financement n'est pas équilibré : les ressources (200 000,00 €, dont 100 000,00 € "
               "demandés ici) et les dépenses (250 000,00 €) diffèrent de 50 000,00 €. Équilibrez-le ou "
               "expliquez l'écart.")
    with pytest.raises(ActionRefused) as refused:
        ops.submit_case(world.applicant, case)
    assert message in _plain(refused.value.message)
    db.session.rollback()
    assert db.session.get(Case, case.id).state == "draft"
    login(client, world.applicant)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert "n&#39;est pas équilibré" in page and "diffèrent de 50" in page  # the existing checklist
    # An explanation of the gap lets it go.
    _plan(world.applicant, case, [("tangible", "Machine", "250000")], [("own_funds", "", "100000", None)],
          explanation="Le complément viendra d'un crédit-bail en cours de négociation.")
    ops.submit_case(world.applicant, case)
    assert case.state == "submitted"


def test_a_balanced_plan_submits_to_the_cent(world, create_case):
    case = create_case("draft")
    _plan(world.applicant, case, [("tangible", "Machine", "150000.01")], [("own_funds", "", "50000", None)])
    with pytest.raises(ActionRefused, match="diffèrent de 0,01"):
        ops.submit_case(world.applicant, case)
    db.session.rollback()
    _plan(world.applicant, db.session.get(Case, case.id), [("tangible", "Machine", "150000")],
          [("own_funds", "", "50000", None)])
    ops.submit_case(world.applicant, case)
    assert case.state == "submitted"


def test_resubmission_checks_the_plan_too(world, create_case):
    case = create_case("incomplete")
    _plan(world.applicant, case, [("tangible", "Machine", "300000")], [])
    with pytest.raises(ActionRefused, match="n'est pas équilibré"):
        ops.resubmit_case(world.applicant, case)


def test_the_requested_amount_is_checked_against_the_lines_eligible_cost(funded, create_case):
    case = ops.create_case(funded.applicant, funded.company, title="Atelier", starts_on=None)
    _plan(funded.applicant, case, [("tangible", "Machine", "100000"), ("other", "Divers", "900000")])
    # The Region funds 40 % of its eligible cost: 40 000 € of the 100 000 € of equipment.
    with pytest.raises(ActionRefused,
                       match="au plus 40\u202f000,00\xa0€ pour un coût éligible de 100\u202f000"):
        ops.add_line(funded.applicant, case, scheme=funded.region_scheme, requested_amount="40000.01")
    db.session.rollback()
    case = db.session.get(Case, case.id)
    ops.add_line(funded.applicant, case, scheme=funded.region_scheme, requested_amount="40000")
    assert case.eligible_cost == Decimal("100000.00")  # now that a scheme is asked, only what it funds


# --------------------------------------------------------------------------- cumulated intensity

def _to_agenda(world, case, line, amount):
    lead = world.region_agent if case.lead_agency_id == world.region.id else world.bpi_agent
    if case.state == "submitted":
        ops.accept_case(lead, case)
    agent = world.region_agent if line.agency_id == world.region.id else world.bpi_agent
    meeting = world.region_meeting if line.agency_id == world.region.id else world.bpi_meeting
    ops.propose_line(agent, line, meeting=meeting, proposed_amount=amount)
    db.session.commit()


def test_approval_is_refused_beyond_the_cumulated_rate_with_the_figures(funded, create_case):
    funded.region_scheme.max_rate_small = Decimal("0.4")  # the company is small
    case = create_case("draft")
    _plan(funded.applicant, case, [("tangible", "Machine", "200000")],
          [("public_aid", "Département", "20000", "obtained"), ("own_funds", "", "80000", None)])
    ops.submit_case(funded.applicant, case)
    region_line = next(line for line in case.lines if line.agency_id == funded.region.id)
    _to_agenda(funded, case, region_line, "60000")
    # Bpifrance's zero-rate loan of 40 000 € (12 % of it as gross grant equivalent, estimated: 4 800 €)
    # + 20 000 € from the Département + this 60 000 € = 84 800 € for 200 000 € of eligible cost.
    with pytest.raises(ActionRefused) as refused:
        ops.approve_line(funded.region_secretary, region_line, granted_amount="60000")
    message = _plain(refused.value.message)
    assert message == ("Intensité cumulée des aides publiques dépassée : le projet reçoit déjà 24 800,00 € "
                       "d'aides publiques (dont 20 000,00 € hors guichet), "
                       "cette aide représente 60 000,00 €, "
                       "soit 42,4 % du coût éligible de 200 000,00 € ; le maximum pour une petite entreprise "
                       "est de 40 %. Montant maximal possible : 55 200,00 €.")
    assert refused.value.field == "granted_amount"
    db.session.rollback()
    line = db.session.get(type(region_line), region_line.id)
    assert line.state == "on_agenda"
    ops.approve_line(funded.region_secretary, line, granted_amount="55200")
    assert line.state == "approved"


def test_the_rate_per_size_falls_back_to_the_schemes_maximum_rate(world):
    scheme = world.region_scheme
    scheme.max_rate_small, scheme.max_rate_large = Decimal("0.6"), Decimal("0.2")
    assert scheme.max_rate_for_size("micro") == Decimal("0.6")
    assert scheme.max_rate_for_size("small") == Decimal("0.6")
    assert scheme.max_rate_for_size("medium") == scheme.max_rate  # none stated: the scheme's
    assert scheme.max_rate_for_size("eti") == Decimal("0.2")
    assert scheme.max_rate_for_size("large") == Decimal("0.2")


def test_without_a_plan_approvals_keep_todays_rules(world, create_case):
    case = create_case("submitted")
    line = next(line for line in case.lines if line.agency_id == world.region.id)
    _to_agenda(world, case, line, "60000")
    ops.approve_line(world.region_secretary, line, granted_amount="60000")
    assert line.state == "approved"


# --------------------------------------------------------------------------- the dossier page

def test_everyone_who_sees_the_dossier_sees_the_plan_and_agents_the_intensity(client, funded, create_case):
    case = create_case("draft")
    _plan(funded.applicant, case, [("tangible", "Presse plieuse", "200000")],
          [("public_aid", "Département", "20000", "requested"), ("own_funds", "", "80000", None)])
    ops.submit_case(funded.applicant, case)
    db.session.commit()
    login(client, funded.applicant)
    mine = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert "Presse plieuse" in mine and "Département" in mine and "Le plan est équilibré" in mine
    assert "Intensité cumulée" not in mine
    login(client, funded.region_agent)
    theirs = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert "Presse plieuse" in theirs
    # 60 000 € of grant + 4 800 € (the estimated GGE of the 40 000 € loan) + 20 000 € outside, for
    # 200 000 € of eligible cost.
    assert "Intensité cumulée des aides publiques :</strong> 42,4 %" in theirs


@contextmanager
def _counted():
    counted = [0]

    def count(*args, **kwargs):
        counted[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_the_dossier_page_keeps_a_fixed_number_of_queries_whatever_the_plans_size(client, world, create_case):
    counts = []
    for size in (5, 50):
        case = create_case("draft")
        expenses = [("tangible", f"Machine {n}", str(250000 // size)) for n in range(size)]
        resources = [("own_funds", f"Apport {n}", "1000", None) for n in range(size)]
        _plan(world.applicant, case, expenses, resources, explanation="Écart assumé.")
        ops.submit_case(world.applicant, case)
        db.session.commit()
        login(client, world.region_agent)
        db.session.expire_all()
        with _counted() as counted:
            page = client.get(f"/dossiers/{case.reference}")
        assert page.status_code == 200 and f"Machine {size - 1}" in page.get_data(as_text=True)
        counts.append(counted[0])
    assert counts[0] == counts[1]


# --------------------------------------------------------------------------- the scheme's rules

def test_the_admin_states_the_funded_categories_and_the_rates_per_size(client, world):
    from atelier.models import Scheme

    login(client, world.admin)
    url = f"/admin/dispositifs/{world.region_scheme.id}/modifier"
    assert "Dépenses financées" in client.get(url).get_data(as_text=True)
    data = {"code": "REG-INVEST", "name": "Aide à l'investissement", "agency_id": str(world.region.id),
            "committee_id": str(world.region_committee.id), "instrument": "grant", "regime": "gber",
            "ceiling": "200 000", "max_rate": "40", "opens_on": "2026-01-15", "description": "Investir.",
            "funded_categories": ["tangible", "property"], "max_rate_small": "45", "max_rate_medium": "35",
            "max_rate_large": ""}
    wrong = client.post(url, data={**data, "funded_categories": ["bijoux"], "max_rate_medium": "120"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert "Choisissez les catégories de dépenses dans la liste proposée." in text
    assert "Le taux maximal est compris entre 0 (exclu) et 100 %." in text
    assert client.post(url, data=data).status_code == 302
    db.session.expire_all()
    scheme = db.session.get(Scheme, world.region_scheme.id)
    assert scheme.funded_categories == ["tangible", "property"]
    assert (scheme.max_rate_small, scheme.max_rate_medium, scheme.max_rate_large) == (
        Decimal("0.45"), Decimal("0.35"), None)
    assert scheme.max_rate_for_size("large") == Decimal("0.4")
