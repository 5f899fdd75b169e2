"""The admin pages: admins only (404 for everyone else); agencies, accounts, committees, schemes, dossiers."""
import html
import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from atelier.agencies.models import Agency
from atelier.auth.models import User
from atelier.cases.models import Event
from atelier.committees.models import Committee
from atelier.extensions import db
from atelier.schemes.models import Scheme
from conftest import login


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_beside(response, field: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field}-error">(.*?)</p>', text_of(response), re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@contextmanager
def count_queries():
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def admin_client(client, world):
    login(client, world.admin)
    return client


# ------------------------------------------------------------------ admins only

def admin_urls(app):
    """Every URL of the admin blueprint, with any id (the check comes before the lookup)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                urls.append((method, path))
    return urls


def test_there_are_admin_pages(app):
    paths = {path for _, path in admin_urls(app)}
    assert {"/admin/", "/admin/organismes/", "/admin/utilisateurs/", "/admin/comites/", "/admin/dispositifs/",
            "/admin/dossiers/"} <= paths
    assert len(admin_urls(app)) >= 19


@pytest.mark.parametrize("who", ["applicant", "region_agent", "region_secretary"])
def test_everyone_but_an_admin_gets_404_everywhere(app, client, world, who):
    login(client, getattr(world, who))
    for method, path in admin_urls(app):
        response = client.open(path, method=method, data={"name": "x"})
        assert response.status_code == 404, (method, path)
    assert count(Agency) == 3 and count(Committee) == 3


def test_anonymous_is_sent_to_login(app, client, world):
    for method, path in admin_urls(app):
        response = client.open(path, method=method)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"], (method, path)


def test_admin_reaches_every_page(admin_client, world):
    for path in ["/admin/", "/admin/organismes/", "/admin/organismes/nouveau",
                 f"/admin/organismes/{world.bpi.id}/modifier", "/admin/utilisateurs/",
                 "/admin/utilisateurs/nouveau", "/admin/comites/", "/admin/comites/nouveau",
                 "/admin/dispositifs/", "/admin/dispositifs/nouveau",
                 f"/admin/dispositifs/{world.bpi_scheme.id}/modifier", "/admin/dossiers/"]:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert text_of(response).count("<h1>") == 1
    assert admin_client.get("/admin/organismes/99999/modifier").status_code == 404
    assert admin_client.get("/admin/dispositifs/99999/modifier").status_code == 404


def test_dashboard_counts(admin_client, world, create_case):
    create_case("submitted")
    page = text_of(admin_client.get("/admin/"))
    assert "Organismes partenaires</a></dt><dd>3</dd>" in page
    assert "3, dont 3 ouverts aujourd'hui" in page
    assert re.search(r"Déposé</a></th>\s*<td class=\"number\">1</td>", page)


# ------------------------------------------------------------------ agencies

AGENCY = {"name": "Département du Jura", "short_name": "Jura", "slug": "jura", "kind": "departement",
          "siret": "", "email": ""}


def test_admin_creates_an_agency(admin_client):
    response = admin_client.post("/admin/organismes/nouveau", data={
        **AGENCY, "siret": "732 829 320 00074", "email": " Aides@Jura.FR "})
    assert response.status_code == 302
    agency = db.session.scalar(select(Agency).where(Agency.slug == "jura"))
    assert (agency.name, agency.short_name, agency.kind) == ("Département du Jura", "Jura", "departement")
    assert agency.siret == "73282932000074"
    assert agency.email == "aides@jura.fr"


def test_agency_siret_and_email_are_optional(admin_client):
    assert admin_client.post("/admin/organismes/nouveau", data=AGENCY).status_code == 302
    agency = db.session.scalar(select(Agency).where(Agency.slug == "jura"))
    assert agency.siret is None and agency.email is None


@pytest.mark.parametrize("changes, field, message", [
    ({"siret": "73282932000079"}, "siret", "clé de contrôle"),
    ({"siret": "35600000049838"}, "siret", "clé de contrôle"),
    ({"slug": "Jura Nord"}, "slug", "lettres minuscules"),
    ({"slug": "jura--nord"}, "slug", "lettres minuscules"),
    ({"slug": "region"}, "slug", "déjà pris"),
    ({"name": "RÉGION BOURGOGNE-FRANCHE-COMTÉ".lower()}, "name", "porte déjà ce nom"),
    ({"name": ""}, "name", "obligatoire"),
    ({"short_name": ""}, "short_name", "obligatoire"),
    ({"kind": "secte"}, "kind", "Choisissez un type"),
    ({"email": "pas une adresse"}, "email", "n'est pas valide"),
])
def test_agency_mistakes_are_refused_beside_the_field(admin_client, changes, field, message):
    response = admin_client.post("/admin/organismes/nouveau", data={**AGENCY, **changes})
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(Agency) == 3


def test_admin_edits_an_agency(admin_client, world):
    page = text_of(admin_client.get(f"/admin/organismes/{world.aer.id}/modifier"))
    assert 'value="AER BFC"' in page
    response = admin_client.post(f"/admin/organismes/{world.aer.id}/modifier", data={
        "name": "AER Bourgogne-Franche-Comté", "short_name": "AER", "slug": "aer", "kind": "development_agency",
        "siret": "35600000049837", "email": ""})
    assert response.status_code == 302
    db.session.refresh(world.aer)
    assert (world.aer.name, world.aer.short_name, world.aer.siret) == ("AER Bourgogne-Franche-Comté", "AER",
                                                                        "35600000049837")
    response = admin_client.post(f"/admin/organismes/{world.aer.id}/modifier", data={
        **AGENCY, "slug": "bpifrance"})
    assert response.status_code == 422
    assert "déjà pris" in error_beside(response, "slug")


# ------------------------------------------------------------------ accounts

ACCOUNT = {"name": "Alex Agent", "email": "alex@jura.fr", "kind": "agent", "agency": "",
           "password": "mot de passe provisoire", "confirm": "mot de passe provisoire"}


@pytest.mark.parametrize("kind, role, secretary, with_agency", [
    ("agent", "agent", False, True),
    ("secretary", "agent", True, True),
    ("admin", "admin", False, False),
])
def test_admin_creates_accounts(client, admin_client, world, kind, role, secretary, with_agency):
    response = admin_client.post("/admin/utilisateurs/nouveau", data={
        **ACCOUNT, "email": "Alex@Jura.fr", "kind": kind, "agency": str(world.bpi.id)})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "alex@jura.fr"))
    assert (user.role, user.is_secretary) == (role, secretary)
    assert user.agency_id == (world.bpi.id if with_agency else None)
    assert user.password_hash.startswith("scrypt:")
    admin_client.post("/deconnexion")
    response = client.post("/connexion", data={"email": "alex@jura.fr", "password": ACCOUNT["password"]})
    assert response.status_code == 302


@pytest.mark.parametrize("changes, field, message", [
    ({"agency": ""}, "agency", "doit appartenir à un organisme"),
    ({"agency": "99999"}, "agency", "organisme existant"),
    ({"agency": "abc"}, "agency", "organisme existant"),
    ({"kind": "applicant"}, "kind", "Choisissez un type de compte"),
    ({"password": "court", "confirm": "court"}, "password", "au moins 12 caractères"),
    ({"confirm": "autre chose encore"}, "confirm", "différents"),
    ({"email": "camille"}, "email", "n'est pas valide"),
    ({"name": ""}, "name", "obligatoire"),
])
def test_account_mistakes_are_refused_beside_the_field(admin_client, world, changes, field, message):
    before = count(User)
    response = admin_client.post("/admin/utilisateurs/nouveau", data={**ACCOUNT, **changes})
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(User) == before


def test_account_with_an_address_already_used_is_refused(admin_client, world):
    response = admin_client.post("/admin/utilisateurs/nouveau", data={
        **ACCOUNT, "email": world.applicant.email.upper(), "agency": str(world.bpi.id)})
    assert response.status_code == 422
    assert "Un compte existe déjà" in error_beside(response, "email")


def test_admin_deactivates_and_reactivates_an_account(admin_client, world):
    response = admin_client.post(f"/admin/utilisateurs/{world.region_agent.id}/desactiver",
                                 query_string={"next": "/admin/utilisateurs/?role=agent"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/utilisateurs/?role=agent"
    db.session.refresh(world.region_agent)
    assert not world.region_agent.active
    page = text_of(admin_client.get("/admin/utilisateurs/"))
    assert "Désactivé" in page and "Réactiver" in page
    admin_client.post(f"/admin/utilisateurs/{world.region_agent.id}/reactiver")
    db.session.refresh(world.region_agent)
    assert world.region_agent.active


def test_admin_cannot_deactivate_themselves(admin_client, world):
    response = admin_client.post(f"/admin/utilisateurs/{world.admin.id}/desactiver", follow_redirects=True)
    assert "propre compte" in text_of(response)
    db.session.refresh(world.admin)
    assert world.admin.active


def test_deactivating_an_unknown_account_is_404(admin_client, world):
    assert admin_client.post("/admin/utilisateurs/99999/desactiver").status_code == 404


def test_account_list_is_filtered_and_paginated(app, admin_client, world, create_user, monkeypatch):
    page = text_of(admin_client.get("/admin/utilisateurs/?role=agent"))
    assert world.region_agent.name in page and world.applicant.name not in page
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    page = text_of(admin_client.get("/admin/utilisateurs/?role=agent"))
    assert "Page 1 sur 2" in page


def test_account_list_query_count_is_fixed(admin_client, world, create_user, create_agency):
    def queries(total):
        while count(User) < total:
            create_user("agent", agency=create_agency())
        db.session.commit()
        with count_queries() as statements:
            assert admin_client.get("/admin/utilisateurs/").status_code == 200
        return len(statements)

    assert queries(12) == queries(40)


# ------------------------------------------------------------------ committees

def test_admin_creates_a_committee(admin_client, world):
    response = admin_client.post("/admin/comites/nouveau", data={
        "agency_id": str(world.bpi.id), "name": "Comité régional d'engagement", "slug": "bpi-engagement"})
    assert response.status_code == 302
    committee = db.session.scalar(select(Committee).where(Committee.slug == "bpi-engagement"))
    assert committee.agency_id == world.bpi.id
    assert "Comité régional d'engagement" in text_of(admin_client.get("/admin/comites/"))


@pytest.mark.parametrize("changes, field, message", [
    ({"agency_id": ""}, "agency_id", "Choisissez l'organisme"),
    ({"agency_id": "99999"}, "agency_id", "Choisissez l'organisme"),
    ({"slug": "Avec Espaces"}, "slug", "lettres minuscules"),
    ({"name": ""}, "name", "obligatoire"),
])
def test_committee_mistakes_are_refused(admin_client, world, changes, field, message):
    data = {"agency_id": str(world.bpi.id), "name": "Comité", "slug": "comite-bpi", **changes}
    response = admin_client.post("/admin/comites/nouveau", data=data)
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(Committee) == 3


def test_committee_slug_is_unique(admin_client, world):
    response = admin_client.post("/admin/comites/nouveau", data={
        "agency_id": str(world.bpi.id), "name": "Autre", "slug": world.region_committee.slug})
    assert response.status_code == 422
    assert "déjà pris" in error_beside(response, "slug")


# ------------------------------------------------------------------ schemes

def scheme_form(world, **changes) -> dict:
    data = {"code": "JURA-EXPORT", "name": "Aide à l'export", "agency_id": str(world.region.id),
            "committee_id": str(world.region_committee.id), "instrument": "grant", "regime": "gber",
            "ceiling": "150 000", "max_rate": "40,5", "annual_budget": "1 000 000,50", "opens_on": "2026-01-15",
            "closes_on": "31/12/2026", "required_documents": ["quotes", "kbis"],
            "description": "Pour exporter."}
    data.update(changes)
    return data


def test_admin_creates_a_scheme(admin_client, world):
    response = admin_client.post("/admin/dispositifs/nouveau", data=scheme_form(world))
    assert response.status_code == 302
    scheme = db.session.scalar(select(Scheme).where(Scheme.code == "JURA-EXPORT"))
    assert scheme.agency_id == world.region.id and scheme.committee_id == world.region_committee.id
    assert (scheme.instrument, scheme.regime) == ("grant", "gber")
    assert scheme.ceiling == Decimal("150000")
    assert scheme.max_rate == Decimal("0.405")
    assert scheme.annual_budget == Decimal("1000000.50")
    assert (scheme.opens_on, scheme.closes_on) == (date(2026, 1, 15), date(2026, 12, 31))
    assert scheme.required_documents == ["kbis", "quotes"]
    assert scheme.description == "Pour exporter."


@pytest.mark.parametrize("typed, share", [("40", "0.4"), ("40,5", "0.405"), ("100", "1"), ("0,25", "0.0025"),
                                          ("12.75 %", "0.1275")])
def test_max_rate_is_typed_as_a_percentage(admin_client, world, typed, share):
    response = admin_client.post("/admin/dispositifs/nouveau", data=scheme_form(world, max_rate=typed))
    assert response.status_code == 302
    assert db.session.scalar(select(Scheme.max_rate).where(Scheme.code == "JURA-EXPORT")) == Decimal(share)


def test_optional_scheme_fields(admin_client, world):
    data = scheme_form(world, annual_budget="", closes_on="")
    del data["required_documents"]
    assert admin_client.post("/admin/dispositifs/nouveau", data=data).status_code == 302
    scheme = db.session.scalar(select(Scheme).where(Scheme.code == "JURA-EXPORT"))
    assert scheme.annual_budget is None and scheme.closes_on is None and scheme.required_documents == []


@pytest.mark.parametrize("changes, field, message", [
    ({"max_rate": "0"}, "max_rate", "entre 0 (exclu) et 100"),
    ({"max_rate": "100,5"}, "max_rate", "entre 0 (exclu) et 100"),
    ({"max_rate": "40,123"}, "max_rate", "deux décimales"),
    ({"max_rate": "quarante"}, "max_rate", "pourcentage"),
    ({"max_rate": "-5"}, "max_rate", "pourcentage"),
    ({"max_rate": ""}, "max_rate", "obligatoire"),
    ({"ceiling": "0"}, "ceiling", "supérieur à zéro"),
    ({"ceiling": "beaucoup"}, "ceiling", "doit être un nombre"),
    ({"ceiling": "-100"}, "ceiling", "négatif"),
    ({"annual_budget": "-1"}, "annual_budget", "négatif"),
    ({"closes_on": "2026-01-14"}, "closes_on", "ne peut pas précéder"),
    ({"opens_on": "31/02/2026"}, "opens_on", "date valide"),
    ({"opens_on": ""}, "opens_on", "obligatoire"),
    ({"closes_on": "demain"}, "closes_on", "date valide"),
    ({"committee_id": "BPI"}, "committee_id", "Choisissez le comité"),
    ({"agency_id": ""}, "agency_id", "Choisissez l'organisme"),
    ({"instrument": "don"}, "instrument", "Choisissez un type d'aide"),
    ({"regime": "aucun"}, "regime", "Choisissez un régime"),
    ({"required_documents": ["kbis", "passeport"]}, "required_documents", "Choisissez les pièces"),
    ({"code": "avec espace"}, "code", "sans accent"),
    ({"code": ""}, "code", "obligatoire"),
    ({"name": ""}, "name", "obligatoire"),
])
def test_scheme_mistakes_are_refused_beside_the_field(admin_client, world, changes, field, message):
    response = admin_client.post("/admin/dispositifs/nouveau", data=scheme_form(world, **changes))
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert count(Scheme) == 3


def test_committee_must_belong_to_the_schemes_agency(admin_client, world):
    response = admin_client.post("/admin/dispositifs/nouveau", data=scheme_form(
        world, committee_id=str(world.bpi_committee.id)))
    assert response.status_code == 422
    assert "appartient à un autre organisme" in error_beside(response, "committee_id")
    assert count(Scheme) == 3


def test_scheme_code_is_unique(admin_client, world):
    response = admin_client.post("/admin/dispositifs/nouveau", data=scheme_form(world, code=world.bpi_scheme.code))
    assert response.status_code == 422
    assert "porte déjà ce code" in error_beside(response, "code")


def test_admin_edits_a_scheme(admin_client, world):
    scheme = world.region_scheme  # max rate 0.4, no required documents
    page = text_of(admin_client.get(f"/admin/dispositifs/{scheme.id}/modifier"))
    assert 'name="max_rate" type="text" value="40"' in page or 'value="40"' in page
    assert 'value="200000,00"' in page
    response = admin_client.post(f"/admin/dispositifs/{scheme.id}/modifier", data=scheme_form(
        world, code=scheme.code, name="Aide à l'investissement productif", max_rate="35",
        required_documents=["rib"]))
    assert response.status_code == 302
    db.session.refresh(scheme)
    assert scheme.name == "Aide à l'investissement productif"
    assert scheme.max_rate == Decimal("0.35") and scheme.required_documents == ["rib"]
    # unticking every box removes every required document
    data = scheme_form(world, code=scheme.code)
    del data["required_documents"]
    assert admin_client.post(f"/admin/dispositifs/{scheme.id}/modifier", data=data).status_code == 302
    db.session.refresh(scheme)
    assert scheme.required_documents == []


def test_scheme_with_lines_keeps_its_agency(admin_client, world, create_case):
    create_case("draft")
    response = admin_client.post(f"/admin/dispositifs/{world.bpi_scheme.id}/modifier", data=scheme_form(
        world, code=world.bpi_scheme.code))  # form says: the Region, its committee
    assert response.status_code == 422
    assert "ne peut plus changer d'organisme" in error_beside(response, "agency_id")
    db.session.refresh(world.bpi_scheme)
    assert world.bpi_scheme.agency_id == world.bpi.id


def test_scheme_list_query_count_is_fixed(admin_client, world, create_scheme, create_agency):
    def queries(total):
        while count(Scheme) < total:
            create_scheme(create_agency())
        db.session.commit()
        with count_queries() as statements:
            assert admin_client.get("/admin/dispositifs/").status_code == 200
        return len(statements)

    assert queries(5) == queries(40)


# ------------------------------------------------------------------ dossiers, read only

def test_admin_sees_every_dossier_read_only(admin_client, world, create_case):
    mine = create_case("submitted")
    other = create_case("draft", applicant=world.other_applicant, company=world.other_company)
    events_before = count(Event)
    response = admin_client.get("/admin/dossiers/")
    page = text_of(response)
    for case in (mine, other):
        assert f'href="/dossiers/{case.reference}"' in page
    assert "/actions/" not in page and 'method="post"' not in page.split("<main", 1)[1].split("</main>")[0] \
        .replace('action="/deconnexion"', "")
    assert count(Event) == events_before
    page = text_of(admin_client.get("/admin/dossiers/?state=draft"))
    assert other.reference in page and mine.reference not in page


def test_dossier_list_query_count_is_fixed(app, admin_client, world, create_case, monkeypatch):
    def queries():
        db.session.commit()
        with count_queries() as statements:
            assert admin_client.get("/admin/dossiers/").status_code == 200
        return len(statements)

    create_case("submitted")
    few = queries()
    for _ in range(6):
        create_case("in_review")
    assert queries() == few
