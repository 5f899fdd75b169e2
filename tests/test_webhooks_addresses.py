"""Webhooks reach public addresses only: the host is resolved and every address checked at each
delivery, the connection goes to the checked address, internal addresses typed by an admin are
refused at once; the log says what failed in French, never the exception; one bad address never
stops the delivery of the others."""
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from sqlalchemy import select

from atelier import create_app
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.webhooks import delivery as sending
from atelier.webhooks import network
from atelier.webhooks.delivery import deliver_due, post
from atelier.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from atelier.webhooks.network import AllowListError, parse_allowed_networks, permitted
from atelier.webhooks.operations import create_webhook, parse_webhook_url
from test_webhooks import Receiver

FORBIDDEN = "Adresse interdite (réseau privé)"

# What the outside check registered, and its cousins: each is, or resolves to, an internal address.
INTERNAL_URLS = [
    "https://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5432/",
    "https://10.0.0.1/hook",
    "https://10.255.1.2:8443/hook",
    "https://192.168.1.10/hook",
    "https://172.16.0.1/hook",
    "https://[::1]/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254 written in IPv6
    "https://[64:ff9b::a00:1]/hook",  # 10.0.0.1 through NAT64
    "https://[2002:c0a8:0101::1]/hook",  # 192.168.1.1 through 6to4
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://[fe80::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[ff02::1]/hook",
]


@pytest.fixture(autouse=True)
def no_allow_list(app, monkeypatch):
    """As in production: nothing allowed but public addresses (tests that need the local receiver
    name it)."""
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_HTTP", True)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", [])


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    if receiver.server is not None:
        receiver.stop()


@pytest.fixture
def local_receiver_allowed(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", ["127.0.0.1/32"])


@pytest.fixture
def connections(monkeypatch):
    """Every connection a delivery opens, by address (the real ones still happen)."""
    opened = []
    real = socket.create_connection

    def recording(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(network.socket, "create_connection", recording)
    return opened


def registered_before_the_rule(agency, url) -> Webhook:
    """A webhook stored as it was before addresses were checked at registration."""
    webhook = Webhook(agency=agency, url=url, secret="secret-de-test-assez-long", description="", active=True)
    db.session.add(webhook)
    db.session.commit()
    return webhook


def attempts_of(webhook) -> list[WebhookAttempt]:
    return db.session.scalars(select(WebhookAttempt).join(WebhookDelivery)
                              .where(WebhookDelivery.webhook_id == webhook.id)
                              .order_by(WebhookAttempt.id)).all()


def fake_resolver(monkeypatch, answers: dict):
    """``socket.getaddrinfo`` answering ``answers[name]`` (a list of addresses, or a list of such
    lists, one per call) for the names given; the real resolver for anything else."""
    real = socket.getaddrinfo
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        answer = answers[host]
        if answer and isinstance(answer[0], list):
            answer = answer[min(calls.count(host), len(answer)) - 1]
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in answer]

    monkeypatch.setattr(network.socket, "getaddrinfo", getaddrinfo)
    return calls


# --------------------------------------------------------------------------- at delivery

@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_an_internal_address_is_refused_at_delivery_without_connecting(world, create_case, connections, url):
    webhook = registered_before_the_rule(world.region, url)
    create_case("submitted")
    counts = deliver_due()
    assert counts == {"delivered": 0, "retry": 1, "failed": 0}
    assert connections == []
    [attempt] = attempts_of(webhook)
    assert attempt.status_code is None and attempt.error == FORBIDDEN


def test_a_name_resolving_to_one_private_address_among_public_ones_is_refused(
        world, create_case, connections, monkeypatch):
    fake_resolver(monkeypatch, {"partenaire.example": ["93.184.216.34", "10.0.0.7"]})
    webhook = registered_before_the_rule(world.region, "https://partenaire.example/hook")
    create_case("submitted")
    deliver_due()
    assert connections == []
    assert attempts_of(webhook)[0].error == FORBIDDEN


def test_the_connection_goes_to_the_address_that_was_checked(receiver, local_receiver_allowed, monkeypatch,
                                                             connections):
    # A DNS server that answers the local receiver once, then the metadata service (rebinding):
    # the name is resolved once, and the connection goes where the check looked.
    calls = fake_resolver(monkeypatch, {"partenaire.example": [["127.0.0.1"], ["169.254.169.254"]]})
    url = f"http://partenaire.example:{receiver.port}/atelier/evenements"
    status, error = post(url, b"{}", {"Content-Type": "application/json"}, 5)
    assert (status, error) == (204, None)
    assert calls == ["partenaire.example"]
    assert connections == [("127.0.0.1", receiver.port)]
    headers, body, path = receiver.received[0]
    assert headers["Host"] == f"partenaire.example:{receiver.port}" and path == "/atelier/evenements"


def test_the_allow_list_opens_exactly_the_networks_it_names(world, create_case, receiver, app, monkeypatch):
    webhook = registered_before_the_rule(world.region, receiver.url)
    create_case("submitted")
    deliver_due()
    assert receiver.received == [] and attempts_of(webhook)[0].error == FORBIDDEN
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", ["127.0.0.1/32"])
    db.session.execute(WebhookDelivery.__table__.update().values(next_attempt_at=WebhookDelivery.queued_at))
    db.session.commit()
    deliver_due()
    assert receiver.received and attempts_of(webhook)[-1].status_code == 204


@pytest.mark.parametrize("address, allowed, expected", [
    ("93.184.216.34", [], True),
    ("2606:2800:220:1:248:1893:25c8:1946", [], True),
    ("127.0.0.1", [], False),
    ("127.0.0.1", ["127.0.0.1/32"], True),
    ("127.0.0.2", ["127.0.0.1/32"], False),
    ("::ffff:127.0.0.1", ["127.0.0.1/32"], False),  # matched as resolved: name the IPv6 form to allow it
    ("10.1.2.3", ["10.1.2.0/24"], True),
    ("10.1.3.3", ["10.1.2.0/24"], False),
    ("::ffff:93.184.216.34", [], False),
    ("2002:5db8:d822::1", [], True),  # 6to4 of a public address
    ("2002:0a00:0001::1", [], False),  # 6to4 of 10.0.0.1
    ("64:ff9b::5db8:d822", [], False),  # NAT64 lies in ::/8, reserved: refused whatever it carries
    ("64:ff9b::7f00:1", [], False),
    ("198.51.100.7", [], False),  # documentation range
])
def test_which_addresses_are_permitted(address, allowed, expected):
    assert permitted(ipaddress.ip_address(address), parse_allowed_networks(allowed)) is expected


# ------------------------------------------------------------------------- one bad address, the loop goes on

@pytest.mark.parametrize("bad_url", ["https://[::ffff:127.0.0.1]/", "https://[::ffff:127.0.0.1]:8443/x",
                                     "https://[fe80::1%25eth0]/hook"])
def test_a_bad_address_first_does_not_stop_the_deliveries_of_any_agency(
        world, create_case, receiver, local_receiver_allowed, bad_url):
    bad = registered_before_the_rule(world.region, bad_url)  # created first: its deliveries go first
    good = registered_before_the_rule(world.bpi, receiver.url)
    case = create_case("submitted")  # a Region line and a Bpifrance line: both agencies see it
    first = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.next_attempt_at,
                                                                  WebhookDelivery.event_id,
                                                                  WebhookDelivery.id)).first()
    assert first.webhook_id == bad.id
    counts = deliver_due()
    assert counts["retry"] == 1 and counts["delivered"] >= 1
    assert len(receiver.received) == counts["delivered"]
    good_ones = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == good.id))
    assert {d.status for d in good_ones} == {"delivered"}
    [attempt] = attempts_of(bad)
    assert attempt.status_code is None and attempt.error and "Error" not in attempt.error
    sent = [payload["case"] for payload in receiver.payloads()]
    assert sent and set(sent) == {case.reference}


def test_a_sender_that_raises_is_one_failed_attempt_and_the_loop_goes_on(world, create_case):
    bad = registered_before_the_rule(world.region, "https://region.example/hook")
    registered_before_the_rule(world.bpi, "https://bpi.example/hook")
    create_case("submitted")

    def sender(url, body, headers, timeout):
        if "region" in url:
            raise RuntimeError("an unexpected failure, with details nobody should read")
        return 200, None

    counts = deliver_due(sender=sender)
    assert counts["retry"] == 1 and counts["delivered"] > 0
    assert attempts_of(bad)[0].error == "Échec de l'envoi"


# --------------------------------------------------------------------------- what the log says

@pytest.fixture
def closed_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def silent_server():
    """Accepts connections (the kernel does) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def self_signed_tls_server(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl est nécessaire pour créer un certificat de test")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(10)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def first_error(world, create_case, url) -> str:
    webhook = registered_before_the_rule(world.region, url)
    create_case("submitted")
    deliver_due()
    [attempt] = attempts_of(webhook)
    assert attempt.status_code is None or attempt.status_code >= 300
    return attempt.error


def assert_no_exception_text(error: str):
    for raw in ("Error", "Errno", "SSL", "WRONG_VERSION", "errno", "refused", "timed out", "[",
                "CERTIFICATE"):
        assert raw not in error


def test_a_closed_port_says_connection_refused(world, create_case, local_receiver_allowed, closed_port):
    error = first_error(world, create_case, f"http://127.0.0.1:{closed_port}/hook")
    assert error == "Connexion refusée"
    assert_no_exception_text(error)


def test_a_receiver_that_never_answers_says_timeout(world, create_case, local_receiver_allowed, silent_server,
                                                    app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_TIMEOUT_SECONDS", 0.3)
    error = first_error(world, create_case, f"http://127.0.0.1:{silent_server}/hook")
    assert error == "Délai dépassé"


def test_https_to_a_plain_http_server_says_tls_failed(world, create_case, local_receiver_allowed, receiver):
    error = first_error(world, create_case, f"https://127.0.0.1:{receiver.port}/hook")
    assert error == "Échec de la connexion chiffrée (TLS)"
    assert_no_exception_text(error)


def test_a_self_signed_certificate_says_invalid_certificate(world, create_case, local_receiver_allowed,
                                                            self_signed_tls_server):
    error = first_error(world, create_case, f"https://127.0.0.1:{self_signed_tls_server}/hook")
    assert error == "Certificat invalide"


def test_an_unknown_name_says_so(world, create_case, monkeypatch):
    fake_resolver(monkeypatch, {"inconnu.example": []})
    assert first_error(world, create_case, "https://inconnu.example/hook") == "Nom de domaine introuvable"


def test_an_error_answer_says_its_status(world, create_case, local_receiver_allowed, receiver):
    receiver.status = 500
    assert first_error(world, create_case, receiver.url) == "Réponse HTTP 500"


# --------------------------------------------------------------------------- at registration

@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_an_internal_address_typed_by_the_admin_is_refused(world, url):
    with pytest.raises(ActionRefused) as refused:
        create_webhook(world.admin, world.region, url=url)
    assert "réseau privé" in refused.value.message and refused.value.field == "url"


@pytest.mark.parametrize("url", ["https://93.184.216.34/hook",
                                 "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
                                 "https://partenaire.example/hook", "https://1e100.net/hook",
                                 "https://0x7f.example/hook"])
def test_public_addresses_and_names_are_accepted(url):
    assert parse_webhook_url(url) == url


def test_an_allowed_network_may_be_registered(app, monkeypatch):
    with pytest.raises(ActionRefused, match="réseau privé"):
        parse_webhook_url("https://10.1.2.3/hook")
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOWED_NETWORKS", "10.1.2.0/24, 192.168.5.7")
    assert parse_webhook_url("https://10.1.2.3/hook") == "https://10.1.2.3/hook"
    assert parse_webhook_url("https://192.168.5.7/hook") == "https://192.168.5.7/hook"
    with pytest.raises(ActionRefused, match="réseau privé"):
        parse_webhook_url("https://10.1.3.3/hook")


def test_a_mistyped_allow_list_stops_the_start_with_a_french_message(tmp_path):
    with pytest.raises(AllowListError, match="n'est pas un réseau"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "WEBHOOKS_ALLOWED_NETWORKS": ["10.0.0.0/8", "intranet"]})
    assert sending.DEFAULTS["WEBHOOKS_ALLOWED_NETWORKS"] == ()
