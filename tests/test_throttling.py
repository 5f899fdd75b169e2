"""Login throttling that counts right: an attempt is counted before the password is tested, in one
atomic step of the store, so that however many tries arrive at once, at most the limit of them are
tested; the counters are shared between processes through Redis; a store that fails refuses (503),
never lets a login through; registration and "forgotten password" are counted too; the memory store
survives concurrent requests.

The tests marked ``redis`` need a Redis server: ``ATELIER_TEST_REDIS_URL`` (its database is emptied),
else Debian's ``redis-server`` started on a free loopback port for the run. Without either they are
skipped, except when ``ATELIER_REQUIRE_REDIS`` is set (``.ci/run`` sets it): then they fail.
"""
import html
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import g
from limits.errors import StorageError
from limits.storage import storage_from_string
from sqlalchemy import func, select

from atelier.auth import views as auth_views
from atelier.auth.models import User
from atelier.config import DefaultConfig
from atelier.extensions import db, limiter
from conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("ATELIER_TEST_REDIS_URL")
REQUIRE_REDIS = bool(os.environ.get("ATELIER_REQUIRE_REDIS"))
WRONG = "pas le bon mot de passe"
NEW_PASSWORD = "une phrase de passe toute neuve"
TRIES = 40


@pytest.fixture(autouse=True)
def fresh_counters():
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def camille(create_user):
    user = create_user("applicant", email="camille@exemple.fr", name="Camille Porteur")
    db.session.commit()
    return user


@pytest.fixture
def evaluations(monkeypatch):
    """Every password the login form actually tests (a call of ``authenticate``)."""
    tested, lock = [], threading.Lock()
    authenticate = auth_views.authenticate

    def counted(email, password):
        with lock:
            tested.append(email)
        return authenticate(email, password)

    monkeypatch.setattr(auth_views, "authenticate", counted)
    return tested


@pytest.fixture
def broken_store(monkeypatch):
    """The counters' store stops answering (as Redis does when it is down)."""
    def refuse(*args, **kwargs):
        raise StorageError(ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."))

    for method in ("incr", "get", "get_expiry", "clear"):
        monkeypatch.setattr(limiter.storage, method, refuse)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def at_once(count: int, call) -> list:
    """``call(n)`` for n in range(count), all threads released at the same instant."""
    barrier = threading.Barrier(count)

    def one(n):
        barrier.wait()
        return call(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def log_in(client, email="camille@exemple.fr", password=PASSWORD, **kwargs):
    return client.post("/connexion", data={"email": email, "password": password}, **kwargs)


def register(client, email, **kwargs):
    response = client.post("/inscription", data={"name": "Alix Martin", "email": email,
                                                 "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, **kwargs)
    # The test's app context is shared by the requests: forget whom Flask-Login may have cached there,
    # so that the next registration comes from a stranger again.
    g.pop("_login_user", None)
    return response


# --------------------------------------------------------------------------- the memory store (one process)

def test_the_promised_limits(app):
    assert DefaultConfig.LOGIN_LIMIT_PER_ACCOUNT == "5 per 15 minutes"
    assert DefaultConfig.LOGIN_LIMIT_PER_ADDRESS == "20 per 15 minutes"
    for action in ("REGISTER", "RESET"):
        assert getattr(DefaultConfig, f"{action}_LIMIT_PER_ACCOUNT") == "5 per 15 minutes"
        assert getattr(DefaultConfig, f"{action}_LIMIT_PER_ADDRESS") == "20 per 15 minutes"


def test_forty_simultaneous_wrong_passwords_on_one_account_test_only_five(app, camille, evaluations):
    answers = at_once(TRIES, lambda n: log_in(app.test_client(), password=WRONG).status_code)
    print(f"\n{TRIES} mauvais mots de passe simultanés : {len(evaluations)} testés, "
          f"{answers.count(429)} refusés d'avance")
    assert len(evaluations) == 5
    assert Counter(answers) == {422: 5, 429: TRIES - 5}
    assert log_in(app.test_client()).status_code == 429  # the account is suspended, right password or not
    # The refused tries did not use up the address's budget: another account still logs in from it.
    other = User(email="dominique@exemple.fr", name="Dominique", role="applicant",
                 password_hash=camille.password_hash)
    db.session.add(other)
    db.session.commit()
    assert log_in(app.test_client(), "dominique@exemple.fr").status_code == 302


def test_tries_refused_for_a_suspended_account_do_not_count_against_the_address(client, camille, evaluations):
    for _ in range(5):
        assert log_in(client, password=WRONG).status_code == 422
    for _ in range(30):
        assert log_in(client, password=WRONG).status_code == 429
    assert len(evaluations) == 5
    for n in range(15):  # 5 + 15 = the 20 failures an address is allowed
        assert log_in(client, f"inconnu{n}@exemple.fr", WRONG).status_code == 422
    assert log_in(client, "inconnu99@exemple.fr", WRONG).status_code == 429
    assert len(evaluations) == 20


def test_a_successful_login_gives_its_attempt_back(client, camille):
    for _ in range(4):
        assert log_in(client, password=WRONG).status_code == 422
    for _ in range(3):
        assert log_in(client).status_code == 302
        client.post("/deconnexion")
    assert log_in(client, password=WRONG).status_code == 422  # the fifth failure is still tested
    assert log_in(client).status_code == 429


def test_when_the_counters_fail_no_login_goes_through(app, client, camille, evaluations, broken_store):
    response = log_in(client)
    assert response.status_code == 503
    page = text_of(response)
    assert "<h1>Connexion momentanément impossible</h1>" in page
    assert "Réessayez dans quelques minutes" in page
    assert int(response.headers["Retry-After"]) > 0
    assert evaluations == []  # not even the right password was tested
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_when_the_counters_fail_registration_and_reset_are_refused_too(app, client, camille, broken_store,
                                                                       tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    users = db.session.scalar(select(func.count()).select_from(User))
    response = register(client, "nouveau@exemple.fr")
    assert response.status_code == 503
    assert "<h1>Inscription momentanément impossible</h1>" in text_of(response)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    response = client.post("/mot-de-passe-oublie", data={"email": "camille@exemple.fr"})
    assert response.status_code == 503
    assert "<h1>Demande de lien momentanément impossible</h1>" in text_of(response)
    assert not (tmp_path / "mail").exists() or not any((tmp_path / "mail").iterdir())


def test_when_the_counters_fail_the_api_answers_503_not_500(app, client, broken_store):
    response = client.get("/api/v1/cases", headers={"Authorization": "Bearer inconnu"})
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "ne répond pas" in response.get_json()["detail"]
    assert response.headers["Retry-After"] == "30"


def test_registrations_are_limited_per_network_address(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT_PER_ADDRESS", "3 per 15 minutes")
    for n in range(3):
        assert register(app.test_client(), f"personne{n}@exemple.fr").status_code != 429
    response = register(app.test_client(), "personne9@exemple.fr")
    assert response.status_code == 429
    assert "<h1>Trop de tentatives</h1>" in text_of(response) and "Retry-After" in response.headers
    assert db.session.scalar(select(func.count()).select_from(User)
                             .where(User.email == "personne9@exemple.fr")) == 0
    elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
    assert register(app.test_client(), "personne9@exemple.fr", environ_base=elsewhere).status_code != 429


def test_registrations_are_limited_per_address_typed(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT_PER_ACCOUNT", "2 per 15 minutes")
    for n in range(2):
        address = {"REMOTE_ADDR": f"203.0.113.{n + 1}"}
        assert register(app.test_client(), "alix@exemple.fr", environ_base=address).status_code != 429
    assert register(app.test_client(), " ALIX@exemple.fr", environ_base={"REMOTE_ADDR": "198.51.100.9"}
                    ).status_code == 429


def test_reset_requests_are_limited_per_network_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_LIMIT_PER_ADDRESS", "3 per 15 minutes")
    for n in range(3):
        assert client.post("/mot-de-passe-oublie", data={"email": f"p{n}@exemple.fr"}).status_code == 302
    assert client.post("/mot-de-passe-oublie", data={"email": "p9@exemple.fr"}).status_code == 429


def test_forty_simultaneous_reset_requests_send_five_links_at_most(app, camille, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    answers = at_once(TRIES, lambda n: app.test_client().post(
        "/mot-de-passe-oublie", data={"email": "camille@exemple.fr"}).status_code)
    assert Counter(answers) == {302: 5, 429: TRIES - 5}


def test_the_memory_store_survives_requests_at_the_same_instant():
    """limits' memory store restarts its expiry timer from whichever request comes first; with the
    timer slowed down a little, two requests at once started the same thread twice (RuntimeError:
    threads can only be started once). The store the site uses for ``memory://`` does not."""
    store_class = type(storage_from_string("memory://"))

    class SlowTimer(store_class):
        @property
        def timer(self):
            time.sleep(0.005)  # widens the gap between looking at the timer and starting it
            return self.__dict__["_slow_timer"]

        @timer.setter
        def timer(self, value):
            self.__dict__["_slow_timer"] = value

    for _ in range(3):
        store = SlowTimer()
        time.sleep(0.05)  # the first timer has run and stopped
        errors = []

        def hit(n):
            try:
                store.incr(f"compteur-{n}", 60)
            except RuntimeError as error:
                errors.append(error)

        at_once(8, hit)
        assert errors == []
    assert limiter.storage.__class__ is store_class


def test_the_memory_store_counts_every_increment_once():
    store = storage_from_string("memory://")
    values = at_once(TRIES, lambda n: store.incr("un-compte", 60))
    assert sorted(values) == list(range(1, TRIES + 1))  # each request saw its own count


# --------------------------------------------------------------------------- Redis, several processes

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"le processus s'est arrêté (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"rien n'écoute sur le port {port}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """``ATELIER_TEST_REDIS_URL`` (emptied), else a private redis-server on a free loopback port."""
    import redis

    if REDIS_URL:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.flushdb()
        client.close()
        yield REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        message = "Redis : ni ATELIER_TEST_REDIS_URL ni redis-server (apt-get install redis-server)"
        if REQUIRE_REDIS:
            pytest.fail(message)
        pytest.skip(message)
    folder, port = tmp_path_factory.mktemp("redis"), _free_port()
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                                "--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")],
                               start_new_session=True)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


SEED = """
import sys
from flask_migrate import upgrade
from atelier import create_app
from atelier.extensions import db
from atelier.auth.models import User

app = create_app()
with app.app_context():
    upgrade()
    user = User(email="camille@exemple.fr", name="Camille Porteur", role="applicant")
    user.set_password(sys.argv[1])
    db.session.add(user)
    db.session.commit()
"""


def _site_env(database: Path, storage_uri: str = "memory://") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(ATELIER_DATABASE_URL=f"sqlite:///{database}", ATELIER_SECRET_KEY="clé-de-test-des-limites",
               ATELIER_RATELIMIT_STORAGE_URI=storage_uri, ATELIER_WTF_CSRF_ENABLED="false",
               ATELIER_MAIL_FOLDER=str(database.parent / "mail"),
               ATELIER_UPLOAD_FOLDER=str(database.parent / "uploads"))
    return env


@pytest.fixture(scope="module")
def site_database(tmp_path_factory) -> Path:
    """A migrated SQLite file holding camille@exemple.fr, copied by each site."""
    database = tmp_path_factory.mktemp("site") / "site.sqlite3"
    subprocess.run([sys.executable, "-c", SEED, PASSWORD], cwd=ROOT, env=_site_env(database), check=True,
                   timeout=300)
    return database


class Site:
    """The site under gunicorn (several processes, several threads each), on its own SQLite file."""

    def __init__(self, folder: Path, database: Path, storage_uri: str, workers: int = 2):
        self.port = _free_port()
        shutil.copy(database, folder / "site.sqlite3")
        self.env = _site_env(folder / "site.sqlite3", storage_uri)
        self.log = open(folder / "gunicorn.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "8",
             "--worker-class", "gthread", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_port(self.port, self.process)

    def post(self, path: str, form: dict) -> tuple[int, str]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", path, body=urlencode(form),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            return response.status, html.unescape(response.read().decode("utf-8", "replace"))
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, str, str]:
        connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read().decode("utf-8")
        finally:
            connection.close()

    def stop(self) -> None:
        _stop(self.process)
        self.log.close()


@pytest.mark.redis
def test_forty_simultaneous_wrong_passwords_across_processes_test_only_five(redis_url, site_database,
                                                                          tmp_path):
    site = Site(tmp_path, site_database, redis_url, workers=2)
    try:
        answers = at_once(TRIES, lambda n: site.post("/connexion", {"email": "camille@exemple.fr",
                                                                    "password": WRONG})[0])
        print(f"\nRedis, 2 processus : {TRIES} mauvais mots de passe simultanés, "
              f"{answers.count(422)} testés, {answers.count(429)} refusés d'avance")
        assert Counter(answers) == {422: 5, 429: TRIES - 5}
        status, page = site.post("/connexion", {"email": "camille@exemple.fr", "password": PASSWORD})
        assert status == 429 and "Trop de tentatives" in page
    finally:
        site.stop()


def test_when_redis_is_down_logins_and_api_calls_are_refused(site_database, tmp_path):
    dead = f"redis://127.0.0.1:{_free_port()}/0?socket_timeout=2&socket_connect_timeout=2"  # nothing listens
    site = Site(tmp_path, site_database, dead, workers=1)
    try:
        status, page = site.post("/connexion", {"email": "camille@exemple.fr", "password": PASSWORD})
        assert status == 503
        assert "Connexion momentanément impossible" in page
        status, kind, body = site.get("/api/v1/cases")
        assert status == 503 and kind.startswith("application/problem+json") and "ne répond pas" in body
        assert site.get("/")[0] == 200  # pages that count nothing still work
    finally:
        site.stop()


def test_the_ci_provides_redis():
    source = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "redis-server" in source and "ATELIER_TEST_REDIS_URL=" in source
    assert "ATELIER_REQUIRE_REDIS=1" in source
    if not REQUIRE_REDIS:
        pytest.skip("ATELIER_REQUIRE_REDIS n'est pas défini (poste de développement)")
    assert REDIS_URL, "ATELIER_REQUIRE_REDIS est défini mais pas ATELIER_TEST_REDIS_URL"
    import redis

    assert redis.Redis.from_url(REDIS_URL).ping()
