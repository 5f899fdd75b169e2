"""The one rule for what enters (``atelier/inputs.py``): a NUL or a lone surrogate in the path, the query
string, a form field or a JSON body is refused in French before any view runs — a page, a problem
document under ``/api/``, or the message beside the form field — and JSON bodies are bounded in depth
and size. Nothing is stored, and never a 500 (on SQLite and on PostgreSQL, which refuses NUL in text)."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from atelier.api.tokens import create_token
from atelier.common import ActionRefused, read_date
from atelier.extensions import db
from atelier.inputs import forbidden_in, json_refusals, json_too_deep
from atelier.models import Case, Company
from atelier.schemes.operations import parse_rate_percent
from conftest import login
from test_companies import company_form, error_beside

PROBLEM = "application/problem+json"
NUL_MESSAGE = ("Ce champ contient un caractère nul (U+0000), qui ne peut pas être enregistré : retirez-le "
               "(il vient souvent d'un copier-coller), puis recommencez.")


@pytest.fixture
def headers(world):
    _, token = create_token(world.applicant, name="Logiciel de gestion", scope="write", days=30)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def row_counts() -> dict[str, int]:
    """How many rows each table holds: "nothing stored" whatever the table."""
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    return body


def french_page(response, status: int) -> str:
    assert response.status_code == status, response.status_code
    html = response.get_data(as_text=True)
    assert 'lang="fr"' in html and "Requête refusée" in html
    return html


# --------------------------------------------------------------------------- the rule

@pytest.mark.parametrize("text, what", [
    ("a\x00b", "caractère nul"), ("\x00", "caractère nul"),
    ("\ud800", "demi-caractère Unicode isolé (U+D800)"), ("titre \udfff", "(U+DFFF)"),
])
def test_nul_and_lone_surrogates_are_forbidden(text, what):
    assert what in forbidden_in(text)


@pytest.mark.parametrize("text", ["", "Société Générale d'Équipement", "🇫🇷🦆", "\ufffd", "\t\r\n", "\x01\x7f",
                                  "\u202e\u0645\u0631\u062d\u0628\u0627", "\U0010ffff"])
def test_other_text_passes_the_rule(text):
    assert forbidden_in(text) is None


def test_depth_is_counted_without_parsing():
    assert json_too_deep(b"[" * 100_000 + b"]" * 100_000, 32)
    assert not json_too_deep(b"[" * 32 + b"]" * 32, 32)
    assert json_too_deep(b'{"a": ' * 33 + b"1" + b"}" * 33, 32)
    assert not json_too_deep(b'{"title": "' + b"[{" * 1000 + b'"}', 32)  # brackets inside a string
    assert not json_too_deep(b'{"title": "\\"' + b"[" * 1000 + b'"}', 32)  # after an escaped quote


def test_each_refused_string_is_named_by_its_path():
    refusals = json_refusals({"title": "ok", "lines": [{"reason": "a\x00"}, "\ud800"], "k\x00": 1})
    assert [refusal["field"] for refusal in refusals] == ["lines[0].reason", "lines[1]", "k\ufffd"]
    assert "caractère nul" in refusals[0]["detail"]


# --------------------------------------------------------------------------- the API

def deep_body(levels: int) -> bytes:
    return b'{"title": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize("levels", [33, 100_000])
def test_deeply_nested_json_is_refused(client, world, headers, create_case, levels):
    reference = create_case().reference
    db.session.commit()
    before = row_counts()
    for method, url in (("POST", "/api/v1/cases"), ("PATCH", f"/api/v1/cases/{reference}")):
        response = client.open(url, method=method, headers=headers, data=deep_body(levels),
                               content_type="application/json")
        assert problem(response, 400)["detail"] == ("Le document JSON imbrique plus de 32 niveaux de "
                                                    "tableaux ou d'objets : simplifiez-le.")
    assert row_counts() == before


def test_nesting_within_the_bound_is_read(client, world, headers):
    response = client.post("/api/v1/cases", headers=headers, data=deep_body(31),
                           content_type="application/json")
    assert response.status_code == 422  # read, then refused for what it says (a title is text)
    assert "imbrique" not in response.get_json()["detail"]


def test_json_larger_than_the_setting_is_refused(app, client, world, headers, monkeypatch):
    monkeypatch.setitem(app.config, "JSON_MAX_BYTES", 2048)
    body = b'{"title": "' + b"a" * 2048 + b'"}'
    response = client.post("/api/v1/cases", headers=headers, data=body, content_type="application/json")
    assert problem(response, 413)["detail"] == "Le document JSON dépasse la taille autorisée (2 Kio)."
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize("escaped, what", [("\\ud800", "(U+D800)"), ("Atelier \\u0000", "(U+0000)"),
                                           ("\\udc00 fin", "(U+DC00)")])
def test_forbidden_character_in_a_title_is_refused_beside_it(client, world, headers, create_case, escaped,
                                                              what):
    case = create_case()
    db.session.commit()
    before = row_counts()
    body = ('{"company_id": %d, "title": "%s", "description": "Une machine.", "eligible_cost": 1000}'
            % (world.company.id, escaped)).encode()
    for method, url in (("POST", "/api/v1/cases"), ("PATCH", f"/api/v1/cases/{case.reference}")):
        response = client.open(url, method=method, headers=headers, data=body, content_type="application/json")
        body_json = problem(response, 422)
        assert body_json["detail"] == "Certaines données sont invalides : voyez le détail de chaque champ."
        [error] = body_json["errors"]
        assert error["field"] == "title" and what in error["detail"]
    assert row_counts() == before
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Nouvelle ligne de production"


def test_forbidden_character_in_a_json_key_is_refused(client, world, headers):
    response = client.post("/api/v1/cases", headers=headers, data=b'{"ti\\u0000tle": "x"}',
                           content_type="application/json")
    [error] = problem(response, 422)["errors"]
    assert error["field"] == "ti\ufffdtle" and "nom de ce champ" in error["detail"]


def test_a_surrogate_encoded_in_the_bytes_of_a_json_body_is_refused(client, world, headers):
    """Python's JSON parser decodes bytes with ``surrogatepass``: UTF-8-encoded U+D800 becomes one."""
    response = client.post("/api/v1/cases", headers=headers, data=b'{"title": "\xed\xa0\x80"}',
                           content_type="application/json")
    [error] = problem(response, 422)["errors"]
    assert error["field"] == "title" and "(U+D800)" in error["detail"]


def test_invalid_utf8_in_a_json_body_is_a_400(client, world, headers):
    response = client.post("/api/v1/cases", headers=headers, data=b'{"title": "\xff"}',
                           content_type="application/json")
    assert problem(response, 400)["detail"] == "Le corps de la requête n'est pas un document JSON valide."


@pytest.mark.parametrize("query, name", [("scheme=%00", "scheme"), ("agency=%00", "agency"),
                                         ("agency=region%00x", "agency"), ("s%00=1", "s\ufffd")])
def test_nul_in_the_query_string_of_the_api_is_refused(client, world, headers, query, name):
    response = client.get("/api/v1/cases?" + query, headers=headers)
    assert problem(response, 400)["detail"] == (
        f"Le paramètre « {name} » de l'adresse contient un caractère nul (U+0000) : corrigez l'adresse, "
        "puis recommencez.")


def test_nul_in_the_path_of_the_api_is_refused(client, world, headers):
    response = client.get("/api/v1/schemes/%00", headers=headers)
    assert problem(response, 400)["detail"] == ("L'adresse demandée contient un caractère nul (U+0000) : "
                                                "elle ne mène à aucune page.")
    assert problem(client.get("/api/v1/cases/AP%00", headers=headers), 400)


def test_percent_encoded_surrogates_are_harmless(client, world, headers):
    """Werkzeug keeps invalid UTF-8 of a query string as typed (``%ED%A0%80``) and turns that of a path
    into U+FFFD: neither can carry a lone surrogate, and both are simply not found."""
    response = client.get("/api/v1/cases?scheme=%ED%A0%80", headers=headers)
    assert response.status_code == 200 and response.get_json()["items"] == []
    assert problem(client.get("/api/v1/schemes/%ED%A0%80", headers=headers), 404)


def test_nul_in_a_form_body_sent_to_the_api_is_refused(client, world, headers):
    response = client.post("/api/v1/cases", headers=headers, data={"title": "a\x00"})
    [error] = problem(response, 422)["errors"]
    assert error == {"field": "title", "detail": NUL_MESSAGE}


# --------------------------------------------------------------------------- pages

@pytest.mark.parametrize("parameter", ["scheme", "committee", "state", "from"])
def test_nul_in_the_portfolio_export_filters_is_refused(client, world, parameter):
    login(client, world.region_agent)
    response = client.get("/organisme/exports/portefeuille", query_string={parameter: "REG\x00", "format": "csv"})
    html = french_page(response, 400)
    assert f"Le paramètre « {parameter} » de l&#39;adresse contient un caractère nul" in html


def test_nul_in_a_page_path_or_search_is_refused(client, world):
    login(client, world.applicant)
    french_page(client.get("/dossiers/AP-2026%00"), 400)
    french_page(client.get("/dispositifs/?agency=%00"), 400)
    french_page(client.get("/dispositifs/%00"), 400)
    login(client, world.region_agent)
    french_page(client.get("/organisme/recherche?q=%00"), 400)


def test_nul_in_the_registration_name_is_said_beside_it(client, world):
    before = row_counts()
    response = client.post("/inscription", data={
        "name": "Camille\x00Porteur", "email": "camille.nul@example.fr",
        "password": "une phrase de passe assez longue", "confirm": "une phrase de passe assez longue"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_beside(html, "name").strip() == NUL_MESSAGE
    assert 'value="CamillePorteur"' in html  # shown back without the character
    assert row_counts() == before


def test_nul_in_a_company_address_is_said_beside_it(client, world, create_user):
    login(client, create_user("applicant"))
    before = row_counts()
    response = client.post("/entreprises/nouvelle", data=company_form(siret="73282932000074",
                                                                      address="3 rue\x00 des Forges"))
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "address").strip() == NUL_MESSAGE
    assert row_counts() == before
    login(client, world.applicant)
    response = client.post(f"/entreprises/{world.company.id}/modifier", data=company_form(address="\x00"))
    assert error_beside(response.get_data(as_text=True), "address").strip() == NUL_MESSAGE
    db.session.refresh(world.company)
    assert "\x00" not in world.company.address
    assert db.session.scalar(select(func.count()).select_from(Company)) == before["companies"]


def test_nul_in_a_password_is_refused_without_trying_it(client, world):
    response = client.post("/connexion", data={"email": world.applicant.email, "password": "x\x00"})
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "password").strip() == NUL_MESSAGE


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"name": {"a": 1}}', b'"texte"', b"[" * 100_000 + b"]" * 100_000])
def test_pages_do_not_read_json_bodies(client, world, body):
    """A page's form is what a browser posts; a JSON body (even nested 100 000 levels) is not read."""
    before = row_counts()
    response = client.post("/inscription", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "Indiquez votre nom." in response.get_data(as_text=True)
    assert row_counts() == before


# --------------------------------------------------------------------------- dates and rates: ASCII digits

@pytest.mark.parametrize("text, expected", [
    ("2026-03-31", date(2026, 3, 31)), ("31/03/2026", date(2026, 3, 31)), (" 31.03.2026 ", date(2026, 3, 31)),
    ("31-03-2026", date(2026, 3, 31)),
    ("٣١/٠٣/٢٠٢٦", None),  # Arabic-Indic digits: strptime would read them
    ("３１/０３/２０２６", None),  # full-width digits
    ("31/02/2026", None), ("demain", None), ("", None),
])
def test_a_typed_date_takes_ascii_digits_only(text, expected):
    assert read_date(text) == expected


def test_a_scheme_rate_in_other_digits_gets_the_french_message():
    with pytest.raises(ActionRefused, match="pourcentage"):
        parse_rate_percent("٤٠")
    assert parse_rate_percent("40,5") == Decimal("0.405")


def test_a_number_of_instalments_in_other_digits_gets_the_french_message(world, create_case):
    from atelier.cases.repayments import parse_schedule

    line = create_case("in_review").lines[0]
    line.granted_amount = Decimal("12000")
    with pytest.raises(ActionRefused, match="nombre entier de 1 à"):
        parse_schedule(line, date(2026, 1, 15), instalment_count="١٢", frequency_months="1",
                       deferral_months="", first_due_on=None)
    plan = parse_schedule(line, date(2026, 1, 15), instalment_count="12", frequency_months="1",
                          deferral_months="", first_due_on=None)
    assert plan["count"] == 12 and sum(amount for _, amount in plan["instalments"]) == Decimal("12000")
