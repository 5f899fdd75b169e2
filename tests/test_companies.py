"""Companies: SIRET (Luhn and La Poste), field rules, size bands, members-only pages."""
import html as html_module
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from atelier.common import ActionRefused
from atelier.companies.models import Company, company_members, size_category
from atelier.companies.operations import (declare_company, departement_of, parse_departement,
                                          parse_naf_code, parse_postcode, parse_siret)
from atelier.extensions import db
from conftest import login, make_siret

M = Decimal(1_000_000)

VALID_FORM = {
    "siret": "", "name": "Ateliers du Morvan", "legal_form": "SAS", "naf_code": "6201z",
    "headcount": "12", "turnover": "1 250 000,50", "balance_sheet": "830000", "address": "3 rue des Forges",
    "postcode": "21000", "commune": "Dijon", "departement": "",
}


def company_form(**changes) -> dict:
    return {**VALID_FORM, **changes}


def company_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Company))


def error_beside(html: str, field: str) -> str:
    """The error message shown beside ``field`` (the ``field`` macro's ``<p id=field-error>``)."""
    match = re.search(rf'<p class="error-message" id="{field}-error">(.*?)</p>', html, re.S)
    assert match, f"no error beside {field}"
    assert f'aria-describedby="{field}-hint {field}-error"' in html \
        or f'aria-describedby="{field}-error"' in html
    return html_module.unescape(match.group(1))


@pytest.fixture
def applicant(create_user):
    user = create_user("applicant")
    db.session.commit()
    return user


# ------------------------------------------------------------------ SIRET

@pytest.mark.parametrize("typed, siren", [
    ("35600000049837", "356000000"),  # La Poste: digit sum divisible by 5 (Luhn would refuse it)
    ("73282932000074", "732829320"),  # ordinary Luhn
    ("356 000 000 49837", "356000000"),  # spaces accepted
    ("732 829 320 00074", "732829320"),
])
def test_valid_siret_is_written_with_its_siren(client, applicant, typed, siren):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(siret=typed))
    assert response.status_code == 302
    company = db.session.scalar(select(Company))
    assert company.siret == typed.replace(" ", "")
    assert company.siren == siren
    assert response.headers["Location"].endswith(f"/entreprises/{company.id}")
    assert [member.id for member in company.members] == [applicant.id]


@pytest.mark.parametrize("typed", ["35600000049838", "73282932000079", "356 000 000 49838"])
def test_siret_with_wrong_check_is_refused_beside_the_field(client, applicant, typed):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(siret=typed))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "clé de contrôle est fausse" in error_beside(html, "siret")
    assert 'role="alert"' in html  # the summary of errors
    assert company_count() == 0


@pytest.mark.parametrize("typed, message", [
    ("", "obligatoire"),
    ("7328293200007", "14 chiffres ; vous en avez saisi 13"),
    ("732829320000741", "vous en avez saisi 15"),
    ("73282932OOOO74", "que des chiffres"),
])
def test_malformed_siret_gets_a_french_message(typed, message):
    with pytest.raises(ActionRefused) as refused:
        parse_siret(typed)
    assert message in refused.value.message and refused.value.field == "siret"


def test_siret_already_declared_is_refused_without_saying_by_whom(client, applicant, create_user,
                                                                   create_company):
    owner = create_user("applicant", name="Martine Secrète", email="martine@secrete.fr")
    create_company(members=[owner], siret="73282932000074", name="Société Discrète")
    db.session.commit()
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(siret="732 829 320 00074"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "déjà enregistré sur la plateforme" in error_beside(html, "siret")
    for secret in ("Martine", "martine@secrete.fr", "Société Discrète"):
        assert secret not in html
    assert company_count() == 1


def test_declaring_the_same_company_twice_says_it_is_already_mine(applicant):
    declare_company(applicant, siret="73282932000074", **{k: v for k, v in VALID_FORM.items() if k != "siret"})
    with pytest.raises(ActionRefused, match="déjà déclaré cette entreprise"):
        declare_company(applicant, siret="73282932000074",
                        **{k: v for k, v in VALID_FORM.items() if k != "siret"})


# ------------------------------------------------------------------ other fields

@pytest.mark.parametrize("field, typed, message", [
    ("headcount", "-3", "ne peut pas être négatif"),
    ("headcount", "douze", "nombre entier"),
    ("headcount", "12,5", "nombre entier"),
    ("headcount", "", "obligatoire"),
    ("turnover", "beaucoup", "doit être un nombre"),
    ("turnover", "-10", "ne peut pas être négatif"),
    ("turnover", "1e400", "doit être un nombre"),
    ("turnover", "NaN", "doit être un nombre"),
    ("turnover", "12,345", "deux décimales"),
    ("balance_sheet", "10000000000000", "trop élevé"),
    ("balance_sheet", "", "obligatoire"),
    ("naf_code", "62012", "par exemple 62.01Z"),
    ("naf_code", "Z6201", "par exemple 62.01Z"),
    ("postcode", "2100", "cinq chiffres"),
    ("postcode", "21OOO", "cinq chiffres"),
    ("departement", "20", "n'existe pas"),
    ("departement", "99", "n'existe pas"),
    ("departement", "2A", "celui du département 21"),
    # Digits of another script are not read as numbers (Python's int() and \d would take them).
    ("turnover", "١٢٣", "doit être un nombre"),
    ("balance_sheet", "１２３", "doit être un nombre"),
    ("headcount", "١٢", "nombre entier"),
    ("postcode", "٢١٠٠٠", "cinq chiffres"),
    ("naf_code", "٦٢٠١Z", "par exemple 62.01Z"),
    ("departement", "٢١", "n'existe pas"),
    ("postcode", "98000", "aucun département"),
    ("name", "   ", "obligatoire"),
    ("name", "x" * 201, "200 caractères"),
    ("legal_form", "", "Choisissez une forme juridique"),
    ("legal_form", "<script>", "Choisissez une forme juridique"),
    ("commune", "", "obligatoire"),
    ("address", "", "obligatoire"),
])
def test_bad_values_are_refused_beside_their_field(client, applicant, field, typed, message):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle",
                           data=company_form(siret="73282932000074", **{field: typed}))
    assert response.status_code == 422
    assert message in error_beside(response.get_data(as_text=True), field)
    assert company_count() == 0


def test_every_mistake_is_shown_at_once(client, applicant):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(
        siret="73282932000079", headcount="-1", turnover="abc"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Le formulaire contient 3 erreurs" in html
    for field in ("siret", "headcount", "turnover"):
        error_beside(html, field)


def test_values_are_normalised(client, applicant):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(
        siret="73282932000074", naf_code=" 62 01 z ", turnover="1 250 000,50 €",
        balance_sheet="830000,5", headcount=" 7 "))
    assert response.status_code == 302
    company = db.session.scalar(select(Company))
    assert company.naf_code == "62.01Z"
    assert company.turnover == Decimal("1250000.50")
    assert company.balance_sheet == Decimal("830000.50")
    assert company.headcount == 7
    assert company.departement == "21"


@pytest.mark.parametrize("typed, expected", [("6201z", "62.01Z"), ("62.01Z", "62.01Z"), ("01.11a", "01.11A"),
                                             ("4711 F", "47.11F")])
def test_naf_code_normalised(typed, expected):
    assert parse_naf_code(typed) == expected


@pytest.mark.parametrize("postcode, departement", [
    ("21000", "21"), ("01000", "01"), ("25000", "25"), ("90000", "90"), ("95880", "95"),
    ("20000", "2A"), ("20090", "2A"), ("20167", "2A"), ("20199", "2A"),
    ("20200", "2B"), ("20290", "2B"), ("20600", "2B"), ("20620", "2B"),
    ("97100", "971"), ("97200", "972"), ("97300", "973"), ("97400", "974"), ("97500", "975"),
    ("97600", "976"), ("97133", "977"), ("97150", "978"), ("98600", "986"), ("98800", "988"),
])
def test_departement_derived_from_postcode(postcode, departement):
    assert departement_of(postcode) == departement
    assert parse_departement("", postcode) == departement
    assert parse_departement(departement.lower(), postcode) == departement  # typed: it must be that one


@pytest.mark.parametrize("typed, postcode, expected", [
    ("2a", "20000", "2A"), ("2B", "20200", "2B"), ("1", "01000", "01"), ("971", "97100", "971"),
    (" 39 ", "39400", "39"),
])
def test_departement_typed_is_normalised(typed, postcode, expected):
    assert parse_departement(typed, postcode) == expected


@pytest.mark.parametrize("typed, postcode, derived", [
    ("2A", "21000", "21"), ("2B", "20000", "2A"), ("2A", "20200", "2B"), ("21", "97100", "971"),
    ("971", "21000", "21"), ("972", "97100", "971"), ("971", "97133", "977"), ("1", "21000", "21"),
])
def test_departement_that_is_not_the_postcodes_is_refused(typed, postcode, derived):
    with pytest.raises(ActionRefused, match=f"code postal {postcode} est celui du département {derived}") as refused:
        parse_departement(typed, postcode)
    assert refused.value.field == "departement"


@pytest.mark.parametrize("postcode", ["00100", "96000", "98000", "99100", "97700", "98400"])
def test_postcode_of_no_departement_is_refused(postcode):
    with pytest.raises(ActionRefused, match="aucun département") as refused:
        parse_postcode(postcode)
    assert refused.value.field == "postcode"


def test_departement_that_is_not_the_postcodes_is_refused_beside_it(client, applicant, world):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(
        siret="73282932000074", postcode="21000", departement="2A"))
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "departement").strip() == (
        "Le code postal 21000 est celui du département 21, pas du 2A : corrigez l'un ou l'autre, ou laissez "
        "ce champ vide pour le déduire du code postal.")
    assert db.session.scalar(select(Company).where(Company.siret == "73282932000074")) is None
    login(client, world.applicant)  # correcting a company: the same rule
    response = client.post(f"/entreprises/{world.company.id}/modifier",
                           data=company_form(postcode="20200", departement="2A"))
    assert response.status_code == 422
    assert "département 2B, pas du 2A" in error_beside(response.get_data(as_text=True), "departement")
    db.session.refresh(world.company)
    assert world.company.departement == "21"


@pytest.mark.parametrize("postcode, typed, stored", [("20000", "2a", "2A"), ("20213", "", "2B"),
                                                     ("97600", "976", "976"), ("97150", "", "978")])
def test_corsica_and_overseas_are_stored(client, applicant, postcode, typed, stored):
    login(client, applicant)
    response = client.post("/entreprises/nouvelle", data=company_form(
        siret="73282932000074", postcode=postcode, departement=typed))
    assert response.status_code == 302
    assert db.session.scalar(select(Company.departement)) == stored


def test_operations_refuse_a_mismatch_too(applicant):
    """No path around the form (CLI, API, another view) stores a département that is not the postcode's."""
    fields = {k: v for k, v in VALID_FORM.items() if k != "siret"}
    with pytest.raises(ActionRefused, match="celui du département 21"):
        declare_company(applicant, siret="73282932000074", **{**fields, "departement": "2A"})
    assert company_count() == 0


# ------------------------------------------------------------------ size bands (domain.md)

@pytest.mark.parametrize("headcount, turnover, balance_sheet, size", [
    (0, 0, 0, "micro"),
    (9, 2 * M, 99 * M, "micro"),          # turnover OR balance sheet ≤ 2 M€
    (9, 99 * M, 2 * M, "micro"),
    (9, 2 * M + 1, 2 * M + 1, "small"),
    (10, 0, 0, "small"),                  # < 10 staff for a micro
    (49, 10 * M, 99 * M, "small"),
    (49, 99 * M, 10 * M, "small"),
    (49, 10 * M + 1, 10 * M + 1, "medium"),
    (50, 0, 0, "medium"),
    (249, 50 * M, 999 * M, "medium"),     # turnover ≤ 50 M€ …
    (249, 999 * M, 43 * M, "medium"),     # … or balance sheet ≤ 43 M€
    (249, 50 * M + 1, 43 * M + 1, "eti"),
    (250, 0, 0, "eti"),
    (4999, 1500 * M, 9999 * M, "eti"),
    (4999, 9999 * M, 2000 * M, "eti"),
    (4999, 1500 * M + 1, 2000 * M + 1, "large"),
    (5000, 0, 0, "large"),
])
def test_size_category_follows_the_bands(headcount, turnover, balance_sheet, size):
    assert size_category(headcount, Decimal(turnover), Decimal(balance_sheet)) == size
    company = Company(headcount=headcount, turnover=Decimal(turnover), balance_sheet=Decimal(balance_sheet))
    assert company.size == size


def test_size_is_shown_in_french(client, applicant, create_company):
    company = create_company(members=[applicant], headcount=60, turnover=Decimal("20000000"),
                             balance_sheet=Decimal("15000000"))
    db.session.commit()
    login(client, applicant)
    html = client.get(f"/entreprises/{company.id}").get_data(as_text=True)
    assert "Moyenne entreprise" in html
    assert "20\u202f000\u202f000,00\xa0€" in html


# ------------------------------------------------------------------ pages and access

def test_my_companies_lists_only_mine(client, world):
    login(client, world.applicant)
    html = client.get("/entreprises/").get_data(as_text=True)
    assert world.company.name in html
    assert world.other_company.name not in html


def test_company_pages_are_for_members_only(client, world):
    others = (world.other_applicant, world.region_agent, world.region_secretary, world.admin)
    for user in others:
        login(client, user)
        assert client.get(f"/entreprises/{world.company.id}").status_code == 404
        assert client.get(f"/entreprises/{world.company.id}/modifier").status_code == 404
        assert client.post(f"/entreprises/{world.company.id}/modifier",
                           data=company_form(name="Piratée")).status_code == 404
    assert client.get("/entreprises/999999").status_code == 404
    db.session.refresh(world.company)
    assert world.company.name != "Piratée"


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(f"/entreprises/{world.company.id}")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_member_edits_the_company_but_not_its_siret(client, world):
    login(client, world.applicant)
    page = client.get(f"/entreprises/{world.company.id}/modifier").get_data(as_text=True)
    assert 'name="siret"' not in page
    assert 'value="1500000,00"' in page  # amounts shown the French way
    response = client.post(f"/entreprises/{world.company.id}/modifier",
                           data=company_form(name="Nouveau nom", siret="73282932000074", headcount="300",
                                             turnover="60000000", balance_sheet="50000000",
                                             postcode="97200"))
    assert response.status_code == 302
    db.session.refresh(world.company)
    assert world.company.name == "Nouveau nom"
    assert world.company.siret != "73282932000074"
    assert world.company.departement == "972"
    assert world.company.size == "eti"


def test_edit_with_errors_changes_nothing(client, world):
    login(client, world.applicant)
    response = client.post(f"/entreprises/{world.company.id}/modifier",
                           data=company_form(name="Nouveau nom", headcount="-1"))
    assert response.status_code == 422
    db.session.refresh(world.company)
    assert world.company.name != "Nouveau nom"


def test_declaring_applicant_becomes_member(client, applicant):
    login(client, applicant)
    client.post("/entreprises/nouvelle", data=company_form(siret=make_siret(4242)))
    members = db.session.execute(select(company_members)).all()
    assert [(row.user_id) for row in members] == [applicant.id]
    html = client.get("/entreprises/").get_data(as_text=True)
    assert "Ateliers du Morvan" in html


def test_only_applicants_declare_companies(client, world):
    login(client, world.region_agent)
    assert client.get("/entreprises/nouvelle").status_code == 404
    with pytest.raises(ActionRefused):
        declare_company(world.region_agent, siret="73282932000074",
                        **{k: v for k, v in VALID_FORM.items() if k != "siret"})
