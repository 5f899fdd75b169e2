"""The admin's webhook pages: list, creation (secret shown once), deactivate, delete, the log of
deliveries with their attempts (paginated, a fixed number of queries), retrying what failed."""
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from atelier.extensions import db
from atelier.webhooks.delivery import deliver_due
from atelier.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from atelier.webhooks.operations import create_webhook
from conftest import login


@pytest.fixture(autouse=True)
def plain_http_allowed(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", False)  # as in production


@pytest.fixture
def admin_client(client, world):
    login(client, world.admin)
    return client


@pytest.fixture
def count_queries(app):
    @contextmanager
    def counting():
        counted = [0]

        def count(*args):
            counted[0] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            yield counted
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    return counting


def webhook_of(world, agency, url="https://partenaire.example/hook"):
    webhook, _ = create_webhook(world.admin, agency, url=url, secret="secret-de-test-assez-long")
    db.session.commit()
    return webhook


def base(world, agency=None):
    return f"/admin/organismes/{(agency or world.region).id}/webhooks"


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(admin_client, world):
    page = admin_client.get(base(world) + "/nouveau")
    assert page.status_code == 200 and "Ajouter un webhook" in page.get_data(as_text=True)
    response = admin_client.post(base(world) + "/nouveau", data={
        "url": "https://banque.example/atelier", "description": "Logiciel des prêts", "secret": ""})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    webhook = db.session.scalars(select(Webhook)).one()
    html = response.get_data(as_text=True)
    assert webhook.secret in html and "ne sera plus affiché" in html
    assert webhook.agency_id == world.region.id and webhook.url == "https://banque.example/atelier"
    listing = admin_client.get(base(world) + "/").get_data(as_text=True)
    assert "https://banque.example/atelier" in listing and webhook.secret not in listing


def test_a_wrong_address_is_shown_beside_its_field(admin_client, world):
    response = admin_client.post(base(world) + "/nouveau", data={"url": "http://banque.example/atelier",
                                                                  "secret": "court"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="url-error"' in html and "https://" in html
    assert 'id="secret-error"' in html and "16 caractères" in html
    assert db.session.scalar(select(func.count()).select_from(Webhook)) == 0


def test_an_internal_address_is_refused_beside_its_field(admin_client, world):
    response = admin_client.post(base(world) + "/nouveau", data={
        "url": "https://169.254.169.254/latest/meta-data/", "secret": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="url-error"' in html and "réseau privé" in html
    assert db.session.scalar(select(func.count()).select_from(Webhook)) == 0


@pytest.mark.parametrize("person", ["region_agent", "applicant", "region_secretary"])
def test_only_admins_see_the_pages(client, world, person):
    webhook = webhook_of(world, world.region)
    login(client, getattr(world, person))
    for url in ("/", "/nouveau", "/envois"):
        assert client.get(base(world) + url).status_code == 404
    assert client.post(base(world) + f"/{webhook.id}/desactiver").status_code == 404
    assert db.session.get(Webhook, webhook.id).active


def test_anonymous_people_are_sent_to_the_login_page(client, world):
    assert client.get(base(world) + "/").status_code == 302


def test_a_webhook_of_another_agency_is_not_found_here(admin_client, world):
    webhook = webhook_of(world, world.bpi)
    assert admin_client.post(base(world) + f"/{webhook.id}/supprimer").status_code == 404
    assert admin_client.post(base(world) + "/999999/supprimer").status_code == 404
    assert admin_client.get("/admin/organismes/999999/webhooks/").status_code == 404
    assert db.session.get(Webhook, webhook.id) is not None


def test_deactivate_reactivate_and_delete(admin_client, world, create_case):
    webhook = webhook_of(world, world.region)
    create_case("submitted")
    response = admin_client.post(base(world) + f"/{webhook.id}/desactiver")
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Webhook, webhook.id).active
    assert "Désactivé" in admin_client.get(base(world) + "/").get_data(as_text=True)
    admin_client.post(base(world) + f"/{webhook.id}/reactiver")
    db.session.expire_all()
    assert db.session.get(Webhook, webhook.id).active
    admin_client.post(base(world) + f"/{webhook.id}/supprimer")
    db.session.expire_all()
    assert db.session.get(Webhook, webhook.id) is None
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_the_log_shows_every_attempt_and_lets_the_admin_retry_what_failed(admin_client, world, create_case):
    webhook = webhook_of(world, world.region)
    case = create_case("submitted")

    def down(url, body, headers, timeout):
        raise ConnectionRefusedError(111, "Connection refused")

    deliver_due(sender=down)
    head = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    head.status = "failed"
    db.session.commit()
    html = admin_client.get(base(world) + "/envois").get_data(as_text=True)
    assert case.reference in html and "Connexion refusée" in html and "Abandonné" in html
    assert "Connection refused" not in html and "Errno" not in html  # a category, never the exception
    assert "Relancer" in html
    only_failed = admin_client.get(base(world) + f"/envois?webhook={webhook.id}&statut=failed").get_data(as_text=True)
    assert only_failed.count("<tr>") == 2  # the header and the failed one
    response = admin_client.post(base(world) + f"/envois/{head.id}/relancer")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, head.id).status == "pending"
    # Nothing left to retry: a French message, no error.
    response = admin_client.post(base(world) + f"/envois/{head.id}/relancer", follow_redirects=True)
    assert response.status_code == 200 and "Seul un envoi abandonné" in response.get_data(as_text=True)


def test_the_log_is_paginated_with_a_fixed_number_of_queries(admin_client, world, create_case, count_queries,
                                                             app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 50)
    webhook_of(world, world.region)
    webhook_of(world, world.region, url="https://second.example/hook")

    def flaky(url, body, headers, timeout):
        return 500, None

    create_case("submitted")
    deliver_due(sender=flaky)
    with count_queries() as few:
        assert admin_client.get(base(world) + "/envois").status_code == 200
    for _ in range(3):
        create_case("in_review")
    deliver_due(sender=flaky)
    assert db.session.scalar(select(func.count()).select_from(WebhookAttempt)) > 4
    with count_queries() as many:
        assert admin_client.get(base(world) + "/envois").status_code == 200
    assert many[0] == few[0]
    db.session.expire_all()  # the test and the requests share one session: nothing cached either time
    with count_queries() as listing_few:
        admin_client.get(base(world) + "/")
    webhook_of(world, world.region, url="https://troisieme.example/hook")
    db.session.expire_all()
    with count_queries() as listing_many:
        admin_client.get(base(world) + "/")
    assert listing_many[0] == listing_few[0]


def test_a_page_beyond_the_last_is_empty_not_an_error(admin_client, world):
    assert admin_client.get(base(world) + "/envois?page=999&webhook=abc&statut=x").status_code == 200


def test_the_agencies_list_links_to_their_webhooks(admin_client, world):
    html = admin_client.get("/admin/organismes/").get_data(as_text=True)
    assert f'href="/admin/organismes/{world.region.id}/webhooks/"' in html


GARBAGE = ["", "x" * 5000, "/é\x00\u202e\r\n" * 120, "-1", "99999999999999999999"]


def test_garbage_to_every_webhook_route_is_never_a_500(admin_client, world, create_case):
    webhook = webhook_of(world, world.region)
    create_case("submitted")
    delivery = db.session.scalars(select(WebhookDelivery)).first()
    posts = [f"/{webhook.id}/desactiver", f"/{webhook.id}/reactiver", f"/{webhook.id}/relancer",
             f"/envois/{delivery.id}/relancer", "/nouveau", f"/{webhook.id}/supprimer"]
    for value in GARBAGE:
        for url in posts:
            response = admin_client.post(base(world) + url, data={"url": value, "secret": value,
                                                                  "description": value})
            assert response.status_code < 500, (url, value[:10])
        for url in ("/", "/nouveau", "/envois"):
            query = f"?page={value}&webhook={value}&statut={value}"
            status = 400 if "\x00" in value else 200  # NUL: refused by the input rule (inputs.py)
            assert admin_client.get(base(world) + url + query).status_code == status
