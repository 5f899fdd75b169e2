"""Accounts under attack: login throttling, password rules, password change and reset by a signed,
expiring, single-use link sent by email, session renewed at login."""
import email
import email.policy
import html
import re
import time
from pathlib import Path

import pytest
from flask import g
from itsdangerous import TimestampSigner
from sqlalchemy import select

from atelier.auth.models import User
from atelier.auth.operations import (COMMON_PASSWORDS_FILE, check_password_rules, common_passwords,
                                     password_reset_token)
from atelier.common import ActionRefused
from atelier.extensions import db, limiter
from atelier.mail import send_mail
from conftest import PASSWORD

NEW_PASSWORD = "une toute nouvelle phrase"


@pytest.fixture(autouse=True)
def fresh_counters():
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def mailbox(app, tmp_path, monkeypatch):
    folder = tmp_path / "mail"
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(folder))
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)  # the outbox, sent after the response

    def messages() -> list[email.message.EmailMessage]:
        if not folder.is_dir():
            return []
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted(folder.iterdir())]

    return messages


@pytest.fixture
def camille(create_user):
    user = create_user("applicant", email="camille@exemple.fr", name="Camille Porteur")
    db.session.commit()
    return user


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def logged_in_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def log_in(client, address="camille@exemple.fr", password=PASSWORD, **kwargs):
    return client.post("/connexion", data={"email": address, "password": password}, **kwargs)


def error_beside(response, field: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field}-error">(.*?)</p>', text_of(response), re.S)
    assert match, f"no error beside {field}"
    return match.group(1)


# --------------------------------------------------------------------------- throttling

def test_five_failures_on_one_account_suspend_its_login_with_a_french_page(client, camille, create_user):
    for _ in range(5):
        assert log_in(client, password="pas le bon mot de passe").status_code == 422
    response = log_in(client)  # even the right password: the account is suspended for a while
    assert response.status_code == 429
    page = text_of(response)
    assert "<h1>Trop de tentatives</h1>" in page and "Vous pourrez réessayer à partir du" in page
    assert "dans 15 minutes" in page
    assert 14 * 60 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert 'href="/mot-de-passe-oublie"' in page
    assert logged_in_id(client) is None
    # another account, from the same address, is not affected
    other = create_user("applicant", email="dominique@exemple.fr")
    db.session.commit()
    assert log_in(client, "dominique@exemple.fr").status_code == 302
    assert logged_in_id(client) == str(other.id)


def test_the_account_counter_ignores_case_and_spaces(client, camille):
    for address in ("camille@exemple.fr", "CAMILLE@exemple.fr", " Camille@Exemple.FR ", "camille@EXEMPLE.fr",
                    "camille@exemple.fr"):
        log_in(client, address, password="mauvais mot de passe")
    assert log_in(client).status_code == 429


def test_twenty_failures_from_one_address_suspend_logins_from_it(client, camille):
    for n in range(20):
        assert log_in(client, f"inconnu{n}@exemple.fr", "mauvais mot de passe").status_code == 422
    assert log_in(client).status_code == 429  # a fresh account, but the same address
    other_address = {"REMOTE_ADDR": "203.0.113.7"}
    assert log_in(client, environ_base=other_address).status_code == 302


def test_successful_logins_do_not_count(client, camille):
    for _ in range(8):
        assert log_in(client).status_code == 302
        client.post("/deconnexion")
    assert log_in(client, password="mauvais mot de passe").status_code == 422


def test_the_suspension_ends(app, client, camille, monkeypatch):
    # A window of 5 s: on a loaded machine two failed logins (scrypt) may take more than a second.
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "2 per 5 seconds")
    log_in(client, password="mauvais mot de passe")
    log_in(client, password="mauvais mot de passe")
    assert log_in(client).status_code == 429
    time.sleep(5.1)  # every failure is now older than the window
    assert log_in(client).status_code == 302


def test_unknown_address_and_wrong_password_count_and_answer_alike(client, camille):
    unknown = log_in(client, "personne@exemple.fr", "mauvais mot de passe")
    wrong = log_in(client, "camille@exemple.fr", "mauvais mot de passe")
    assert unknown.status_code == wrong.status_code == 422
    assert text_of(unknown).replace("personne@exemple.fr", "X") == text_of(wrong).replace("camille@exemple.fr", "X")


# --------------------------------------------------------------------------- password rules

def test_the_common_password_list_is_shipped_lower_cased():
    lines = Path(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10_000 and len(set(lines)) == 10_000
    assert all(line == line.lower() and line.strip() == line and line for line in lines)
    assert {"123456", "password", "azertyuiop", "motdepasse", "qwerty123456"} <= common_passwords()


@pytest.mark.parametrize("password, email_address, message", [
    ("court", None, "au moins 12 caractères"),
    ("qwerty123456", None, "plus courants"),
    ("QWERTY123456", None, "plus courants"),
    ("1q2w3e4r5t6y", None, "plus courants"),
    ("Camille.Porteur@exemple.fr", "camille.porteur@exemple.fr", "adresse électronique"),
    ("CAMILLE.PORTEUR", "camille.porteur@exemple.fr", "partie avant « @ »"),
])
def test_password_rules(password, email_address, message):
    with pytest.raises(ActionRefused, match=re.escape(message)):
        check_password_rules(password, email_address)


def test_a_passphrase_is_accepted():
    check_password_rules("trois chats dans un jardin", "camille@exemple.fr")


@pytest.mark.parametrize("password, message", [
    ("qwerty123456", "plus courants"),
    ("camille.porteur", "partie avant « @ »"),
    ("camille.porteur@exemple.fr", "adresse électronique"),
])
def test_registration_applies_the_rules(client, password, message):
    response = client.post("/inscription", data={"name": "Camille", "email": "Camille.Porteur@exemple.fr",
                                                 "password": password, "confirm": password})
    assert response.status_code == 422
    assert message in error_beside(response, "password")
    assert db.session.scalar(select(User)) is None


def test_create_user_command_applies_the_rules(runner, world):
    result = runner.invoke(args=["create-user", "agent@exemple.fr", "--name", "Agent", "--role", "admin",
                                 "--password", "password1234"])
    assert result.exit_code == 1 and "plus courants" in result.output
    result = runner.invoke(args=["create-user", "agent.region@exemple.fr", "--name", "Agent", "--role", "admin",
                                 "--password", "agent.region"])
    assert result.exit_code == 1 and "adresse électronique" in result.output
    result = runner.invoke(args=["create-user", "agent@exemple.fr", "--name", "Agent", "--role", "admin",
                                 "--password", "une phrase de passe solide"])
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- session

def test_login_renews_the_session(client, camille):
    with client.session_transaction() as session:
        session["planted"] = "par un attaquant"
        session["_user_id"] = "999999"  # a fixated identity does not survive either
    assert log_in(client).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(camille.id)


def test_changing_the_password_ends_the_other_sessions(app, client, camille, mailbox):
    other_device = app.test_client()

    def request(browser, method, path, **kwargs):
        g.pop("_login_user", None)  # the clients share the test's app context: no cached person
        return getattr(browser, method)(path, **kwargs)

    def change(current, new):
        return request(client, "post", "/compte/mot-de-passe",
                       data={"current": current, "password": new, "confirm": new})

    assert request(other_device, "post", "/connexion", data={"email": camille.email, "password": PASSWORD}
                   ).status_code == 302
    assert request(client, "post", "/connexion", data={"email": camille.email, "password": PASSWORD}
                   ).status_code == 302
    assert request(other_device, "get", "/compte").status_code == 200

    page = request(client, "get", "/compte/mot-de-passe")
    assert page.status_code == 200 and "<h1>Changer mon mot de passe</h1>" in text_of(page)
    assert 'href="/compte/mot-de-passe"' in text_of(request(client, "get", "/compte"))

    response = change("mauvais", NEW_PASSWORD)
    assert response.status_code == 422 and "incorrect" in error_beside(response, "current")
    response = change(PASSWORD, "qwerty123456")
    assert response.status_code == 422 and "plus courants" in error_beside(response, "password")
    response = change(PASSWORD, "camille@exemple.fr")
    assert response.status_code == 422 and "adresse électronique" in error_beside(response, "password")

    response = change(PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/compte"
    db.session.refresh(camille)
    assert camille.check_password(NEW_PASSWORD)
    assert request(client, "get", "/compte").status_code == 200  # this session goes on
    assert request(other_device, "get", "/compte").status_code == 302  # the other one has ended
    [notice] = mailbox()
    assert notice["To"] == "camille@exemple.fr" and "a été changé" in notice["Subject"]


# --------------------------------------------------------------------------- reset by email

def reset_link(message) -> str:
    body = message.get_content()
    return re.search(r"https?://\S+/mot-de-passe-oublie/\S+", body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_the_login_page_offers_a_reset(client):
    page = text_of(client.get("/connexion"))
    assert '<a href="/mot-de-passe-oublie">Mot de passe oublié ?</a>' in page
    assert client.get("/mot-de-passe-oublie").status_code == 200


def test_the_answer_is_the_same_whether_the_account_exists_or_not(client, camille, create_user, mailbox):
    deactivated = create_user("applicant", email="ancien@exemple.fr")
    deactivated.active = False
    db.session.commit()
    answers = []
    for address in ("camille@exemple.fr", "personne@exemple.fr", "ancien@exemple.fr", "pas une adresse"):
        response = client.post("/mot-de-passe-oublie", data={"email": address})
        assert response.status_code == 302 and response.headers["Location"] == "/connexion"
        answers.append(text_of(client.get("/connexion")))
    assert len(set(answers)) == 1 and "Si un compte actif existe avec cette adresse" in answers[0]
    [message] = mailbox()  # only the active account gets a message
    assert message["To"] == "camille@exemple.fr"
    assert "choisir un nouveau mot de passe" in message["Subject"]


def test_reset_link_sets_a_new_password_once(client, camille, mailbox):
    client.post("/mot-de-passe-oublie", data={"email": "Camille@Exemple.fr"})
    link = reset_link(mailbox()[0])
    assert link.startswith("http://atelier.test/mot-de-passe-oublie/")
    page = client.get(path_of(link))
    assert page.status_code == 200 and "camille@exemple.fr" in text_of(page)
    assert page.headers["Cache-Control"] == "no-store"

    response = client.post(path_of(link), data={"password": "qwerty123456", "confirm": "qwerty123456"})
    assert response.status_code == 422 and "plus courants" in error_beside(response, "password")
    response = client.post(path_of(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "changé" in mailbox()[-1]["Subject"]

    assert log_in(client).status_code == 422  # the old password no longer works
    assert log_in(client, password=NEW_PASSWORD).status_code == 302
    client.post("/deconnexion")
    used = client.get(path_of(link))  # single use: the password it was made for has changed
    assert used.status_code == 400 and "déjà servi" in text_of(used)
    assert client.post(path_of(link), data={"password": "une autre phrase encore",
                                            "confirm": "une autre phrase encore"}).status_code == 400
    db.session.refresh(camille)
    assert camille.check_password(NEW_PASSWORD)


def test_a_newer_reset_link_makes_the_older_ones_invalid(client, camille, mailbox):
    client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"})
    client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"})
    older, newer = (path_of(reset_link(message)) for message in mailbox())
    response = client.get(older)
    assert response.status_code == 400
    assert "<h1>Lien de réinitialisation non valable</h1>" in text_of(response)
    assert "remplacé par un plus récent : utilisez le lien du dernier message reçu" in text_of(response)
    refused = client.post(older, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 400
    db.session.refresh(camille)
    assert camille.check_password(PASSWORD)
    assert client.get(newer).status_code == 200  # the latest one works, once, within the hour
    assert client.post(newer, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert client.get(newer).status_code == 400


def test_reset_link_expires_after_an_hour(client, camille, monkeypatch):
    token = password_reset_token(camille)
    assert client.get(f"/mot-de-passe-oublie/{token}").status_code == 200
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 3601)
    response = client.get(f"/mot-de-passe-oublie/{token}")
    assert response.status_code == 400 and "a expiré" in text_of(response)


@pytest.mark.parametrize("token", ["nimportequoi", "eyJ1c2VyIjoxfQ.forged.signature", "a" * 3000,
                                   "%00", "..%2F..%2Fetc"])
def test_a_forged_reset_link_is_refused(client, camille, token):
    response = client.get(f"/mot-de-passe-oublie/{token}")
    assert response.status_code in (400, 404)
    if response.status_code == 400:  # NUL: refused by the input rule before the page (inputs.py)
        assert "n'est pas valable" in text_of(response) or "caractère nul" in text_of(response)


def test_a_reset_link_for_a_deactivated_account_is_refused(client, camille):
    token = password_reset_token(camille)
    camille.active = False
    db.session.commit()
    assert client.get(f"/mot-de-passe-oublie/{token}").status_code == 400


def test_reset_links_use_the_public_address_not_the_host_header(app, client, camille, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://atelier.example.fr/")
    client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"},
                headers={"Host": "evil.example"})
    assert reset_link(mailbox()[0]).startswith("https://atelier.example.fr/mot-de-passe-oublie/")


def test_reset_requests_are_limited_per_account(client, camille, mailbox):
    for _ in range(5):
        assert client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"}).status_code == 302
    assert client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"}).status_code == 429
    assert len(mailbox()) == 5
    # failed logins and reset requests are counted apart: a locked-out person can still ask for a link
    limiter.reset()
    for _ in range(5):
        log_in(client, password="mauvais mot de passe")
    assert log_in(client).status_code == 429
    assert client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"}).status_code == 302
    link = reset_link(mailbox()[-1])
    client.post(path_of(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert log_in(client, password=NEW_PASSWORD).status_code == 302  # the reset lifted the suspension


def test_a_mail_failure_does_not_reveal_the_account(app, client, camille, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 1)  # nothing listens there
    response = client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"


# --------------------------------------------------------------------------- mail

def test_send_mail_writes_an_eml_without_a_server(app, mailbox):
    send_mail("alix@exemple.fr", "Objet accentué é", "Corps du message : 12 500 €.\n")
    [message] = mailbox()
    assert message["To"] == "alix@exemple.fr" and message["Subject"] == "Objet accentué é"
    assert message["From"] == app.config["MAIL_FROM"]
    assert "12 500 €" in message.get_content()


def test_send_mail_uses_smtp_when_configured(app, monkeypatch, mailbox):
    calls = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            calls.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            calls.append(("starttls",))

        def login(self, user, password):
            calls.append(("login", user, password))

        def send_message(self, message):
            calls.append(("send", message["To"]))

    monkeypatch.setattr("atelier.mail.smtplib.SMTP", FakeSMTP)
    for key, value in {"MAIL_SERVER": "smtp.exemple.fr", "MAIL_PORT": 587, "MAIL_USE_TLS": True,
                       "MAIL_USERNAME": "atelier", "MAIL_PASSWORD": "secret"}.items():
        monkeypatch.setitem(app.config, key, value)
    send_mail("alix@exemple.fr", "Objet", "Corps")
    assert calls == [("connect", "smtp.exemple.fr", 587), ("starttls",), ("login", "atelier", "secret"),
                     ("send", "alix@exemple.fr")]
    assert mailbox() == []


def test_a_session_switched_to_another_person_is_not_ended(client, camille, create_user):
    """The password mark of the session belongs to the account it was opened for."""
    from conftest import login

    other = create_user("applicant")
    db.session.commit()
    assert log_in(client).status_code == 302
    login(client, other)
    assert client.get("/compte").status_code == 200
