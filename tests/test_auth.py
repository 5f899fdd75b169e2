"""Accounts: registration, login, logout, session expiry, safe ``next``, deactivation, /compte."""
import html
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from atelier.auth.models import User
from atelier.auth.operations import create_user, deactivate_user, reactivate_user
from atelier.common import ActionRefused
from atelier.extensions import db
from conftest import PASSWORD, link_in, login, mails_to, register

GOOD = {"name": "Camille Porteur", "email": "camille@exemple.fr", "password": "une phrase de passe",
        "confirm": "une phrase de passe"}


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def logged_in_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_beside(response, field: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field}-error">(.*?)</p>', text_of(response), re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


# ------------------------------------------------------------------ registration

def test_registration_creates_a_logged_in_applicant_with_normalised_email(app, client):
    page = client.post("/inscription", data={**GOOD, "email": "  Camille.Porteur@Exemple.FR "})
    assert page.status_code == 200 and user_count() == 0  # nothing before the address is confirmed
    assert "camille.porteur@exemple.fr" in text_of(page)
    link = link_in(mails_to(app, "camille.porteur@exemple.fr")[-1], "/inscription/confirmer/")
    response = client.post(link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/entreprises/nouvelle")
    user = db.session.scalar(select(User))
    assert user.email == "camille.porteur@exemple.fr"
    assert user.role == "applicant" and user.active
    assert user.password_hash.startswith("scrypt:")
    assert GOOD["password"] not in user.password_hash
    assert user.check_password(GOOD["password"])
    assert logged_in_id(client) == str(user.id)


def test_registration_of_an_address_already_used_whatever_its_case_creates_nothing(app, client, create_user):
    create_user("applicant", email="camille@exemple.fr")
    db.session.commit()
    response = client.post("/inscription", data={**GOOD, "email": "CAMILLE@exemple.fr"})
    assert response.status_code == 200 and "Nous vous avons envoyé un courriel" in text_of(response)
    assert "vous avez déjà un compte" in mails_to(app, "camille@exemple.fr")[-1]["Subject"]
    assert user_count() == 1
    assert logged_in_id(client) is None


@pytest.mark.parametrize("changes, field, message", [
    ({"password": "a" * 11, "confirm": "a" * 11}, "password", "au moins 12 caractères"),
    ({"confirm": "autre phrase de passe"}, "confirm", "Les deux mots de passe sont différents"),
    ({"email": "pas-une-adresse"}, "email", "n'est pas valide"),
    ({"email": ""}, "email", "Indiquez votre adresse électronique"),
    ({"name": ""}, "name", "Indiquez votre nom"),
    ({"name": "x" * 201}, "name", "200 caractères"),
])
def test_registration_mistakes_are_shown_beside_their_field(client, changes, field, message):
    response = client.post("/inscription", data={**GOOD, **changes})
    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert user_count() == 0


def test_twelve_characters_are_enough(app, client):
    response = register(client, app, name=GOOD["name"], email=GOOD["email"], password="a" * 12)
    assert response.status_code == 302
    assert user_count() == 1


def test_register_page_shows_labels(client):
    page = client.get("/inscription")
    assert page.status_code == 200
    assert '<label for="password">' in page.get_data(as_text=True)


# ------------------------------------------------------------------ login

@pytest.fixture
def camille(create_user):
    user = create_user("applicant", email="camille@exemple.fr", name="Camille")
    db.session.commit()
    return user


def test_login_starts_a_permanent_session_that_expires(app, client, camille):
    response = client.post("/connexion", data={"email": "Camille@Exemple.fr", "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_id(client) == str(camille.id)
    with client.session_transaction() as session:
        assert session.permanent
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    expected = datetime.now(timezone.utc) + app.config["PERMANENT_SESSION_LIFETIME"]
    assert abs((expires - expected).total_seconds()) < 60


def test_unknown_address_and_wrong_password_get_the_same_message(client, camille):
    unknown = client.post("/connexion", data={"email": "personne@exemple.fr", "password": PASSWORD})
    wrong = client.post("/connexion", data={"email": "camille@exemple.fr", "password": "pas le bon mot"})
    assert unknown.status_code == wrong.status_code == 422
    assert "Adresse électronique ou mot de passe incorrect." in text_of(unknown)

    def summary(response):
        return re.search(r'<div class="error-summary".*?</div>', text_of(response), re.S).group(0)

    assert summary(unknown) == summary(wrong)
    assert logged_in_id(client) is None


def test_deactivated_account_cannot_log_in(client, camille):
    camille.active = False
    db.session.commit()
    response = client.post("/connexion", data={"email": "camille@exemple.fr", "password": PASSWORD})
    assert response.status_code == 422
    assert "Ce compte est désactivé" in text_of(response)
    assert logged_in_id(client) is None
    # with a wrong password, nothing tells that the account exists
    response = client.post("/connexion", data={"email": "camille@exemple.fr", "password": "mauvais"})
    assert "désactivé" not in text_of(response)


def test_deactivation_ends_an_open_session(client, world):
    login(client, world.applicant)
    assert client.get("/compte").status_code == 200
    deactivate_user(world.admin, world.applicant)
    db.session.commit()
    response = client.get("/compte")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


@pytest.mark.parametrize("target, expected", [
    ("/entreprises/", "/entreprises/"),
    ("/dispositifs/?instrument=grant", "/dispositifs/?instrument=grant"),
    ("//evil.example/", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_only_leads_to_this_site(client, camille, target, expected):
    response = client.post("/connexion", query_string={"next": target},
                           data={"email": "camille@exemple.fr", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_required_page_comes_back_after_login(client, camille):
    response = client.get("/entreprises/")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/connexion?next=")
    response = client.post(login_url, data={"email": "camille@exemple.fr", "password": PASSWORD})
    assert response.headers["Location"] == "/entreprises/"


def test_logged_in_person_is_not_shown_the_login_form(client, camille):
    login(client, camille)
    assert client.get("/connexion").status_code == 302
    assert client.get("/inscription").status_code == 302


# ------------------------------------------------------------------ logout

def test_logout_is_a_post(client, camille):
    login(client, camille)
    assert client.get("/deconnexion").status_code == 405
    assert logged_in_id(client) == str(camille.id)
    response = client.post("/deconnexion")
    assert response.status_code == 302
    assert logged_in_id(client) is None


def test_logout_needs_the_csrf_token(app, client, camille, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    login(client, camille)
    assert client.post("/deconnexion").status_code == 400
    assert logged_in_id(client) == str(camille.id)
    page = client.get("/compte").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/deconnexion", data={"csrf_token": token})
    assert response.status_code == 302
    assert logged_in_id(client) is None


# ------------------------------------------------------------------ /compte

def test_account_page_needs_login(client):
    response = client.get("/compte")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_account_page_shows_an_applicant_and_their_companies(client, world):
    login(client, world.applicant)
    page = text_of(client.get("/compte"))
    assert "<title>Mon compte — Atelier des projets</title>" in page
    assert world.applicant.email in page and "Porteur de projet" in page
    assert world.company.name in page
    assert world.other_company.name not in page


def test_account_page_shows_an_agent_and_their_agency(client, world):
    login(client, world.region_secretary)
    page = text_of(client.get("/compte"))
    assert "Agent, secrétaire de comité" in page
    assert "Région Bourgogne-Franche-Comté" in page


def test_account_page_shows_an_admin(client, world):
    login(client, world.admin)
    assert "Administrateur" in text_of(client.get("/compte"))


# ------------------------------------------------------------------ operations

def test_create_user_rules(world):
    with pytest.raises(ActionRefused, match="organisme existant"):
        create_user(email="a@exemple.fr", name="A", password="x" * 12, role="agent")
    with pytest.raises(ActionRefused, match="Seul un agent"):
        create_user(email="b@exemple.fr", name="B", password="x" * 12, role="admin", is_secretary=True)
    with pytest.raises(ActionRefused, match="Rôle inconnu"):
        create_user(email="c@exemple.fr", name="C", password="x" * 12, role="root")
    agent = create_user(email="D@Exemple.fr", name=" D ", password="x" * 12, role="agent", agency=world.bpi,
                        is_secretary=True)
    assert (agent.email, agent.name, agent.agency_id, agent.is_secretary) == ("d@exemple.fr", "D",
                                                                               world.bpi.id, True)


def test_only_admins_deactivate_and_not_themselves(world):
    with pytest.raises(ActionRefused):
        deactivate_user(world.region_agent, world.applicant)
    with pytest.raises(ActionRefused, match="propre compte"):
        deactivate_user(world.admin, world.admin)
    deactivate_user(world.admin, world.applicant)
    assert not world.applicant.active
    with pytest.raises(ActionRefused, match="déjà désactivé"):
        deactivate_user(world.admin, world.applicant)
    reactivate_user(world.admin, world.applicant)
    assert world.applicant.active
