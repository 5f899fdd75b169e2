"""« Quelles aides pour mon projet ? »: the schemes the demo companies can ask, their most, why not the
others, and the draft created from the chosen ones."""
import html
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from werkzeug import security

from atelier import demo
from atelier.auth import models as auth_models
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Company, FundingLine, Scheme, User
from atelier.schemes.rules import eligibility

from conftest import login

URL = "/dispositifs/mon-projet"


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    original = security.generate_password_hash
    monkeypatch.setattr(auth_models, "generate_password_hash",
                        lambda password, method=None: original(password, method="pbkdf2:sha256:1000"))


@pytest.fixture
def loaded():
    assert demo.load_demo()
    db.session.expire_all()

    def user(email):
        return db.session.scalar(select(User).where(User.email == email))

    def company(name):
        return db.session.scalar(select(Company).where(Company.name == name))

    return {
        "julien": user(demo.APPLICANTS[0].email), "ines": user(demo.APPLICANTS[1].email),
        "agent": user(f"agent.region@{demo.DEMO_DOMAIN}"), "admin": user(demo.ADMIN[0]),
        "menuiserie": company("Menuiserie Bourgeois et Fils"),
        "vergers": company("EARL Les Vergers de la Tille"),
        "optique": company("Optique Jurassienne de Précision"), "numerique": company("Numérique Comtois"),
    }


def scheme(code):
    return db.session.scalar(select(Scheme).where(Scheme.code == code))


def split(company, cost, on=None):
    eligible, excluded = eligibility(company, Decimal(cost), on or paris_today())
    return ({s.code: amount for s, amount in eligible}, {s.code: reasons for s, reasons in excluded})


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")


def sections(response) -> tuple[str, str]:
    page = text(response)
    possible, _, out_of_reach = page.partition("Dispositifs hors de portée")
    return possible, out_of_reach


# ------------------------------------------------------------------ the rules, for the demo companies

def test_the_farm_may_ask_the_agricultural_aid_and_the_honour_loan_but_not_the_industry_aids(loaded):
    eligible, excluded = split(loaded["vergers"], "50000")
    assert eligible == {"CD21-DIVERSIFICATION-AGRICOLE": Decimal("20000.00"),  # 40 % of 50 000
                        "INITIATIVE21-PRET-HONNEUR": Decimal("25000.00"),  # 50 %
                        "BPI-GARANTIE-REGIONALE": Decimal("35000.00")}  # 70 %
    for code in ("REGION-INVEST-PME", "REGION-CONSEIL-EXPORT", "AER-AVANCE-DEVELOPPEMENT",
                 "BPI-PRET-INNOVATION"):
        assert excluded[code] == [f"Le dispositif « {scheme(code).name} » exclut l'activité de l'entreprise "
                                  "(code NAF 01.24Z)."]


def test_the_jura_company_is_out_of_reach_of_the_cote_d_or_schemes_with_every_reason(loaded):
    eligible, excluded = split(loaded["optique"], "300000")
    assert set(eligible) == {"REGION-INVEST-PME", "REGION-CONSEIL-EXPORT", "AER-AVANCE-DEVELOPPEMENT",
                             "BPI-PRET-INNOVATION", "BPI-GARANTIE-REGIONALE"}
    assert excluded["CD21-DIVERSIFICATION-AGRICOLE"] == [
        "Le dispositif « Aide à la diversification agricole » est réservé aux départements 21 ; "
        "l'établissement est situé dans le département 39.",
        "Le dispositif « Aide à la diversification agricole » exclut l'activité de l'entreprise "
        "(code NAF 32.50B)."]
    assert excluded["INITIATIVE21-PRET-HONNEUR"] == [
        "Le dispositif « Prêt d'honneur Création-Reprise » est réservé aux départements 21 ; "
        "l'établissement est situé dans le département 39."]


def test_a_medium_company_is_out_of_reach_of_the_schemes_for_micro_and_small_ones(loaded):
    farm = loaded["vergers"]
    farm.headcount = 120  # a cooperative-sized farm: medium
    eligible, excluded = split(farm, "50000")
    assert "CD21-DIVERSIFICATION-AGRICOLE" not in eligible
    assert excluded["CD21-DIVERSIFICATION-AGRICOLE"] == [
        "Le dispositif « Aide à la diversification agricole » est réservé aux entreprises de ces tailles : "
        "microentreprise, petite entreprise ; l'entreprise est classée moyenne entreprise."]
    db.session.rollback()


def test_the_digital_micro_company_in_doubs_may_ask_the_regional_aids_not_the_cote_d_or_ones(loaded):
    eligible, excluded = split(loaded["numerique"], "100000")
    assert "REGION-INVEST-PME" in eligible and "BPI-PRET-INNOVATION" in eligible
    assert set(excluded) == {"CD21-DIVERSIFICATION-AGRICOLE", "INITIATIVE21-PRET-HONNEUR"}
    assert any("département 25" in reason for reason in excluded["INITIATIVE21-PRET-HONNEUR"])


def test_the_maximum_is_the_smaller_of_the_ceiling_and_the_rate_to_the_cent(loaded):
    eligible, _ = split(loaded["menuiserie"], "123456.78")
    assert eligible["REGION-INVEST-PME"] == Decimal("37037.03")  # 30 % = 37 037,034
    assert eligible["INITIATIVE21-PRET-HONNEUR"] == Decimal("30000.00")  # 50 % = 61 728,39 > ceiling
    assert eligible["BPI-GARANTIE-REGIONALE"] == Decimal("86419.75")  # 70 % = 86 419,746
    eligible, _ = split(loaded["menuiserie"], "5000000")
    assert eligible["REGION-INVEST-PME"] == Decimal("200000")  # the ceiling


def test_a_start_date_when_the_schemes_are_closed_puts_them_all_out_of_reach(loaded):
    eligible, excluded = split(loaded["menuiserie"], "100000", date(paris_today().year + 5, 1, 1))
    assert eligible == {}
    assert excluded["REGION-INVEST-PME"][0] == ("Le dispositif « Aide régionale à l'investissement des PME » "
                                                "n'est pas ouvert aux demandes à cette date.")


def test_a_fixed_number_of_queries_whatever_the_number_of_schemes(loaded):
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        split(loaded["vergers"], "50000")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


# --------------------------------------------------------------------------- the page

def test_the_page_lists_what_may_be_asked_with_its_maximum_and_why_not_the_others(client, loaded):
    login(client, loaded["julien"])
    response = client.get(URL, query_string={"company": loaded["vergers"].id, "eligible_cost": "50 000",
                                             "starts_on": paris_today().isoformat()})
    assert response.status_code == 200
    possible, out_of_reach = sections(response)
    assert "Dispositifs que vous pouvez solliciter" in possible
    assert "Aide à la diversification agricole" in possible and "Département de la Côte-d'Or" in possible
    assert "Subvention" in possible and "Prêt d'honneur" in possible
    assert "20 000,00 €" in possible and "25 000,00 €" in possible and "35 000,00 €" in possible
    assert f'name="schemes" value="{scheme("CD21-DIVERSIFICATION-AGRICOLE").id}"' in possible
    assert "Aide régionale à l'investissement des PME" not in possible
    assert "Aide régionale à l'investissement des PME" in out_of_reach
    assert "exclut l'activité de l'entreprise (code NAF 01.24Z)" in out_of_reach
    assert "Créer un brouillon avec ces dispositifs" in possible


def test_the_empty_form_starts_today_and_is_linked_from_my_cases_and_the_new_draft_page(client, loaded):
    login(client, loaded["julien"])
    response = client.get(URL)
    assert response.status_code == 200
    page = text(response)
    assert f'value="{paris_today().isoformat()}"' in page
    assert "Dispositifs que vous pouvez solliciter" not in page
    assert "Menuiserie Bourgeois et Fils" in page and "Optique Jurassienne" not in page  # mine only
    for other in ("/dossiers/", "/dossiers/nouveau"):
        assert URL in client.get(other).get_data(as_text=True)


@pytest.mark.parametrize("cost, message", [
    ("-5000", "Le coût éligible doit être supérieur à zéro."),
    ("beaucoup", "Le coût éligible doit être un nombre"),
    ("", "Le coût éligible est obligatoire."),
])
def test_a_wrong_cost_is_told_in_french(client, loaded, cost, message):
    login(client, loaded["julien"])
    response = client.get(URL, query_string={"company": loaded["vergers"].id, "eligible_cost": cost,
                                             "starts_on": "2026-03-01"})
    assert response.status_code == 422
    assert message in text(response)
    assert "Dispositifs hors de portée" not in text(response)


@pytest.mark.parametrize("company", ["other", "abc", "99999999999999"])
def test_someone_else_s_company_or_a_forged_id_is_refused(client, loaded, company):
    login(client, loaded["julien"])
    company_id = loaded["optique"].id if company == "other" else company
    response = client.get(URL, query_string={"company": company_id, "eligible_cost": "1000",
                                             "starts_on": "01/03/2026"})
    assert response.status_code == 422
    assert "Choisissez une de vos entreprises." in text(response)
    assert "Optique Jurassienne" not in text(response)


def test_a_wrong_date_is_told_in_french(client, loaded):
    login(client, loaded["julien"])
    response = client.get(URL, query_string={"company": loaded["vergers"].id, "eligible_cost": "1000",
                                             "starts_on": "31/02/2026"})
    assert response.status_code == 422
    assert "Indiquez une date valide" in text(response)


def test_agents_and_admins_do_not_see_the_page_and_anonymous_people_log_in(client, loaded):
    assert client.get(URL).status_code == 302
    for person in ("agent", "admin"):
        login(client, loaded[person])
        assert client.get(URL).status_code == 404
        assert client.post(URL, data={}).status_code == 404


# --------------------------------------------------------------------------- the draft

def _post(client, loaded, codes, **extra):
    start = paris_today() + timedelta(days=10)
    data = {"company": loaded["vergers"].id, "eligible_cost": "50000,00", "starts_on": start.isoformat(),
            "title": "Atelier de jus de pomme", "schemes": [scheme(code).id for code in codes], **extra}
    return client.post(URL, data=data), start


def test_creating_a_draft_with_the_chosen_schemes_prefills_the_financing_plan(client, loaded):
    login(client, loaded["julien"])
    before = db.session.scalar(select(func.count(Case.id)))
    response, start = _post(client, loaded, ["CD21-DIVERSIFICATION-AGRICOLE", "INITIATIVE21-PRET-HONNEUR"])
    assert response.status_code == 302
    case = db.session.scalar(select(Case).where(Case.title == "Atelier de jus de pomme"))
    assert response.headers["Location"].endswith(f"/dossiers/{case.reference}/modifier")
    assert db.session.scalar(select(func.count(Case.id))) == before + 1
    assert case.state == "draft" and case.company_id == loaded["vergers"].id
    assert case.eligible_cost == Decimal("50000") and case.starts_on == start
    assert {(line.scheme.code, line.requested_amount) for line in case.lines} == {
        ("CD21-DIVERSIFICATION-AGRICOLE", Decimal("20000.00")),
        ("INITIATIVE21-PRET-HONNEUR", Decimal("25000.00"))}
    page = text(client.get(response.headers["Location"]))
    assert "20 000,00 €" in page and "25 000,00 €" in page


def test_a_forged_scheme_out_of_reach_is_refused_and_nothing_is_created(client, loaded):
    login(client, loaded["julien"])
    cases, lines = (db.session.scalar(select(func.count(Case.id))),
                    db.session.scalar(select(func.count(FundingLine.id))))
    response, _ = _post(client, loaded, ["CD21-DIVERSIFICATION-AGRICOLE", "REGION-INVEST-PME"])
    assert response.status_code == 422
    assert ("Ce projet ne peut pas solliciter « Aide régionale à l'investissement des PME »"
            in text(response))
    assert db.session.scalar(select(func.count(Case.id))) == cases
    assert db.session.scalar(select(func.count(FundingLine.id))) == lines


@pytest.mark.parametrize("extra, message", [
    ({"title": ""}, "Le titre du projet est obligatoire."),
    ({"schemes": []}, "Choisissez au moins un dispositif à solliciter."),
    ({"schemes": ["n'importe quoi"]}, "Choisissez les dispositifs dans la liste proposée."),
    ({"eligible_cost": "-1"}, "Le coût éligible doit être supérieur à zéro."),
])
def test_a_draft_without_title_or_scheme_is_refused_in_french(client, loaded, extra, message):
    login(client, loaded["julien"])
    cases = db.session.scalar(select(func.count(Case.id)))
    response, _ = _post(client, loaded, ["CD21-DIVERSIFICATION-AGRICOLE"], **extra)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(func.count(Case.id))) == cases


def test_a_draft_for_someone_else_s_company_is_refused(client, loaded):
    login(client, loaded["julien"])
    cases = db.session.scalar(select(func.count(Case.id)))
    response, _ = _post(client, loaded, ["BPI-GARANTIE-REGIONALE"], company=loaded["optique"].id)
    assert response.status_code == 422
    assert "Choisissez une de vos entreprises." in text(response)
    assert db.session.scalar(select(func.count(Case.id))) == cases


def test_the_filled_page_and_its_error_pages_are_accessible(client, loaded):
    from test_html_quality import check_form_error_page, check_page

    login(client, loaded["julien"])
    filled = client.get(URL, query_string={"company": loaded["menuiserie"].id, "eligible_cost": "80000",
                                           "starts_on": paris_today().isoformat()})
    assert filled.status_code == 200 and check_page(filled.get_data(as_text=True)) == []
    wrong = client.get(URL, query_string={"company": loaded["menuiserie"].id, "eligible_cost": "-3",
                                          "starts_on": "demain"})
    assert wrong.status_code == 422
    assert check_page(wrong.get_data(as_text=True)) == []
    assert check_form_error_page(wrong.get_data(as_text=True)) == []
    refused, _ = _post(client, loaded, ["REGION-INVEST-PME"], title="")
    assert refused.status_code == 422
    assert check_page(refused.get_data(as_text=True)) == []
