"""Token hygiene: stored hashed, scoped, expiring, revocable, last use recorded; the account page and
the command that create them; errors as problem documents; the per-token rate limit."""
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from atelier.api.models import ApiToken
from atelier.api.tokens import create_token, hash_token
from atelier.common import utcnow
from atelier.extensions import db
from tests.conftest import login

PROBLEM = "application/problem+json"


def make_token(user, scope="write", days=30):
    row, token = create_token(user, name="Logiciel de test", scope=scope, days=days)
    db.session.commit()
    return row, token


def get(client, url, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1{url}", headers=headers, **kwargs)


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["detail"] and body["title"] and body["type"]
    return body


def test_the_database_holds_no_token_in_clear(world):
    row, token = make_token(world.applicant)
    assert token.startswith("atl_") and len(token) > 40
    assert row.token_hash == hash_token(token) and row.prefix == token[:12]
    dump = "\n".join(str(value) for line in db.session.execute(text("SELECT * FROM api_tokens")) for value in line)
    assert token not in dump
    assert token[12:] not in dump


def test_a_valid_token_authenticates_and_its_use_is_recorded(client, world):
    row, token = make_token(world.applicant)
    assert row.last_used_at is None
    response = get(client, "/me", token)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["email"] == world.applicant.email
    assert "Set-Cookie" not in response.headers
    db.session.refresh(row)
    assert row.last_used_at is not None and utcnow() - row.last_used_at < timedelta(minutes=1)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer atl_inconnu", "Basic dXNlcjpwYXNz",
                                    "Bearer " + "x" * 500])
def test_no_or_bad_token_is_401(client, world, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/cases", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_tokens_are_refused(client, world):
    row, token = make_token(world.applicant)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_problem(get(client, "/me", token), 401)


def test_revoked_tokens_are_refused(client, world):
    row, token = make_token(world.applicant)
    assert get(client, "/me", token).status_code == 200
    row.revoked_at = utcnow()
    db.session.commit()
    assert_problem(get(client, "/me", token), 401)


def test_tokens_of_deactivated_users_are_refused(client, world):
    _, token = make_token(world.region_agent)
    world.region_agent.active = False
    db.session.commit()
    assert_problem(get(client, "/me", token), 401)


def test_a_read_token_cannot_write(client, world, create_case):
    case = create_case("submitted")
    _, token = make_token(world.region_agent, scope="read")
    assert get(client, f"/cases/{case.reference}", token).status_code == 200
    response = client.post(f"/api/v1/cases/{case.reference}/events", json={"event": "accept"},
                           headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 403)
    db.session.refresh(case)
    assert case.state == "submitted"


def test_a_session_cookie_does_not_open_the_api(client, world):
    login(client, world.applicant)
    assert_problem(client.get("/api/v1/me"), 401)


# --------------------------------------------------------------------------- errors

def test_errors_are_problem_documents_in_french(client, world, create_case):
    case = create_case("submitted")
    _, agent = make_token(world.region_agent)
    _, outsider = make_token(world.other_applicant)
    headers = {"Authorization": f"Bearer {agent}"}
    # 404: unknown, out of scope, unknown path
    assert_problem(get(client, "/cases/AP-2000-00001", agent), 404)
    assert_problem(get(client, f"/cases/{case.reference}", outsider), 404)
    assert_problem(get(client, "/nulle-part", agent), 404)
    # 409: an event not allowed from the current state
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events", json={"event": "submit"},
                                      headers=headers), 409)
    assert "Seul" in body["detail"] or "pas possible" in body["detail"]
    # 409: a stale version
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events",
                                      json={"event": "accept", "version": case.version - 1}, headers=headers), 409)
    assert "modifié entre-temps" in body["detail"]
    # 422: what the document does not allow, one entry per field
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events",
                                      json={"event": "transfer_lead", "agency_id": "pas-un-id", "reason": 12},
                                      headers=headers), 422)
    assert {error["field"] for error in body["errors"]} == {"agency_id", "reason"}
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events",
                                      json={"event": "transfer_lead", "agency_id": world.region.id, "reason": ""},
                                      headers=headers), 422)
    assert [error["field"] for error in body["errors"]] == ["reason"]
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events",
                                      json={"event": "transfer_lead", "agency_id": world.region.id,
                                            "reason": "Suivi par la Région."}, headers=headers), 409)
    # 409: well formed, but a rule refuses it: the field it is about is named
    assert body["errors"] == [{"field": "agency_id",
                               "detail": "Cet organisme pilote déjà le dossier : choisissez-en un autre."}]
    body = assert_problem(client.post(f"/api/v1/cases/{case.reference}/events", json={"event": "voler"},
                                      headers=headers), 422)
    assert body["errors"][0]["field"] == "event"
    # 400: not JSON
    assert_problem(client.post(f"/api/v1/cases/{case.reference}/events", data="{pas du json",
                               content_type="application/json", headers=headers), 400)
    # 405
    assert_problem(client.put(f"/api/v1/cases/{case.reference}/events", json={}, headers=headers), 405)
    db.session.refresh(case)
    assert case.state == "submitted"


def test_the_rate_limit_is_per_token_and_answers_429(app, client, world):
    _, first = make_token(world.applicant)
    _, second = make_token(world.applicant)
    app.config["API_RATE_LIMIT"] = "3/minute"
    try:
        for _ in range(3):
            assert get(client, "/me", first).status_code == 200
        response = get(client, "/me", first)
        body = assert_problem(response, 429)
        assert "Retry-After" in response.headers and int(response.headers["Retry-After"]) > 0
        assert "Trop de requêtes" in body["detail"]
        assert get(client, "/me", second).status_code == 200  # another token has its own budget
    finally:
        app.config.pop("API_RATE_LIMIT")


# --------------------------------------------------------------------------- the account page and the command

def test_tokens_are_created_listed_and_revoked_from_the_account_page(client, world):
    login(client, world.bpi_agent)
    page = client.get("/compte").get_data(as_text=True)
    assert "Jetons d'accès à l'API" in page and "Vous n'avez aucun jeton." in page
    assert client.get("/compte/jetons/nouveau").status_code == 200
    response = client.post("/compte/jetons/nouveau", data={"name": "Logiciel de prêts", "scope": "write",
                                                           "days": "30"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    row = db.session.scalars(select(ApiToken)).one()
    html = response.get_data(as_text=True)
    token = html.split('id="jeton-cree"')[1].split('value="')[1].split('"')[0]
    assert hash_token(token) == row.token_hash and row.scope == "write"
    assert get(client.application.test_client(), "/me", token).status_code == 200

    page = client.get("/compte").get_data(as_text=True)
    assert "Logiciel de prêts" in page and token not in page and row.prefix in page and "Actif" in page
    response = client.post(f"/compte/jetons/{row.id}/revoquer")
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert "Révoqué" in client.get("/compte").get_data(as_text=True)
    assert_problem(get(client.application.test_client(), "/me", token), 401)


def test_the_token_form_shows_its_errors(client, world):
    login(client, world.applicant)
    response = client.post("/compte/jetons/nouveau", data={"name": "", "scope": "admin", "days": "9999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Donnez un nom au jeton" in html and "Choisissez la portée du jeton." in html
    assert "entre 1 et 366 jours" in html
    assert db.session.scalars(select(ApiToken)).first() is None


def test_nobody_revokes_the_token_of_someone_else(client, world):
    row, _ = make_token(world.applicant)
    login(client, world.other_applicant)
    assert client.post(f"/compte/jetons/{row.id}/revoquer").status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


def test_create_token_command_prints_the_token_once(runner, client, world):
    result = runner.invoke(args=["create-token", world.region_agent.email, "--scope", "read", "--days", "7"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    row = db.session.scalars(select(ApiToken)).one()
    assert row.scope == "read" and row.token_hash == hash_token(token)
    assert timedelta(days=6, hours=23) < row.expires_at - utcnow() <= timedelta(days=7)
    assert get(client, "/me", token).get_json()["token"]["scope"] == "read"
    assert runner.invoke(args=["create-token", "personne@nulle-part.fr", "--scope", "read"]).exit_code != 0
    assert runner.invoke(args=["create-token", world.region_agent.email, "--scope", "admin"]).exit_code != 0


def test_the_token_user_is_forgotten_after_the_request(client, world):
    _, token = make_token(world.applicant)
    assert get(client, "/me", token).status_code == 200
    response = client.get("/compte")  # same app context in tests, no session: not logged in
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


# --------------------------------------------------------------------------- deactivation, password change, reset

NEW_PASSWORD = "une toute nouvelle phrase"


def test_a_deactivation_revokes_the_tokens_for_good(app, client, world):
    row, token = make_token(world.region_agent)
    api = app.test_client()
    assert get(api, "/me", token).status_code == 200
    login(client, world.admin)
    assert client.post(f"/admin/utilisateurs/{world.region_agent.id}/desactiver").status_code == 302
    assert_problem(get(api, "/me", token), 401)
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert client.post(f"/admin/utilisateurs/{world.region_agent.id}/reactiver").status_code == 302
    db.session.refresh(world.region_agent)
    assert world.region_agent.active
    assert_problem(get(api, "/me", token), 401)  # the reactivation revives no token
    _, fresh = make_token(world.region_agent)
    assert get(api, "/me", fresh).status_code == 200


def test_a_password_change_revokes_the_tokens_when_asked(app, client, world):
    from conftest import PASSWORD

    _, kept = make_token(world.applicant)
    api = app.test_client()
    login(client, world.applicant)
    page = client.get("/compte/mot-de-passe").get_data(as_text=True)
    assert '<input id="revoke_tokens" name="revoke_tokens" type="checkbox" value="y">' in page
    label = '<label for="revoke_tokens">Révoquer aussi mes jetons d\'accès à l\'API'
    assert label in page.replace("&#39;", "'")
    response = client.post("/compte/mot-de-passe", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                                         "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert get(api, "/me", kept).status_code == 200  # not asked: the tokens go on

    _, revoked = make_token(world.applicant)
    response = client.post("/compte/mot-de-passe", data={
        "current": NEW_PASSWORD, "password": "encore une autre phrase", "confirm": "encore une autre phrase",
        "revoke_tokens": "y"})
    assert response.status_code == 302
    account = client.get("/compte").get_data(as_text=True).replace("&#39;", "'")
    assert "vos jetons d'accès à l'API révoqués" in account
    assert_problem(get(api, "/me", kept), 401)
    assert_problem(get(api, "/me", revoked), 401)


def test_a_reset_revokes_the_tokens_unless_the_person_keeps_them(app, client, world):
    from atelier.auth.operations import password_reset_token

    _, token = make_token(world.applicant)
    api = app.test_client()
    link = f"/mot-de-passe-oublie/{password_reset_token(world.applicant)}"
    db.session.commit()
    page = client.get(link).get_data(as_text=True).replace("&#39;", "'")
    assert "Ses jetons d'accès à l'API seront révoqués" in page
    assert '<input id="keep_tokens" name="keep_tokens" type="checkbox" value="y">' in page
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert_problem(get(api, "/me", token), 401)  # revoked by default

    _, kept = make_token(world.applicant)
    link = f"/mot-de-passe-oublie/{password_reset_token(world.applicant)}"
    db.session.commit()
    assert client.post(link, data={"password": "encore une autre phrase",
                                   "confirm": "encore une autre phrase", "keep_tokens": "y"}).status_code == 302
    assert get(api, "/me", kept).status_code == 200
