"""Headers every response carries, and the session cookie's ``Secure`` flag.

The pages need no script and no inline style (everything is in ``static/atelier.css``), so the
Content-Security-Policy allows only this site's own files: an injected ``<script>`` or ``style=``
does nothing. A view may send a stricter policy of its own (the document download does): the
headers below are only set when the view has not set them.
"""
from flask import Flask, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'self'",
    "object-src 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

HSTS = "max-age=31536000"  # one year; sent only on a request that came over HTTPS


def init_security(app: Flask) -> None:
    # SESSION_COOKIE_SECURE None (the default) means: Secure when the site is served over HTTPS.
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config.get("PREFERRED_URL_SCHEME") == "https"

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
