"""The WSGI entry point trusts proxy headers only when told how many proxies stand in front; under
gunicorn, responses do not name the server software."""
import http.client
import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from werkzeug.middleware.proxy_fix import ProxyFix

from atelier import PROJECT_ROOT


def _load_wsgi(monkeypatch, hops):
    if hops is None:
        monkeypatch.delenv("ATELIER_PROXY_HOPS", raising=False)
    else:
        monkeypatch.setenv("ATELIER_PROXY_HOPS", hops)
    sys.modules.pop("wsgi", None)
    return importlib.import_module("wsgi")


def test_without_a_proxy_forwarded_headers_are_ignored(monkeypatch):
    module = _load_wsgi(monkeypatch, None)
    assert not isinstance(module.app.wsgi_app, ProxyFix)
    client = module.app.test_client()
    response = client.get("/connexion", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200


def test_behind_one_proxy_the_client_address_is_the_forwarded_one(monkeypatch):
    module = _load_wsgi(monkeypatch, "1")
    assert isinstance(module.app.wsgi_app, ProxyFix) and module.app.wsgi_app.x_for == 1
    seen = {}

    @module.app.get("/_adresse-vue")
    def seen_address():
        from flask import request
        seen["address"] = request.remote_addr
        return ""

    module.app.test_client().get("/_adresse-vue", headers={"X-Forwarded-For": "203.0.113.7"},
                                 environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert seen["address"] == "203.0.113.7"
    sys.modules.pop("wsgi", None)


# --------------------------------------------------------------------------- under gunicorn

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, deadline: float) -> http.client.HTTPResponse:
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            connection.close()


def test_the_makefile_starts_gunicorn_with_the_projects_settings():
    lines = [line for line in (PROJECT_ROOT / "Makefile").read_text().splitlines() if "/gunicorn " in line]
    assert len(lines) >= 2  # make serve and make serve-prod
    assert all("--config gunicorn.conf.py" in line for line in lines)


def test_gunicorn_does_not_say_its_name_or_version(tmp_path):
    """A real gunicorn, started as make serve-prod starts it, answers without ``Server: gunicorn``."""
    port = _free_port()
    env = {**os.environ, "ATELIER_DATABASE_URL": f"sqlite:///{tmp_path / 'atelier.sqlite3'}",
           "ATELIER_SECRET_KEY": "clé-de-test-gunicorn", "ATELIER_UPLOAD_FOLDER": str(tmp_path / "uploads")}
    env.pop("ATELIER_PROXY_HOPS", None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        for path in ("/static/atelier.css", "/connexion", "/nulle-part"):
            response = _get(port, path, deadline)
            assert response.status in (200, 404)
            headers = response.getheaders()
            assert response.getheader("Server") == "atelier", headers
            assert not any("gunicorn" in value.lower() for _, value in headers), headers
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()
