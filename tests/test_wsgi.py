"""The WSGI entry point trusts proxy headers only when told how many proxies stand in front."""
import importlib
import sys

from werkzeug.middleware.proxy_fix import ProxyFix


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
