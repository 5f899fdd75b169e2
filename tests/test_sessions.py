"""Sessions kept on the server: a copy of the cookie opens nothing once its session has ended (log out,
password change or reset, deactivation, inactivity); the "Mes sessions" page lists and ends them."""
import html
import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from atelier.auth.models import UserSession
from atelier.auth.operations import password_reset_token
from atelier.auth.sessions import SESSION_KEY, browser_label, hash_key
from atelier.extensions import db
from conftest import PASSWORD, login

NEW_PASSWORD = "une toute nouvelle phrase"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture
def camille(create_user):
    user = create_user("applicant", email="camille@exemple.fr", name="Camille Porteur")
    db.session.commit()
    return user


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def request(browser, method, path, **kwargs):
    """A request of ``browser``; the clients share the test's app context: no person cached there."""
    g.pop("_login_user", None)
    g.pop("user_session", None)
    g.pop("csrf_token", None)  # Flask-WTF keeps the form token of the last page there
    return getattr(browser, method)(path, **kwargs)


def log_in(browser, user_agent=FIREFOX, password=PASSWORD, address="camille@exemple.fr"):
    response = request(browser, "post", "/connexion", data={"email": address, "password": password},
                       headers={"User-Agent": user_agent})
    assert response.status_code == 302, text_of(response)
    return response


def opens_account(browser) -> bool:
    response = request(browser, "get", "/compte")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/connexion")
        return False
    assert response.status_code == 200
    return True


def copy_of(app, browser):
    """Another browser holding a copy of ``browser``'s session cookie (stolen, or kept in a backup)."""
    thief = app.test_client()
    cookie = browser.get_cookie("session", domain="atelier.test")
    thief.set_cookie("session", cookie.value, domain="atelier.test")
    return thief


def open_sessions(user) -> int:
    return db.session.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == user.id,
                                                                     UserSession.ended_at.is_(None)))


def test_a_copied_cookie_opens_nothing_after_logging_out(app, client, camille):
    log_in(client)
    thief = copy_of(app, client)
    assert opens_account(thief)  # the copy works while the session is open
    assert request(client, "post", "/deconnexion").status_code == 302
    assert not opens_account(client)
    assert not opens_account(thief)  # the session has ended on the server, not only in this browser
    assert open_sessions(camille) == 0


def test_the_database_keeps_only_a_hash_of_the_session_key(client, camille):
    log_in(client)
    with client.session_transaction() as session:
        key = session[SESSION_KEY]
    [record] = db.session.scalars(select(UserSession)).all()
    assert record.key_hash == hash_key(key) and key not in record.key_hash
    assert record.user_agent == FIREFOX and record.address == "127.0.0.1"


def test_a_cookie_without_a_session_record_opens_nothing(client, camille):
    """A cookie signed before sessions were recorded, or made up with the user's id only."""
    with client.session_transaction() as session:
        session["_user_id"] = str(camille.id)
        session["_fresh"] = True
    assert not opens_account(client)
    with client.session_transaction() as session:
        session[SESSION_KEY] = "une-clé-inventée"
    assert not opens_account(client)


def test_a_session_key_opens_only_the_account_it_was_made_for(client, camille, create_user):
    other = create_user("applicant")
    db.session.commit()
    log_in(client)
    with client.session_transaction() as session:
        session["_user_id"] = str(other.id)  # with the secret key, one could sign this: still refused
    assert not opens_account(client)


def test_a_password_change_ends_every_other_session_and_any_copy_of_this_one(app, client, camille):
    other_device = app.test_client()
    log_in(other_device, SAFARI_IPHONE)
    log_in(client)
    copy_before = copy_of(app, client)
    response = request(client, "post", "/compte/mot-de-passe",
                       data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert opens_account(client)  # this browser goes on
    assert not opens_account(other_device)
    assert not opens_account(copy_before)  # its former key ended with the others
    assert open_sessions(camille) == 1


def test_a_reset_ends_every_session(app, client, camille):
    phone, laptop = app.test_client(), app.test_client()
    log_in(phone, SAFARI_IPHONE)
    log_in(laptop)
    token = password_reset_token(camille)
    db.session.commit()
    response = request(client, "post", f"/mot-de-passe-oublie/{token}",
                       data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert not opens_account(phone) and not opens_account(laptop)
    assert open_sessions(camille) == 0


def test_a_deactivation_ends_every_session_for_good(app, client, camille, create_user):
    admin = create_user("admin")
    db.session.commit()
    log_in(client)
    admin_browser = app.test_client()
    login(admin_browser, admin)
    assert request(admin_browser, "post", f"/admin/utilisateurs/{camille.id}/desactiver").status_code == 302
    assert not opens_account(client)
    assert request(admin_browser, "post", f"/admin/utilisateurs/{camille.id}/reactiver").status_code == 302
    db.session.refresh(camille)
    assert camille.active
    assert not opens_account(client)  # the reactivation revives no session: log in again
    log_in(client)
    assert opens_account(client)


def test_a_session_ends_after_its_inactivity_lifetime_on_the_server_too(app, client, camille):
    log_in(client)
    record = db.session.scalars(select(UserSession)).one()
    record.last_seen_at -= app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(seconds=1)
    db.session.commit()
    assert not opens_account(client)  # the cookie is still there and signed: the server says no


def test_the_last_activity_is_written_once_a_minute_at_most(client, camille):
    log_in(client)
    record = db.session.scalars(select(UserSession)).one()
    first_seen = record.last_seen_at
    assert opens_account(client)
    db.session.refresh(record)
    assert record.last_seen_at == first_seen  # within the minute: no write
    record.last_seen_at = first_seen - timedelta(minutes=5)
    db.session.commit()
    assert opens_account(client)
    db.session.refresh(record)
    assert record.last_seen_at > first_seen - timedelta(minutes=1)


def test_logging_in_forgets_the_sessions_that_ended(client, camille):
    for _ in range(3):
        log_in(client)
        request(client, "post", "/deconnexion")
    log_in(client)
    assert db.session.scalar(select(func.count(UserSession.id))) == 1


# --------------------------------------------------------------------------- "Mes sessions"

def sessions_table(page: str) -> list[str]:
    return re.findall(r'<th scope="row">(.*?)</th>', page)


def test_my_sessions_lists_the_open_sessions(app, client, camille, create_user):
    phone = app.test_client()
    log_in(phone, SAFARI_IPHONE)
    log_in(client)
    create_user("applicant", email="dominique@exemple.fr")
    db.session.commit()
    log_in(app.test_client(), address="dominique@exemple.fr")  # somebody else's: not listed
    account = text_of(request(client, "get", "/compte"))
    assert '<a href="/compte/sessions">Mes sessions</a>' in account
    response = request(client, "get", "/compte/sessions")
    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>Mes sessions</h1>" in page
    assert '<caption id="tableau-sessions">Mes sessions ouvertes</caption>' in page
    for header in ("Navigateur", "Adresse", "Ouverte le", "Dernière activité", "Action"):
        assert f'<th scope="col">{header}</th>' in page
    assert sorted(sessions_table(page)) == ["Firefox sous Linux (cette session)", "Safari sous iOS"]
    assert "127.0.0.1" in page and "2 heures sans activité" in page
    assert 'class="visually-hidden"> la session Safari sous iOS ouverte le' in page
    assert "Fermer toutes mes autres sessions" in page


def test_ending_one_session_from_the_page(app, client, camille):
    phone = app.test_client()
    log_in(phone, SAFARI_IPHONE)
    log_in(client)
    phone_session = db.session.scalars(select(UserSession)
                                       .where(UserSession.user_agent == SAFARI_IPHONE)).one()
    response = request(client, "post", f"/compte/sessions/{phone_session.id}/fermer")
    assert response.status_code == 302 and response.headers["Location"] == "/compte/sessions"
    assert "La session est fermée." in text_of(request(client, "get", "/compte/sessions"))
    assert not opens_account(phone) and opens_account(client)
    # already ended, unknown, or somebody else's: the same French message, nothing changes
    for session_id in (phone_session.id, 999999):
        response = request(client, "post", f"/compte/sessions/{session_id}/fermer")
        assert response.status_code == 302
        page = text_of(request(client, "get", "/compte/sessions"))
        assert "Cette session n'existe pas ou est déjà fermée." in page
    assert request(client, "post", f"/compte/sessions/{2**40}/fermer").status_code == 404  # no such number
    assert opens_account(client)


def test_nobody_ends_somebody_elses_session(app, client, camille, create_user):
    other = create_user("applicant", email="dominique@exemple.fr")
    db.session.commit()
    theirs = app.test_client()
    log_in(theirs, address="dominique@exemple.fr")
    their_session = db.session.scalars(select(UserSession).where(UserSession.user_id == other.id)).one()
    log_in(client)
    request(client, "post", f"/compte/sessions/{their_session.id}/fermer")
    request(client, "post", "/compte/sessions/fermer-les-autres")
    assert opens_account(theirs)


def test_ending_this_session_from_the_page_logs_out(client, camille):
    log_in(client)
    mine = db.session.scalars(select(UserSession)).one()
    response = request(client, "post", f"/compte/sessions/{mine.id}/fermer")
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert not opens_account(client)


def test_ending_all_other_sessions(app, client, camille):
    phone, tablet = app.test_client(), app.test_client()
    log_in(phone, SAFARI_IPHONE)
    log_in(tablet, SAFARI_IPHONE)
    log_in(client)
    response = request(client, "post", "/compte/sessions/fermer-les-autres")
    assert response.status_code == 302
    page = text_of(request(client, "get", "/compte/sessions"))
    assert "Vos autres sessions sont fermées." in page
    assert sessions_table(page) == ["Firefox sous Linux (cette session)"]
    assert "Fermer toutes mes autres sessions" not in page
    assert not opens_account(phone) and not opens_account(tablet) and opens_account(client)


def test_ending_sessions_needs_the_form_token(app, client, camille, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = text_of(request(client, "get", "/connexion"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    request(client, "post", "/connexion",
            data={"email": camille.email, "password": PASSWORD, "csrf_token": token})
    mine = db.session.scalars(select(UserSession)).one()
    assert request(client, "post", f"/compte/sessions/{mine.id}/fermer").status_code == 400
    assert request(client, "post", "/compte/sessions/fermer-les-autres").status_code == 400
    assert opens_account(client)
    page = text_of(request(client, "get", "/compte/sessions"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = request(client, "post", f"/compte/sessions/{mine.id}/fermer", data={"csrf_token": token})
    assert response.status_code == 302 and not opens_account(client)


def test_the_sessions_page_needs_a_login(client):
    response = client.get("/compte/sessions")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


@pytest.mark.parametrize("agent, label", [
    (FIREFOX, "Firefox sous Linux"),
    (SAFARI_IPHONE, "Safari sous iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
     "Safari/537.36 Edg/126.0", "Edge sous Windows"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile "
     "Safari/537.36", "Chrome sous Android"),
    ("curl/8.5.0", "Navigateur inconnu"),
    ("", "Navigateur inconnu"),
])
def test_browser_labels(agent, label):
    assert browser_label(agent) == label
