"""Webhooks: the outbox written with the event, signed deliveries to a real HTTP receiver, retries
with backoff while it is down, in order per dossier, exactly one success per delivery."""
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused, utcnow
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Event
from atelier.webhooks import delivery as sending
from atelier.webhooks.delivery import backoff, deliver_due, signature
from atelier.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from atelier.webhooks.operations import (create_webhook, deactivate_webhook, parse_webhook_url,
                                         retry_delivery, retry_failed_deliveries)


# --------------------------------------------------------------------------- a real receiver

class Receiver:
    """An HTTP server on localhost, in a thread, that records what it receives; it can be stopped
    and started again on the same port, and told to answer with an error."""

    def __init__(self):
        self.received = []  # (headers, body bytes)
        self.status = 204
        self.server = None
        self.port = None
        self.lock = threading.Lock()

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body, self.path))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/atelier/evenements"

    def payloads(self):
        return [json.loads(body) for _, body, _ in self.received]


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    if receiver.server is not None:
        receiver.stop()


@pytest.fixture(autouse=True)
def plain_http_allowed(app, monkeypatch):
    """The receiver is a plain HTTP server on 127.0.0.1: the allow-list names it, nothing more."""
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", True)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", ["127.0.0.1/32"])


def add_webhook(world, agency, url, secret="secret-de-test-assez-long"):
    webhook, secret = create_webhook(world.admin, agency, url=url, secret=secret)
    db.session.commit()
    return webhook


def verify(headers, body, secret) -> bool:
    expected = signature(secret, headers["X-Atelier-Timestamp"], body)
    return hmac.compare_digest(headers["X-Atelier-Signature"], expected)


def deliveries(**where):
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    for key, value in where.items():
        query = query.where(getattr(WebhookDelivery, key) == value)
    return db.session.scalars(query).all()


def event_ids(case, *, after=0):
    return list(db.session.scalars(select(Event.id).where(Event.case_id == case.id, Event.id > after)
                                   .order_by(Event.id)))


# --------------------------------------------------------------------------- the story of the issue

def test_every_event_is_delivered_exactly_once_in_order_though_the_receiver_was_down(
        world, create_case, receiver, runner):
    secret = "un-secret-partage-avec-la-region"
    add_webhook(world, world.region, receiver.url, secret)
    first = create_case("submitted")
    second = create_case("submitted")
    result = runner.invoke(args=["deliver-webhooks", "--once"])
    assert result.exit_code == 0, result.output
    assert "livré" in result.output
    before_outage = len(receiver.received)
    assert before_outage == len(event_ids(first)) + len(event_ids(second))

    # The receiver goes down while both dossiers move on.
    receiver.stop()
    ops.accept_case(world.region_agent, first)
    db.session.commit()
    region_line = first.lines[0]
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="50000")
    db.session.commit()
    counts = deliver_due()
    assert counts == {"delivered": 0, "retry": 1, "failed": 0}  # only the first dossier moved
    ops.accept_case(world.region_agent, second)
    db.session.commit()
    ops.approve_line(world.region_secretary, region_line, granted_amount="50000")
    db.session.commit()
    now = utcnow()
    for minutes in (1, 3, 7):  # the loop keeps trying as time passes, the receiver still down
        deliver_due(now + timedelta(minutes=minutes))
    pending = deliveries(status="pending")
    assert pending and all(d.status == "pending" for d in pending)
    failures = db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.status_code.is_(None))).all()
    assert failures and all(attempt.error for attempt in failures)
    # Only the first pending event of each dossier was tried: the later ones wait their turn.
    tried = {d.event_id for d in pending if d.attempts}
    heads = {min(d.event_id for d in pending if d.case_id == case.id) for case in (first, second)}
    assert tried == heads

    # It comes back: every event arrives, once, in order per dossier.
    receiver.start()
    for hours in range(1, 4):
        deliver_due(now + timedelta(hours=hours))
    assert deliveries(status="pending") == []
    assert {d.status for d in deliveries()} == {"delivered"}

    payloads = receiver.payloads()
    ids = [payload["id"] for payload in payloads]
    assert len(ids) == len(set(ids))  # never twice
    assert sorted(ids) == sorted(event_ids(first) + event_ids(second))  # none lost
    for case in (first, second):
        of_case = [payload["id"] for payload in payloads if payload["case"] == case.reference]
        assert of_case == sorted(of_case) == event_ids(case)
    for headers, body, path in receiver.received:
        assert path == "/atelier/evenements"
        assert verify(headers, body, secret)
        assert not verify(headers, body, "un-autre-secret-quelconque")
        assert headers["Content-Type"].startswith("application/json")
    uuids = [headers["X-Atelier-Delivery"] for headers, _, _ in receiver.received]
    assert len(set(uuids)) == len(uuids)
    # Exactly one successful attempt per delivery, every attempt logged with its duration.
    for delivery in deliveries():
        successes = [a for a in delivery.attempt_log if a.succeeded]
        assert len(successes) == 1 and delivery.attempt_log[-1] is successes[0]
        assert all(a.duration_ms >= 0 and a.attempted_at is not None for a in delivery.attempt_log)


def test_the_payload_says_what_happened_and_carries_no_free_text(world, create_case, receiver):
    add_webhook(world, world.region, receiver.url)
    case = create_case("submitted")
    ops.request_info(world.region_agent, case, message="Texte confidentiel du message")
    ops.post_message(world.region_agent, case, body="Note interne secrète", internal=True)
    db.session.commit()
    deliver_due()
    payloads = receiver.payloads()
    last = payloads[-1]
    event = db.session.get(Event, last["id"])
    assert last == {
        "id": event.id, "type": "request_info", "entity": "case", "case": case.reference, "line_id": None,
        "from_state": "submitted", "to_state": "incomplete",
        "occurred_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data, "agency": "region",
    }
    raw = b"".join(body for _, body, _ in receiver.received).decode()
    assert "confidentiel" not in raw and "secrète" not in raw
    headers = receiver.received[-1][0]
    assert headers["X-Atelier-Event"] == "request_info"
    assert abs(int(headers["X-Atelier-Timestamp"]) - time.time()) < 60


def test_the_signature_is_the_hmac_of_timestamp_dot_body():
    body = b'{"id":1}'
    expected = hmac.new(b"cle", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("cle", "1700000000", body) == "sha256=" + expected


# --------------------------------------------------------------------------- the outbox

def test_deliveries_are_written_with_the_event_for_each_agency_that_sees_the_dossier(world, create_case):
    region = add_webhook(world, world.region, "https://region.example/hook")
    bpi = add_webhook(world, world.bpi, "https://bpi.example/hook")
    aer = add_webhook(world, world.aer, "https://aer.example/hook")
    case = create_case("submitted")  # lines of the Region and Bpifrance: AER does not see it
    ids = event_ids(case)
    assert [d.event_id for d in deliveries(webhook_id=region.id)] == ids
    assert [d.event_id for d in deliveries(webhook_id=bpi.id)] == ids
    assert deliveries(webhook_id=aer.id) == []
    assert {d.case_id for d in deliveries()} == {case.id}


def test_the_agency_that_receives_a_transfer_gets_the_transfer_event(world, create_case):
    aer = add_webhook(world, world.aer, "https://aer.example/hook")
    case = create_case("submitted")
    before = event_ids(case)[-1]
    ops.transfer_lead(world.region_agent, case, agency=world.aer, reason="Relève de l'AER")
    db.session.commit()
    got = deliveries(webhook_id=aer.id)
    assert [db.session.get(Event, d.event_id).name for d in got] == ["transfer_lead"]
    assert got[0].event_id > before
    # ...and every later event of that dossier.
    ops.accept_case(world.aer_agent, case)
    db.session.commit()
    assert [d.event_id for d in deliveries(webhook_id=aer.id)] == event_ids(case, after=before)


def test_a_consulted_agency_gets_the_request_for_its_opinion(world, create_case):
    aer = add_webhook(world, world.aer, "https://aer.example/hook")
    case = create_case("in_review")
    ops.ask_opinion(world.region_agent, case.lines[0], agency=world.aer,
                    due_on=paris_today() + timedelta(days=5), question="Votre avis ?")
    db.session.commit()
    assert [db.session.get(Event, d.event_id).name for d in deliveries(webhook_id=aer.id)] == ["ask_opinion"]


def test_a_rolled_back_operation_leaves_no_delivery(world, create_case):
    add_webhook(world, world.region, "https://region.example/hook")
    case = create_case("submitted")
    count = len(deliveries())
    ops.accept_case(world.region_agent, case)
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # a later commit of the same session does not bring them back
    assert len(deliveries()) == count
    # An operation refused halfway (its event already flushed) is rolled back whole as well.
    with pytest.raises(ActionRefused):
        ops.accept_case(world.region_agent, case)
        ops.transfer_lead(world.region_agent, case, agency=world.region, reason="Aucune")
    db.session.rollback()
    db.session.commit()
    assert len(deliveries()) == count


def test_an_event_rolled_back_with_a_savepoint_is_not_delivered(world, create_case):
    add_webhook(world, world.region, "https://region.example/hook")
    case = create_case("submitted")
    count = len(deliveries())
    savepoint = db.session.begin_nested()
    ops.accept_case(world.region_agent, case)
    savepoint.rollback()
    db.session.commit()
    assert len(deliveries()) == count


def test_an_inactive_webhook_gets_no_new_delivery(world, create_case):
    webhook = add_webhook(world, world.region, "https://region.example/hook")
    deactivate_webhook(world.admin, webhook)
    db.session.commit()
    create_case("submitted")
    assert deliveries() == []


# --------------------------------------------------------------------------- retries and order

def test_failures_are_retried_with_exponential_backoff_then_given_up_and_retriggered(
        world, create_case, receiver):
    receiver.status = 500
    webhook = add_webhook(world, world.region, receiver.url)
    case = create_case("submitted")
    head = deliveries()[0]
    start = head.queued_at
    moment = start
    waits = []
    while True:
        deliver_due(moment)
        db.session.expire_all()
        head = db.session.get(WebhookDelivery, head.id)
        if head.status != "pending":
            break
        waits.append(head.next_attempt_at - moment)
        moment = head.next_attempt_at
    assert waits[:4] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert max(waits) == timedelta(hours=1)  # capped
    assert head.status == "failed" and moment - start >= timedelta(hours=24)
    assert [a.status_code for a in head.attempt_log] == [500] * head.attempts
    assert head.attempt_log[0].error == "Réponse HTTP 500"
    assert len(receiver.received) == head.attempts  # the later events waited behind it...
    assert {d.status for d in deliveries()} == {"failed"}  # ...and are given up with it, never tried
    assert all(d.attempts == 0 for d in deliveries()[1:])

    receiver.status = 200
    assert retry_delivery(world.admin, head) == 1 + len(event_ids(case)[1:])
    db.session.commit()
    deliver_due(moment + timedelta(hours=30))
    db.session.expire_all()
    assert {d.status for d in deliveries()} == {"delivered"}
    assert [p["id"] for p in receiver.payloads() if p["id"] != head.event_id] == event_ids(case)[1:]


def test_a_failing_dossier_does_not_hold_back_another(world, create_case, receiver):
    add_webhook(world, world.region, receiver.url)
    first = create_case("submitted")
    second = create_case("submitted")
    calls = []

    def sender(url, body, headers, timeout):
        payload = json.loads(body)
        calls.append(payload["case"])
        return (503, None) if payload["case"] == first.reference else (200, None)

    deliver_due(sender=sender)
    assert calls.count(first.reference) == 1  # its head failed, its other events wait
    assert calls.count(second.reference) == len(event_ids(second))


def test_a_crash_between_sending_and_recording_sends_again_with_the_same_delivery_id(
        world, create_case, receiver):
    add_webhook(world, world.region, receiver.url)
    create_case("submitted")
    first = deliveries()[0]

    def crash_after_sending(url, body, headers, timeout):
        sending.post(url, body, headers, timeout)
        raise KeyboardInterrupt("the loop is killed before it records the answer")

    with pytest.raises(KeyboardInterrupt):
        deliver_due(sender=crash_after_sending)
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, first.id).status == "pending"
    assert db.session.get(WebhookDelivery, first.id).attempts == 0
    deliver_due()
    sent = [headers["X-Atelier-Delivery"] for headers, _, _ in receiver.received]
    assert sent[0] == sent[1] == first.uuid  # the receiver can tell it is the same delivery
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.status != "delivered")) == 0


def test_a_plain_http_address_is_not_called_unless_allowed(world, create_case, receiver, app, monkeypatch):
    add_webhook(world, world.region, receiver.url)
    create_case("submitted")
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", False)
    deliver_due()
    assert receiver.received == []
    assert "https://" in deliveries()[0].attempt_log[0].error


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 50)] == [30, 60, 120, 3600, 3600]


# --------------------------------------------------------------------------- the admin's rules

@pytest.mark.parametrize("url, message", [
    ("", "Indiquez"),
    ("exemple.fr/hook", "https://"),
    ("ftp://exemple.fr/hook", "https://"),
    ("https://", "https://"),
    ("https://user:motdepasse@exemple.fr/hook", "identifiant"),
    ("https://exemple.fr:99999/hook", "pas valide"),
    ("https://exemple.fr/a b", "espace"),
    ("https://exemple.fr/" + "a" * 500, "trop longue"),
])
def test_bad_addresses_are_refused_in_french(url, message):
    with pytest.raises(ActionRefused) as refused:
        parse_webhook_url(url)
    assert message in refused.value.message and refused.value.field == "url"


def test_plain_http_is_refused_unless_the_configuration_allows_it(app, monkeypatch):
    assert parse_webhook_url("http://localhost:8000/hook") == "http://localhost:8000/hook"
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", False)
    with pytest.raises(ActionRefused, match="https://"):
        parse_webhook_url("http://localhost:8000/hook")
    assert parse_webhook_url("https://exemple.fr/hook") == "https://exemple.fr/hook"


def test_a_secret_is_generated_when_none_is_typed_and_kept_to_sign(world):
    webhook, secret = create_webhook(world.admin, world.region, url="https://exemple.fr/hook")
    assert len(secret) >= 40 and webhook.secret == secret
    with pytest.raises(ActionRefused, match="16 caractères"):
        create_webhook(world.admin, world.region, url="https://exemple.fr/hook", secret="court")
    with pytest.raises(ActionRefused, match="administrateur"):
        create_webhook(world.region_agent, world.region, url="https://exemple.fr/hook")


def test_retrying_needs_something_failed(world, create_case):
    webhook = add_webhook(world, world.region, "https://region.example/hook")
    create_case("submitted")
    with pytest.raises(ActionRefused):
        retry_failed_deliveries(world.admin, webhook)
    with pytest.raises(ActionRefused):
        retry_delivery(world.admin, deliveries()[0])


def test_make_run_starts_the_delivery_loop_beside_the_server_and_stops_it():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "deliver-webhooks" in run and "kill" in run and "trap" in run
