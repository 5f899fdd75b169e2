"""Two delivery loops at once on PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED, so no
delivery is sent twice and each dossier's events still arrive in order."""
import threading
import time

import pytest
from sqlalchemy import select

from atelier.extensions import db
from atelier.models import Event
from atelier.webhooks.delivery import deliver_due, post
from atelier.webhooks.models import WebhookDelivery
from atelier.webhooks.operations import create_webhook

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def plain_http_allowed(app, monkeypatch):
    """The receiver is a plain HTTP server on 127.0.0.1: the allow-list names it, nothing more."""
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", True)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", ["127.0.0.1/32"])


def test_two_loops_never_send_the_same_delivery_and_keep_the_order(app, world, create_case):
    from test_webhooks import Receiver

    receiver = Receiver().start()
    try:
        create_webhook(world.admin, world.region, url=receiver.url, secret="secret-de-test-assez-long")
        create_webhook(world.admin, world.bpi, url=receiver.url + "/bpi", secret="secret-de-test-assez-long")
        db.session.commit()
        cases = [create_case("in_review") for _ in range(4)]
        expected = db.session.scalar(select(db.func.count()).select_from(WebhookDelivery))

        def slow_post(url, body, headers, timeout):
            time.sleep(0.01)  # long enough for the other loop to look for work meanwhile
            return post(url, body, headers, timeout)

        errors, results = [], []

        def loop():
            try:
                with app.app_context():
                    results.append(deliver_due(sender=slow_post))
                    db.session.remove()
            except Exception as error:  # pragma: no cover - shown by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=loop) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert all(counts["delivered"] > 0 for counts in results) and len(results) == 2  # both worked
        uuids = [headers["X-Atelier-Delivery"] for headers, _, _ in receiver.received]
        assert len(uuids) == len(set(uuids)) == expected
        for path in ("/atelier/evenements", "/atelier/evenements/bpi"):
            for case in cases:
                got = [payload["id"] for (_, _, where), payload in zip(receiver.received, receiver.payloads())
                       if where == path and payload["case"] == case.reference]
                assert got == list(db.session.scalars(select(Event.id).where(Event.case_id == case.id)
                                                      .order_by(Event.id)))
    finally:
        receiver.stop()
