"""Atelier des projets — the single window for business aid in Bourgogne-Franche-Comté."""
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, render_template
from werkzeug.routing import IntegerConverter

from .config import DefaultConfig
from .extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the application. ``config`` (used by the tests) overrides everything else."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("ATELIER")
    if config:
        app.config.update(config)
    _finish_config(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from .inputs import init_inputs

    init_inputs(app)  # first of the hooks: every string that enters is checked before anything reads it

    from .security import init_security

    init_security(app)
    from .web import init_private_responses

    init_private_responses(app)

    from . import models  # noqa: F401  (every model registered before use)
    from .formatting import register_filters

    register_filters(app)
    _register_blueprints(app)
    _register_error_pages(app)

    from .cli import register_commands

    register_commands(app)
    from .api.commands import register_api_commands

    register_api_commands(app)

    from .webhooks.commands import register_webhook_commands
    from .webhooks.outbox import register_outbox

    register_webhook_commands(app)
    register_outbox()

    from .notifications.commands import register_notification_commands
    from .notifications.outbox import register_notifications

    register_notification_commands(app)
    register_notifications()
    return app


def _finish_config(app: Flask) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        url = "sqlite:///" + os.path.join(app.instance_path, "atelier.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            raise RuntimeError(
                "ATELIER_SECRET_KEY est obligatoire en production (aucune clé secrète configurée)."
            )
        app.config["SECRET_KEY"] = _development_secret(app.instance_path)
    if app.config["ENV_NAME"] == "production":
        _trust_only_the_public_host(app)


def _trust_only_the_public_host(app: Flask) -> None:
    """In production the links of the emails need the site's own address (``PUBLIC_URL``), and a
    request for any other host is refused (400, Flask's ``TRUSTED_HOSTS``): a forged ``Host`` header
    reaches nothing."""
    host = urlsplit(app.config.get("PUBLIC_URL") or "").hostname
    if not host:
        raise RuntimeError(
            "ATELIER_PUBLIC_URL est obligatoire en production : l'adresse du site telle qu'on l'ouvre, par "
            "exemple https://atelier.example.fr (les liens des courriels en dépendent)."
        )
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = [host]


def normalise_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs use psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _development_secret(instance_path: str) -> str:
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in URLs: ids live in 32-bit INTEGER columns, so a larger number is not found
    (404) instead of overflowing the database driver (500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIdConverter
    from .admin.views import bp as admin_bp
    from .api.account import bp as api_tokens_bp
    from .api.views import bp as api_bp
    from .auth.views import bp as auth_bp
    from .cases.actions import bp as case_actions_bp
    from .cases.views import bp as cases_bp
    from .committees.views import bp as committees_bp
    from .dashboards.views import bp as dashboards_bp
    from .companies.views import bp as companies_bp
    from .inbox.views import bp as inbox_bp
    from .main.views import bp as main_bp
    from .notifications.views import bp as notifications_bp
    from .schemes.views import bp as schemes_bp
    from .search.views import bp as search_bp
    from .webhooks.views import bp as webhooks_bp
    from .questionnaires.views import bp as questionnaires_bp
    from .plans.views import bp as plans_bp

    for blueprint in (main_bp, auth_bp, companies_bp, schemes_bp, cases_bp, case_actions_bp, inbox_bp,
                      committees_bp, admin_bp, webhooks_bp, api_bp, api_tokens_bp,
                      dashboards_bp, notifications_bp, search_bp, questionnaires_bp, plans_bp):
        app.register_blueprint(blueprint)


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import SecurityError

    @app.errorhandler(404)
    def not_found(error):
        from flask import request

        if request.path.startswith("/api/"):  # the API answers problems, even where no route matched
            from .api.problems import not_found_response

            return not_found_response()
        return render_template("errors/404.html"), 404

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        # A request for another host than the site's (TRUSTED_HOSTS, production): no page is built
        # for it, since its links would lead to that host.
        return ("Requête refusée : cette adresse n'est pas celle du site.\n", 400,
                {"Content-Type": "text/plain; charset=utf-8"})

    @app.errorhandler(413)
    def too_large(error):
        limit_mb = app.config["UPLOAD_MAX_BYTES"] // (1024 * 1024)
        return render_template("errors/413.html", limit_mb=limit_mb), 413

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return render_template("errors/500.html"), 500
