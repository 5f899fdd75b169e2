"""Forged forms and hostile input: refused in French, nothing written."""
import re

import pytest
from sqlalchemy import func, select

from atelier.extensions import db
from atelier.models import User


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _count_users():
    return db.session.scalar(select(func.count(User.id)))


def test_a_form_without_csrf_token_is_refused_with_a_french_page(client, csrf_on):
    response = client.post("/inscription", data={"name": "Alix Martin", "email": "alix@exemple.fr",
                                                 "password": "un mot de passe long", "confirm": "un mot de passe long"})
    assert response.status_code == 400
    assert "jeton de sécurité" in response.get_data(as_text=True)
    assert _count_users() == 0


def test_a_forged_csrf_token_is_refused(client, csrf_on):
    client.get("/inscription")
    response = client.post("/inscription", data={"csrf_token": "forgé", "name": "Alix Martin",
                                                 "email": "alix@exemple.fr", "password": "un mot de passe long",
                                                 "confirm": "un mot de passe long"})
    assert response.status_code == 400
    assert _count_users() == 0


def test_the_token_of_the_page_is_accepted(app, client, csrf_on):
    from tests.conftest import link_in, mails_to

    def token_of(page):
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
        return found.group(1)

    token = token_of(client.get("/inscription"))
    response = client.post("/inscription", data={"csrf_token": token, "name": "Alix Martin",
                                                 "email": "alix@exemple.fr", "password": "un mot de passe long",
                                                 "confirm": "un mot de passe long"})
    assert response.status_code == 200
    link = link_in(mails_to(app, "alix@exemple.fr")[-1], "/inscription/confirmer/")
    assert client.post(link).status_code == 400  # the button of the confirmation needs its token too
    assert _count_users() == 0
    response = client.post(link, data={"csrf_token": token_of(client.get(link))})
    assert response.status_code == 302
    assert _count_users() == 1


def test_logout_needs_a_post_with_token(client, csrf_on, world):
    from tests.conftest import login

    login(client, world.applicant)
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400


def test_an_unknown_page_is_a_french_404(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_a_body_over_the_limit_gets_a_french_413(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post("/inscription", data={"name": "x" * 5000})
    assert response.status_code == 413
    assert "taille maximale" in response.get_data(as_text=True)


def test_control_characters_in_a_reason_are_dropped_not_a_500(client, world, create_case):
    """PostgreSQL refuses NUL in text: typed text loses its control characters before any write."""
    from tests.conftest import login

    case = create_case("submitted")
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/actions/dismiss",
                           data={"version": case.version, "reason": "Hors\x0b périmètre\x07"})
    assert response.status_code == 303
    db.session.refresh(case)
    assert case.state == "dismissed"
    case_dismissal = [event for event in case.events if event.entity == "case" and event.name == "dismiss"]
    assert [event.reason for event in case_dismissal] == ["Hors périmètre"]
