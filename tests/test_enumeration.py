"""Nothing tells which addresses have an account: "mot de passe oublié" and the registration form answer
the same, in the same time, whatever the address (their emails leave after the response, even with a
slow mail server); registration creates an account only when the link of its email is followed."""
import asyncio
import base64
import email
import email.policy
import html
import re
import socket
import threading
import time
from http.client import HTTPConnection
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from werkzeug.serving import make_server

from atelier.auth.models import User
from atelier.extensions import db, limiter
from conftest import PASSWORD, link_in, mails_to, register

NEW = {"name": "Camille Porteur", "email": "camille@exemple.fr", "password": "une phrase de passe",
       "confirm": "une phrase de passe"}
SMTP_DELAY = 2.0  # seconds the slow mail server takes to accept a message


@pytest.fixture(autouse=True)
def own_mail_folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))


@pytest.fixture(autouse=True)
def fresh_counters():
    limiter.reset()
    yield
    limiter.reset()


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def logged_in_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrf_token" (type="hidden" )?value="[^"]*"', "", page)


@pytest.fixture
def known(create_user):
    user = create_user("applicant", email="dominique@exemple.fr", name="Dominique Déjà")
    db.session.commit()
    return user


# --------------------------------------------------------------------------- a slow mail server

class SlowInbox:
    """An SMTP server that takes SMTP_DELAY seconds to accept each message."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SMTP_DELAY)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message.get_body(("plain",)).get_content()))
        return "250 Message accepted"

    def wait_for(self, address: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for recipients, content in self.received:
                if address in recipients:
                    return content
            time.sleep(0.05)
        raise AssertionError(f"no email to {address}")


@pytest.fixture
def slow_smtp(app, monkeypatch):
    inbox = SlowInbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_USE_TLS": False,
                       "MAIL_USERNAME": None, "NOTIFICATIONS_SEND_AFTER_COMMIT": True}.items():
        monkeypatch.setitem(app.config, key, value)
    yield inbox
    controller.stop()


@pytest.fixture
def server(app):
    """The app behind a real HTTP server (werkzeug's, threaded), which closes each response after
    sending it, as gunicorn does: what runs after the response runs then."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield http.server_port
    http.shutdown()
    thread.join(timeout=10)


def timed_post(port: int, path: str, data: dict) -> tuple[float, int, bytes]:
    """POST a form over HTTP; the seconds until the whole response is read, its status and body."""
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.monotonic()
    connection.request("POST", path, body=urlencode(data),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    body = response.read()
    seconds = time.monotonic() - start
    connection.close()
    return seconds, response.status, body


# --------------------------------------------------------------------------- mot de passe oublié

def test_forgot_password_answers_at_once_even_with_a_slow_mail_server(known, slow_smtp, server):
    known_seconds, known_status, known_body = timed_post(server, "/mot-de-passe-oublie",
                                                         {"email": known.email})
    unknown_seconds, unknown_status, unknown_body = timed_post(server, "/mot-de-passe-oublie",
                                                               {"email": "personne@exemple.fr"})
    assert known_status == unknown_status == 302 and known_body == unknown_body
    # The mail server takes SMTP_DELAY seconds per message: the answer did not wait for it.
    assert max(known_seconds, unknown_seconds) < SMTP_DELAY / 2, (known_seconds, unknown_seconds)
    assert "/mot-de-passe-oublie/" in slow_smtp.wait_for(known.email)  # sent after the response
    assert all("personne@exemple.fr" not in recipients for recipients, _ in slow_smtp.received)


def test_forgot_password_hands_nothing_to_the_mail_server_inside_the_request(app, client, known, monkeypatch):
    """In a request, the reset link only enters the outbox; the mail server is reached once the
    response is closed (what a WSGI server does after sending it)."""
    calls = []
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)
    monkeypatch.setattr("atelier.notifications.sending.send_mail",
                        lambda to, *args, **kwargs: calls.append(to))
    response = client.post("/mot-de-passe-oublie", data={"email": known.email}, buffered=False)
    assert response.status_code == 302 and calls == []
    response.close()
    assert calls == [known.email]


def test_the_reset_link_waits_in_the_outbox_when_the_mail_server_is_down(app, client, known, monkeypatch):
    from atelier.notifications.models import Notification

    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 1)  # nothing listens there
    response = client.post("/mot-de-passe-oublie", data={"email": known.email})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    [queued] = db.session.scalars(select(Notification).where(Notification.user_id == known.id))
    assert queued.kind == "password_reset" and queued.status == "pending" and queued.attempts == 1
    assert "/mot-de-passe-oublie/" in queued.body  # retried by flask send-notifications


# --------------------------------------------------------------------------- registration

def test_registration_answers_the_same_page_for_a_new_and_a_known_address(app, client, known, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    def post(address):
        page = client.get("/inscription").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return client.post("/inscription", data={**NEW, "email": address, "csrf_token": token})

    new = post("camille@exemple.fr")
    again = post(known.email)
    assert new.status_code == again.status_code == 200
    assert (without_csrf_token(text_of(new)).replace("camille@exemple.fr", "X")
            == without_csrf_token(text_of(again)).replace(known.email, "X"))
    assert "Nous vous avons envoyé un courriel pour confirmer votre adresse" in text_of(new)
    assert user_count() == 1 and logged_in_id(client) is None  # nothing created yet, nobody logged in

    [confirm] = mails_to(app, "camille@exemple.fr")
    assert "confirmez votre adresse" in confirm["Subject"]
    assert link_in(confirm, "/inscription/confirmer/")
    [reminder] = mails_to(app, known.email)
    assert reminder["Subject"] == "Atelier des projets : vous avez déjà un compte"
    body = reminder.get_body(("plain",)).get_content()
    assert "Vous avez déjà un compte : aucun autre n'a été créé" in body
    assert "http://atelier.test/connexion" in body and "http://atelier.test/mot-de-passe-oublie" in body
    assert "/inscription/confirmer/" not in body


def test_registering_a_known_address_creates_no_second_account_nor_changes_its_password(client, known):
    client.post("/inscription", data={**NEW, "email": "Dominique@Exemple.FR"})
    assert user_count() == 1
    db.session.refresh(known)
    assert known.check_password(PASSWORD) and known.name == "Dominique Déjà"
    assert logged_in_id(client) is None


def test_registration_answers_at_once_even_with_a_slow_mail_server(known, slow_smtp, server):
    times = {}
    for address in ("camille@exemple.fr", known.email):
        seconds, status, _ = timed_post(server, "/inscription", {**NEW, "email": address})
        assert status == 200
        times[address] = seconds
    assert max(times.values()) < SMTP_DELAY / 2, times
    assert "/inscription/confirmer/" in slow_smtp.wait_for("camille@exemple.fr")
    assert "Vous avez déjà un compte" in slow_smtp.wait_for(known.email)


def test_the_confirmation_link_creates_the_account_once_and_logs_in(app, client):
    client.post("/inscription", data={**NEW, "email": " Camille@Exemple.FR "})
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    page = client.get(link)  # a mail scanner opening the link creates nothing
    assert page.status_code == 200 and user_count() == 0
    assert "camille@exemple.fr" in text_of(page) and "Camille Porteur" in text_of(page)
    assert page.headers["Cache-Control"].startswith("no-store")

    response = client.post(link)
    assert response.status_code == 302 and response.headers["Location"] == "/entreprises/nouvelle"
    user = db.session.scalar(select(User))
    assert (user.email, user.name, user.role, user.active) == ("camille@exemple.fr", "Camille Porteur",
                                                               "applicant", True)
    assert user.check_password(NEW["password"]) and user.password_hash.startswith("scrypt:")
    assert logged_in_id(client) == str(user.id)
    assert "Déclarez maintenant votre entreprise" in text_of(client.get("/entreprises/nouvelle"))

    client.post("/deconnexion")
    for again in (client.get(link), client.post(link)):  # once only
        assert again.status_code == 400 and "Un compte existe déjà avec cette adresse" in text_of(again)
    assert user_count() == 1 and logged_in_id(client) is None


def test_a_link_for_an_address_that_got_an_account_meanwhile_is_refused(app, client, create_user):
    client.post("/inscription", data=NEW)
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    create_user("applicant", email="camille@exemple.fr")  # e.g. a second registration confirmed first
    db.session.commit()
    response = client.post(link)
    assert response.status_code == 400 and "Un compte existe déjà" in text_of(response)
    assert user_count() == 1 and logged_in_id(client) is None


def test_the_confirmation_link_expires(app, client, monkeypatch):
    client.post("/inscription", data=NEW)
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    assert "24 heures" in mails_to(app, "camille@exemple.fr")[-1].get_body(("plain",)).get_content()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 24 * 3600 + 5)
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 400 and "Ce lien de confirmation a expiré" in text_of(response)
    assert user_count() == 0


def test_the_link_hides_what_it_carries(app, client):
    client.post("/inscription", data=NEW)
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    token = link.rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (b"camille", b"scrypt", b"Camille Porteur", NEW["password"].encode()):
        assert secret not in decoded  # neither the address nor the password's hash can be read


def _tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[40] ^= 1  # one bit of the encrypted part
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("forge", [
    lambda token: _tampered(token),
    lambda token: token[:-8],
    lambda token: "nimportequoi",
    lambda token: "gAAAAA" + "a" * 3000,
    lambda token: token + "%C3%A9",
])
def test_a_forged_confirmation_link_is_refused_in_french(app, client, forge):
    client.post("/inscription", data=NEW)
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    token = link.rsplit("/", 1)[1]
    for response in (client.get(f"/inscription/confirmer/{forge(token)}"),
                     client.post(f"/inscription/confirmer/{forge(token)}")):
        assert response.status_code == 400
        assert "Ce lien de confirmation n'est pas valable" in text_of(response)
    assert user_count() == 0


def test_a_link_made_with_another_secret_key_is_refused(app, client, monkeypatch):
    client.post("/inscription", data=NEW)
    link = link_in(mails_to(app, "camille@exemple.fr")[-1], "/inscription/confirmer/")
    monkeypatch.setitem(app.config, "SECRET_KEY", "une-autre-clé")
    assert client.post(link).status_code == 400 and user_count() == 0


def test_registration_by_the_pages_then_login(app, client):
    response = register(client, app, name="Alix Martin", email="alix@exemple.fr",
                        password="une phrase de passe")
    assert response.status_code == 302
    client.post("/deconnexion")
    assert client.post("/connexion", data={"email": "alix@exemple.fr", "password": "une phrase de passe"}
                       ).status_code == 302
