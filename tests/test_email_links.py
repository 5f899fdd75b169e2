"""Links in emails never come from the request: they lead to the configured address of the site
(``PUBLIC_URL``; ``make run`` sets it from the host and port it serves), whatever ``Host`` or
``X-Forwarded-Host`` a sender puts in the request. In production the public address is required, and
a request for another host is refused."""
import os
import subprocess
from pathlib import Path

import pytest

from atelier import create_app
from atelier.extensions import db
from atelier.notifications.outbox import absolute_url
from conftest import link_in, mails_to

ROOT = Path(__file__).resolve().parents[1]
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


@pytest.fixture(autouse=True)
def own_mail_folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))


@pytest.fixture
def camille(create_user):
    user = create_user("applicant", email="camille@exemple.fr", name="Camille Porteur")
    db.session.commit()
    return user


@pytest.fixture
def sending(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)


@pytest.mark.parametrize("public_url, server_name, expected", [
    (None, None, "http://127.0.0.1:5000/"),  # a bare `flask run` in development
    (None, "atelier.test", "http://atelier.test/"),
    ("https://atelier.example.fr/", None, "https://atelier.example.fr/"),
])
def test_a_reset_link_asked_with_a_forged_host_leads_to_the_site(app, client, camille, sending, monkeypatch,
                                                                  public_url, server_name, expected):
    monkeypatch.setitem(app.config, "PUBLIC_URL", public_url)
    monkeypatch.setitem(app.config, "SERVER_NAME", server_name)
    response = client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"}, headers=FORGED)
    assert response.status_code == 302
    [mail] = mails_to(app, "camille@exemple.fr")
    body = mail.get_body(("plain",)).get_content()
    assert "evil.example" not in body
    assert (expected + "mot-de-passe-oublie/") in body
    assert link_in(mail, "/mot-de-passe-oublie/")


def test_the_password_changed_notice_links_to_the_site(app, client, camille, sending, monkeypatch):
    from atelier.auth.operations import password_reset_token

    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    token = password_reset_token(camille)
    db.session.commit()
    response = client.post(f"/mot-de-passe-oublie/{token}", headers=FORGED,
                           data={"password": "une toute nouvelle phrase",
                                 "confirm": "une toute nouvelle phrase"})
    assert response.status_code == 302
    [notice] = mails_to(app, "camille@exemple.fr")
    body = notice.get_body(("plain",)).get_content()
    assert "a été changé" in notice["Subject"]
    assert "evil.example" not in body and "http://127.0.0.1:5000/mot-de-passe-oublie" in body


def test_registration_emails_asked_with_a_forged_host_lead_to_the_site(app, client, camille, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://atelier.example.fr")
    for address in ("nouveau@exemple.fr", "camille@exemple.fr"):
        client.post("/inscription", headers=FORGED, data={"name": "Nouveau", "email": address,
                                                          "password": "une phrase de passe",
                                                          "confirm": "une phrase de passe"})
        body = mails_to(app, address)[-1].get_body(("plain",)).get_content()
        assert "evil.example" not in body and "https://atelier.example.fr/" in body


def test_notification_links_use_the_public_address(app, world, create_case, client, monkeypatch):
    from conftest import login

    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://127.0.0.1:5123")
    monkeypatch.setitem(app.config, "NOTIFICATIONS_SEND_AFTER_COMMIT", True)
    case = create_case("submitted")
    db.session.commit()
    agent = world.region_agent
    login(client, agent)
    response = client.post(f"/dossiers/{case.reference}/actions/accept",
                           headers={"X-Forwarded-Host": "evil.example"},
                           data={"version": case.version})
    assert response.status_code == 303
    [mail] = [m for m in mails_to(app, world.applicant.email) if "complet" in str(m["Subject"])]
    body = mail.get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:5123/dossiers/{case.reference}" in body and "evil.example" not in body
    assert absolute_url("auth.login") == "http://127.0.0.1:5123/connexion"


# --------------------------------------------------------------------------- make run: the served address

@pytest.fixture
def fake_flask(tmp_path):
    """A stand-in for `flask` that says which public address each command was given, and stops."""
    script = tmp_path / "flask"
    script.write_text('#!/bin/sh\necho "flask $1 ATELIER_PUBLIC_URL=$ATELIER_PUBLIC_URL"\n')
    script.chmod(0o755)
    return script


def _make_run(fake_flask, env_extra=None, **variables):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(env_extra or {})
    command = ["make", "--no-print-directory", "-s", "-o", ".venv/.installed", "run", f"FLASK={fake_flask}"]
    command += [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("flask ")]


def test_make_run_gives_the_emails_the_address_it_serves(fake_flask):
    lines = _make_run(fake_flask, HOST="127.0.0.1", PORT="5123")
    commands = {line.split()[1] for line in lines}
    # the demo's emails too; the background loop (deliver-webhooks) may be stopped before it speaks,
    # once the stand-in `flask run` has returned, so only the foreground commands are required
    assert {"init-db", "seed-demo", "run"} <= commands
    assert all(line.endswith("ATELIER_PUBLIC_URL=http://127.0.0.1:5123") for line in lines), lines


def test_make_run_keeps_a_public_address_that_is_set(fake_flask):
    lines = _make_run(fake_flask, {"ATELIER_PUBLIC_URL": "https://atelier.example.fr"}, PORT="5123")
    assert lines and all(line.endswith("ATELIER_PUBLIC_URL=https://atelier.example.fr") for line in lines)


def test_an_app_started_with_a_public_address_links_to_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ATELIER_PUBLIC_URL", "http://127.0.0.1:5123/")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "SECRET_KEY": "x"})
    with app.app_context():
        assert absolute_url("cases.show_case", reference="AP-2026-00001") == \
            "http://127.0.0.1:5123/dossiers/AP-2026-00001"


# --------------------------------------------------------------------------- production

def _production_app(tmp_path, **config):
    return create_app({"ENV_NAME": "production", "SECRET_KEY": "x" * 64,
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **config})


def test_production_refuses_to_start_without_a_public_address(monkeypatch, tmp_path):
    monkeypatch.delenv("ATELIER_PUBLIC_URL", raising=False)
    for public_url in (None, "", "atelier.example.fr"):
        with pytest.raises(RuntimeError, match="ATELIER_PUBLIC_URL est obligatoire en production"):
            _production_app(tmp_path, PUBLIC_URL=public_url)


def test_production_answers_only_requests_for_the_public_host(tmp_path):
    app = _production_app(tmp_path, PUBLIC_URL="https://atelier.example.fr")
    assert app.config["TRUSTED_HOSTS"] == ["atelier.example.fr"]
    client = app.test_client()
    assert client.get("/connexion", headers={"Host": "atelier.example.fr"}).status_code == 200
    assert client.get("/connexion", headers={"Host": "atelier.example.fr:443"}).status_code == 200
    for host in ("evil.example", "atelier.example.fr.evil.example", "127.0.0.1"):
        refused = client.get("/connexion", headers={"Host": host})
        assert refused.status_code == 400, host
        assert "cette adresse n'est pas celle du site" in refused.get_data(as_text=True)
        assert client.post("/mot-de-passe-oublie", headers={"Host": host},
                           data={"email": "camille@exemple.fr"}).status_code == 400


def test_development_answers_any_host(tmp_path):
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.config["TRUSTED_HOSTS"] is None
    assert app.test_client().get("/connexion", headers={"Host": "localhost:5001"}).status_code == 200
