"""Crash safety: an operation that fails after the state changed and its event was written leaves
nothing behind, and so does a worker killed in the middle of a transition.

1. In the request: a SQLAlchemy ``after_flush`` listener raises once, just after the operation flushed
   the new state, its Event, the agenda item or payment, the webhook deliveries and the audit chain
   head. The answer is the application's French error page (``web.perform`` does not catch an
   unexpected error: the app's 500 handler rolls back and says "rien n'a été enregistré"), everything
   is as before, and the same event then succeeds.
2. A real server (gunicorn, one sync worker) on a temporary SQLite file: the test holds a read
   transaction open, so the worker's COMMIT waits for it with every change of the transition written
   in its transaction; the worker is then killed (SIGKILL). Nothing of the transition is in the
   database, and the next request (a new worker) does it.
"""
import http.cookiejar
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event, select, text
from sqlalchemy.orm import Session

from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, FundingLine
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent


def snapshot() -> tuple:
    """Row counts of every table, states and versions, and the audit chain heads."""
    from atelier.audit import AuditChainHead

    db.session.expire_all()
    counts = text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{table.name}")'
                                        for table in db.metadata.sorted_tables))
    return (tuple(db.session.execute(counts).one()),
            tuple(db.session.execute(select(Case.id, Case.state, Case.version, Case.lead_agency_id)
                                     .order_by(Case.id))),
            tuple(db.session.execute(select(FundingLine.id, FundingLine.state, FundingLine.version,
                                            FundingLine.proposed_amount).order_by(FundingLine.id))),
            tuple(db.session.execute(select(AuditChainHead.__table__).order_by(AuditChainHead.case_id))))


class FailOnce:
    """An ``after_flush`` listener that raises the first time a flush wrote an Event named ``name``."""

    def __init__(self, name: str):
        self.name, self.fired = name, False

    def __call__(self, session, flush_context):
        if not self.fired and any(isinstance(obj, Event) and obj.name == self.name for obj in session.new):
            self.fired = True
            raise RuntimeError("panne simulée après l'écriture de l'événement")


@pytest.fixture
def fail_once():
    listeners = []

    def install(name: str) -> FailOnce:
        listener = FailOnce(name)
        sa_event.listen(Session, "after_flush", listener)
        listeners.append(listener)
        return listener

    yield install
    for listener in listeners:
        sa_event.remove(Session, "after_flush", listener)


@pytest.fixture
def webhook(world):
    from atelier.webhooks.operations import create_webhook

    hook, _ = create_webhook(world.admin, world.region, url="https://partenaire.example/webhooks/atelier")
    db.session.commit()
    return hook


def _region_line(case) -> FundingLine:
    return next(line for line in case.lines if line.agency_id == case.lead_agency_id)


def _propose(world, case):
    line = _region_line(case)
    return (f"/dossiers/{case.reference}/demandes/{line.id}/actions/propose",
            lambda: {"version": line.version, "meeting_id": world.region_meeting.id, "proposed_amount": "50000"})


def _record_payment(world, case):
    line = _region_line(case)
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="50000")
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    db.session.commit()
    return (f"/dossiers/{case.reference}/demandes/{line.id}/actions/record_payment",
            lambda: {"version": line.version, "amount": "20000", "paid_on": paris_today().isoformat()})


def _request_info(world, case):
    return (f"/dossiers/{case.reference}/actions/request_info",
            lambda: {"version": case.version, "message": "Joignez le dernier bilan."})


SETUPS = {"propose": _propose, "record_payment": _record_payment, "request_info": _request_info}
WRITES = {"propose": "AgendaItem", "record_payment": "Payment", "request_info": "Message"}


@pytest.mark.parametrize("name", list(SETUPS))
def test_an_operation_failing_after_its_event_leaves_nothing_and_the_dossier_usable(
        app, client, world, create_case, webhook, fail_once, monkeypatch, name):
    from atelier import models

    case = create_case("in_review")
    ops.ask_opinion(world.region_agent, _region_line(case), agency=world.aer,
                    due_on=paris_today() + timedelta(days=9))  # the chain has a head, webhooks a delivery
    db.session.commit()
    url, data = SETUPS[name](world, case)
    login(client, world.region_agent)  # logging in writes its session: before the snapshot
    before = snapshot()
    events_before = db.session.scalar(select(db.func.count(Event.id)).where(Event.case_id == case.id))
    written_before = db.session.scalar(select(db.func.count()).select_from(getattr(models, WRITES[name])))

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: the 500 page
    listener = fail_once(name)
    response = client.post(url, data=data())
    assert listener.fired
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert 'lang="fr"' in page and "Une erreur inattendue s'est produite ; rien n'a été enregistré." in page
    assert "Traceback" not in page and "RuntimeError" not in page
    assert snapshot() == before  # state, events, agenda items, payments, deliveries, chain heads

    login(client, world.region_agent)
    response = client.post(url, data=data())
    assert response.status_code == 303
    with client.session_transaction() as session:
        assert not [m for category, m in session.get("_flashes", []) if category == "error"]
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count(Event.id)).where(Event.case_id == case.id)) > events_before
    assert db.session.scalar(select(db.func.count()).select_from(getattr(models, WRITES[name]))) \
        == written_before + 1
    from atelier.audit import verify_chains

    assert not verify_chains()


# --------------------------------------------------------------------------- a worker killed

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"le serveur s'est arrêté ({process.returncode})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accessibilite", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise AssertionError("le serveur ne répond pas")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def server(tmp_path):
    """gunicorn (one sync worker) on a free loopback port, on a fresh SQLite file with the demo data."""
    if shutil.which("gunicorn", path=str(ROOT / ".venv" / "bin")) is None and \
            shutil.which("gunicorn") is None:
        pytest.skip("gunicorn n'est pas installé")
    database = tmp_path / "atelier.sqlite3"
    env = {**os.environ, "ATELIER_DATABASE_URL": f"sqlite:///{database}",
           "ATELIER_SECRET_KEY": "clé-du-test-de-panne", "ATELIER_UPLOAD_FOLDER": str(tmp_path / "pieces"),
           "ATELIER_WTF_CSRF_ENABLED": "false", "ATELIER_MAIL_FOLDER": str(tmp_path / "courriels")}
    env.pop("ATELIER_TEST_DATABASE_URL", None)
    bin_dir = Path(sys.executable).parent
    flask = [str(bin_dir / "flask"), "--app", "atelier"]
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    process = subprocess.Popen([str(bin_dir / "gunicorn"), "--workers", "1", "--worker-class", "sync",
                                "--bind", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield database, port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _state(database) -> tuple:
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = tuple(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables)
        cases = tuple(connection.execute("SELECT id, state, version FROM cases ORDER BY id"))
        heads = tuple(connection.execute("SELECT * FROM audit_chain_heads ORDER BY case_id"))
        return counts, cases, heads
    finally:
        connection.close()


def test_a_worker_killed_in_the_middle_of_a_transition_leaves_nothing_half_written(server):
    from atelier.demo import DEMO_PASSWORD

    database, port, process = server
    base = f"http://127.0.0.1:{port}"
    connection = sqlite3.connect(database)
    reference, version, email = connection.execute(
        "SELECT c.reference, c.version, u.email FROM cases c JOIN users u ON u.agency_id = c.lead_agency_id "
        "WHERE c.state = 'in_review' AND u.role = 'agent' AND NOT u.is_secretary ORDER BY c.id LIMIT 1").fetchone()
    connection.close()

    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    def post(path: str, data: dict, timeout: float = 30):
        body = urllib.parse.urlencode(data).encode()
        try:
            return browser.open(base + path, data=body, timeout=timeout).status
        except urllib.error.HTTPError as error:
            return error.code

    assert post("/connexion", {"email": email, "password": DEMO_PASSWORD}) == 302
    event = {"version": version, "message": "Joignez le dernier bilan, s'il vous plaît."}
    before = _state(database)

    # A read transaction held open: the worker writes its transition, then waits at COMMIT.
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM cases").fetchone()
    answers = []
    request = threading.Thread(target=lambda: answers.append(
        _quietly(lambda: post(f"/dossiers/{reference}/actions/request_info", event, timeout=60))))
    request.start()
    workers = _children(process.pid)
    assert len(workers) == 1
    time.sleep(2.5)  # well inside the worker's 5 s wait for the lock (pysqlite's default timeout)
    assert request.is_alive(), answers  # still waiting inside its transaction
    os.kill(workers[0], signal.SIGKILL)
    request.join(30)
    reader.execute("ROLLBACK")
    reader.close()
    assert answers and answers[0] is None  # the connection dropped: no answer at all

    assert _state(database) == before  # nothing of the transition: state, events, messages, chain heads

    _wait_for(port, process)  # gunicorn started a new worker
    assert post(f"/dossiers/{reference}/actions/request_info", event) == 303
    connection = sqlite3.connect(database)
    state, new_version = connection.execute("SELECT state, version FROM cases WHERE reference = ?",
                                            (reference,)).fetchone()
    events = connection.execute("SELECT count(*) FROM events e JOIN cases c ON c.id = e.case_id "
                                "WHERE c.reference = ? AND e.name = 'request_info'", (reference,)).fetchone()[0]
    connection.close()
    assert (state, new_version, events) == ("incomplete", version + 1, 1)


def _quietly(call):
    try:
        return call()
    except (urllib.error.URLError, ConnectionError, OSError):
        return None
