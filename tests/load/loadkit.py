"""What the load tests need: a throwaway PostgreSQL database, the production stack (``make serve-prod``)
started on it on a free loopback port, and an HTTP client from the standard library that keeps a
session cookie, reads forms (and their CSRF token) from the pages and times every request.

Nothing here knows the domain: the seeding and the scenarios are in ``test_load.py``.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.client import HTTPConnection
from math import ceil
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- throwaway database

class CannotCreateDatabase(Exception):
    """The role of ATELIER_TEST_DATABASE_URL may not create databases (no CREATEDB)."""


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_throwaway_database(server_url: str) -> str:
    """Create an empty database beside the one of ``server_url`` (same server, same role), return its URL."""
    url = make_url(server_url)
    name = f"atelier_load_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0")
                               .format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege as error:
        raise CannotCreateDatabase(str(error)) from error
    return _libpq_url(url.set(database=name))


def drop_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    with psycopg.connect(_libpq_url(make_url(server_url)), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- the production stack

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_serve_prod(env: dict, *, workdir: Path | None = None, log=None, public_url: bool = True,
                    **variables) -> subprocess.Popen:
    """``make serve-prod`` as a person would run it (the venv taken as installed), in its own process group.

    ``public_url``: give it ``ATELIER_PUBLIC_URL``, the address it is reached at (http://HOST:PORT),
    unless ``env`` names one; production refuses to start without it."""
    if public_url and "ATELIER_PUBLIC_URL" not in env:
        host = variables.get("HOST", "127.0.0.1")
        env = {**env, "ATELIER_PUBLIC_URL": f"http://{host}:{variables.get('PORT', 5000)}"}
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "serve-prod"]
    command += [f"{name}={value}" for name, value in variables.items()]
    return subprocess.Popen(command, cwd=workdir or ROOT, env=env, stdout=log or subprocess.PIPE,
                            stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True,
                            start_new_session=True)


@dataclass
class Stack:
    """The running ``make serve-prod`` (make, the webhooks' loop, gunicorn and its workers)."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make serve-prod s'est arrêté (code {self.process.returncode}) :\n"
                                   + self.log()[-4000:])
            try:
                connection = HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("make serve-prod ne répond pas :\n" + self.log()[-4000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                # Our own process group, started above. SIGTERM: gunicorn's graceful stop, and the
                # webhooks' loop stops on it (a background job of the recipe's shell ignores SIGINT).
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


# --------------------------------------------------------------------------- timing

@dataclass
class Sample:
    route: str
    status: int
    seconds: float


class Recorder:
    """Every timed request, by route (the URL rule, not the concrete URL)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.samples: list[Sample] = []

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def by_route(self) -> dict[str, list[Sample]]:
        routes = defaultdict(list)
        for sample in self.samples:
            routes[sample.route].append(sample)
        return dict(sorted(routes.items()))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value below which ``fraction`` of the values fall)."""
    ordered = sorted(values)
    return ordered[max(0, ceil(fraction * len(ordered)) - 1)]


def report_table(recorder: Recorder, elapsed: float) -> str:
    """A Markdown table: per route, requests, throughput, median, p95 and max latency, 5xx count."""
    lines = ["| route | requêtes | req/s | médiane (ms) | p95 (ms) | max (ms) | 5xx |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    every = []
    for route, samples in recorder.by_route().items():
        times = [s.seconds * 1000 for s in samples]
        every += times
        errors = sum(s.status >= 500 for s in samples)
        lines.append(f"| `{route}` | {len(samples)} | {len(samples) / elapsed:.1f} | "
                     f"{percentile(times, 0.5):.0f} | {percentile(times, 0.95):.0f} | {max(times):.0f} | "
                     f"{errors} |")
    errors = sum(s.status >= 500 for s in recorder.samples)
    lines.append(f"| **toutes** | **{len(every)}** | **{len(every) / elapsed:.1f}** | "
                 f"**{percentile(every, 0.5):.0f}** | **{percentile(every, 0.95):.0f}** | "
                 f"**{max(every):.0f}** | **{errors}** |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- pages

@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.flashes: list[str] = []
        self._form: Form | None = None
        self._flash_depth = 0
        self._flash_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            action = (attributes.get("action") or "").split("#")[0]  # the fragment stays in the browser
            self._form = Form(action, (attributes.get("method") or "get").lower())
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and attributes.get("name"):
            if attributes.get("type") not in ("checkbox", "radio") or "checked" in attributes:
                self._form.fields[attributes["name"]] = attributes.get("value") or ""
        if tag == "div" and "flash" in (attributes.get("class") or "").split():
            self._flash_depth = 1
            self._flash_text = []
        elif self._flash_depth and tag == "div":
            self._flash_depth += 1

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "div" and self._flash_depth:
            self._flash_depth -= 1
            if not self._flash_depth:
                self.flashes.append(" ".join("".join(self._flash_text).split()))

    def handle_data(self, data):
        if self._flash_depth:
            self._flash_text.append(data)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    path: str = ""

    def parsed(self) -> _PageParser:
        parser = _PageParser()
        parser.feed(self.body)
        return parser

    def form(self, action_ending: str) -> Form:
        forms = self.parsed().forms
        for form in forms:
            form.action = form.action or self.path  # no action: the form posts to its own page
        matches = [f for f in forms if f.action.split("?")[0].endswith(action_ending)]
        if not matches:
            raise AssertionError(f"aucun formulaire vers …{action_ending} (statut {self.status})")
        return matches[0]

    def flashes(self) -> list[str]:
        return self.parsed().flashes

    def json(self):
        return json.loads(self.body)


class Client:
    """One person's browser (a cookie jar holding the session) or one API token; every request timed."""

    def __init__(self, base: str, recorder: Recorder | None = None, token: str | None = None):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}
        self.recorder = recorder
        self.token = token

    def _send(self, method, path, body, headers) -> Response:
        # One connection per request (as a browser behind a proxy would often do): no kept-alive
        # connection closed by the server under our feet, and a request is never sent twice.
        connection = HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={**headers, "Connection": "close"})
            raw = connection.getresponse()
            payload = raw.read()
        finally:
            connection.close()
        for header, value in raw.getheaders():
            if header.lower() == "set-cookie":
                self._keep_cookie(value)
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()},
                        payload.decode("utf-8", errors="replace"))

    def _keep_cookie(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        expired = any(a.strip().lower().startswith(("max-age=0", "expires=thu, 01 jan 1970")) for a in attributes)
        if expired or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def request(self, method: str, path: str, *, route: str | None = None, form: dict | None = None,
                json_body=None) -> Response:
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "fr"}
        body = None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        response = self._send(method, path, body, headers)
        response.path = path
        if self.recorder is not None and route:
            self.recorder.add(Sample(f"{method} {route}", response.status, time.perf_counter() - started))
        return response

    def get(self, path: str, route: str | None = None) -> Response:
        return self.request("GET", path, route=route)

    def post(self, path: str, data: dict, route: str | None = None) -> Response:
        return self.request("POST", path, route=route, form=data)

    def submit(self, form: Form, route: str | None = None, **values) -> Response:
        """Post ``form`` as read from the page (hidden fields, CSRF token), with ``values`` filled in."""
        return self.post(form.action, {**form.fields, **{k: str(v) for k, v in values.items()}}, route)

    def login(self, email: str, password: str) -> None:
        page = self.get("/connexion")
        answer = self.submit(page.form("/connexion"), email=email, password=password)
        assert answer.status in (302, 303), f"connexion refusée pour {email} (statut {answer.status})"
