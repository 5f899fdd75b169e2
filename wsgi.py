"""Entry point for gunicorn: ``gunicorn wsgi:app``.

Behind a reverse proxy (nginx, a load balancer), set ATELIER_PROXY_HOPS to the number of proxies in
front of the app: their X-Forwarded-For / -Proto / -Host headers are then trusted, so that the login
throttling counts clients rather than the proxy and links use the public scheme. Without it, those
headers are ignored (a client could forge them).
"""
import os

from werkzeug.middleware.proxy_fix import ProxyFix

from atelier import create_app

app = create_app()
_hops = int(os.environ.get("ATELIER_PROXY_HOPS", "0") or 0)
if _hops > 0:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=_hops, x_proto=_hops, x_host=_hops)
