"""Security headers on every response, no inline script or style for the CSP to break, ``next``
redirects that stay on this site, and nothing personal left in a browser's or a proxy's cache."""
import io
import re
from pathlib import Path

import pytest
from flask import Flask

from atelier import PROJECT_ROOT, create_app
from atelier.api.tokens import create_token
from atelier.cases import documents
from atelier.extensions import db
from atelier.security import CONTENT_SECURITY_POLICY
from atelier.web import safe_next_url
from conftest import PASSWORD, login

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
CSP_PARTS = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
             "frame-ancestors 'none'", "form-action 'self'", "base-uri 'self'", "object-src 'none'"]


def assert_secure_headers(response, csp=CONTENT_SECURITY_POLICY):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.path, name)
    assert response.headers.get("Content-Security-Policy") == csp
    assert response.headers.get("Content-Type", "").count("charset=") <= 1  # said once, if at all


def test_the_policy_allows_only_this_sites_files():
    parts = [part.strip() for part in CONTENT_SECURITY_POLICY.split(";")]
    assert parts == CSP_PARTS
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY


def _parameterless_get_routes(app: Flask) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api"):
            routes.append(rule.rule)
    return sorted(routes)


def test_every_page_anonymous_or_logged_in_carries_the_headers(app, client, world):
    routes = _parameterless_get_routes(app)
    assert "/connexion" in routes and "/" in routes
    for path in routes:
        assert_secure_headers(client.get(path))
    for person in (world.applicant, world.region_agent, world.admin):
        login(client, person)
        for path in routes:
            assert_secure_headers(client.get(path))


def test_error_pages_redirects_posts_and_static_files_carry_them_too(client, world):
    assert_secure_headers(client.get("/nulle-part"))  # 404
    assert_secure_headers(client.get("/entreprises/"))  # redirect to the login page
    assert_secure_headers(client.post("/connexion", data={"email": "x@exemple.fr", "password": "non"}))
    assert_secure_headers(client.get("/static/atelier.css"))


def fresh_app(app, **overrides) -> Flask:
    """Another app on the test database, for what is decided when the app is built."""
    return create_app({"TESTING": True, "SECRET_KEY": "clé-de-test", "WTF_CSRF_ENABLED": False,
                       "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                       "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], **overrides})


def test_a_stricter_policy_set_by_a_view_is_kept(app):
    other = fresh_app(app)

    @other.get("/__strict")
    def strict():
        return "", 200, {"Content-Security-Policy": "default-src 'none'; sandbox"}

    response = other.test_client().get("/__strict")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    response = client.get("/", base_url="https://atelier.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --------------------------------------------------------------------------- templates

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_no_template_has_inline_script_style_or_handler(template: Path):
    source = template.read_text(encoding="utf-8")
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)  # Jinja comments
    assert not re.search(r"<script\b(?![^>]*\bsrc=)", source, re.I), "inline <script>"
    assert not re.search(r"<style\b", source, re.I), "<style> element"
    assert not re.search(r"\sstyle\s*=", source, re.I), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", source, re.I), "on…= event handler"
    assert "javascript:" not in source.lower()


# --------------------------------------------------------------------------- next

@pytest.mark.parametrize("target, expected", [
    ("/dossiers/", "/dossiers/"),
    ("/dossiers/?page=2#liste", "/dossiers/?page=2#liste"),
    ("//evil.example", "/"),
    ("//evil.example/path", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("https://evil.example", "/"),
    ("http://atelier.test/dossiers/", "/"),  # absolute, even to ourselves: not needed, not followed
    ("javascript:alert(1)", "/"),
    ("JavaScript:alert(1)", "/"),
    ("data:text/html,<script>alert(1)</script>", "/"),
    ("/\t/evil.example", "/"),
    ("/\n/evil.example", "/"),
    ("evil.example", "/"),
    ("", "/"),
])
def test_safe_next_url(app, target, expected):
    with app.test_request_context("/connexion", query_string={"next": target}):
        assert safe_next_url("/") == expected


def test_login_follows_only_a_local_next(client, create_user):
    from atelier.extensions import db, limiter

    limiter.reset()
    create_user("applicant", email="nina@exemple.fr")
    db.session.commit()
    response = client.post("/connexion", query_string={"next": "//evil.example"},
                           data={"email": "nina@exemple.fr", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


# --------------------------------------------------------------------------- session cookie

def _session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


@pytest.mark.parametrize("overrides, secure", [
    ({}, False),
    ({"PREFERRED_URL_SCHEME": "https"}, True),
    ({"SESSION_COOKIE_SECURE": True}, True),
    ({"PREFERRED_URL_SCHEME": "https", "SESSION_COOKIE_SECURE": False}, False),
])
def test_session_cookie_flags(app, overrides, secure):
    other = fresh_app(app, **overrides)
    assert other.config["SESSION_COOKIE_SECURE"] is secure
    with other.app_context():
        client = other.test_client()
        client.post("/connexion", data={"email": "x@exemple.fr", "password": ""})  # flashes nothing
        response = client.get("/entreprises/")  # stores the login message in the session
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie.split("; ")) is secure


# --------------------------------------------------------------------------- caching

PRIVATE = "private, no-store"


def test_every_page_to_a_logged_in_person_is_kept_out_of_caches(app, client, world):
    routes = [path for path in _parameterless_get_routes(app) if not path.startswith("/static")]
    for person in (world.applicant, world.region_agent, world.region_secretary, world.admin):
        login(client, person)
        for path in routes:
            response = client.get(path)
            assert response.headers.get("Cache-Control") == PRIVATE, (person.role, path, response.status_code)
        assert client.get("/nulle-part").headers["Cache-Control"] == PRIVATE  # error pages too


def test_downloads_of_a_logged_in_person_are_kept_out_of_caches(client, world, create_case):
    draft = create_case("draft")
    document = documents.add_document(world.applicant, draft, "other",
                                      _Upload(b"%PDF-1.4\n%%EOF\n", "devis.pdf"))
    db.session.commit()
    login(client, world.applicant)
    response = client.get(f"/dossiers/{draft.reference}/pieces/{document.id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == PRIVATE
    login(client, world.region_agent)
    for fmt in ("xlsx", "csv"):
        response = client.get("/organisme/exports/portefeuille", query_string={"format": fmt})
        assert response.status_code == 200 and response.headers["Cache-Control"] == PRIVATE


def test_public_static_files_stay_cacheable_even_for_a_logged_in_person(client, world):
    for logged_in in (False, True):
        if logged_in:
            login(client, world.applicant)
        response = client.get("/static/atelier.css")
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
        assert "private" not in response.headers.get("Cache-Control", "")


def test_anonymous_public_pages_are_not_marked_private(client):
    for path in ("/", "/connexion", "/api/v1/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200
        assert "private" not in response.headers.get("Cache-Control", ""), path


def test_every_answer_to_an_api_token_is_kept_out_of_caches(client, world):
    _, token = create_token(world.region_agent, name="Logiciel", scope="read", days=30)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/me", "/api/v1/cases", "/api/v1/agencies", "/api/v1/lines/99999999"):
        response = client.get(path, headers=headers)
        assert response.headers.get("Cache-Control") == PRIVATE, (path, response.status_code)
        assert "Set-Cookie" not in response.headers
    response = client.get("/api/v1/cases", headers={"Authorization": "Bearer pas-un-jeton"})
    assert response.status_code == 401 and response.headers["Cache-Control"] == PRIVATE


class _Upload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename
