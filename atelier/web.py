"""What every blueprint needs: role checks, running an operation once and committing, safe redirects."""
from functools import wraps
from typing import Callable, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, flash, g, request, session
from flask_login import current_user, login_required
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .common import ActionRefused, ModifiedMeanwhile
from .extensions import db

T = TypeVar("T")


def role_required(*roles: str):
    """Logged in (else the login page) and of one of ``roles`` (else 404: nothing is revealed)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def secretary_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not (current_user.is_agent and current_user.is_secretary):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def perform(action: Callable[[], T], form=None, success: str | None = None) -> tuple[bool, T | None]:
    """Run ``action`` (which calls operations), commit once, and tell the person how it went.

    A refusal is rolled back whole and shown in French: beside its field when ``form`` has it,
    else as a flashed error. A concurrent change (optimistic locking) becomes "modifié entre-temps".
    """
    try:
        result = action()
        db.session.commit()
    except ActionRefused as refused:
        db.session.rollback()
        _show_refusal(refused, form)
        return False, None
    except StaleDataError:
        db.session.rollback()
        flash(ModifiedMeanwhile().message, "error")
        return False, None
    except DataError:
        db.session.rollback()
        flash("Certaines données saisies ne peuvent pas être enregistrées (caractères interdits ou "
              "valeur hors limites). Corrigez-les et recommencez.", "error")
        return False, None
    except IntegrityError:
        db.session.rollback()
        flash("Cette modification entre en conflit avec des données enregistrées entre-temps "
              "(doublon ou donnée modifiée). Rechargez la page et vérifiez.", "error")
        return False, None
    if success:
        flash(success, "success")
    return True, result


def form_status() -> int:
    """The status of a page with a form: 422 when it comes back after a post (its errors shown)."""
    return 422 if request.method == "POST" else 200


def _show_refusal(refused: ActionRefused, form) -> None:
    if form is not None and refused.field and refused.field in form:
        field = form[refused.field]
        field.errors = [*field.errors, refused.message]
    else:
        flash(refused.message, "error")


def safe_next_url(default: str) -> str:
    """The ``next`` parameter if it stays on this site (no open redirect), else ``default``."""
    target = request.values.get("next", "")
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return default  # urlsplit drops tabs and line breaks, but a Location header refuses them
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc \
            and "\\" not in target:
        return target
    return default


MAX_PAGE = 100_000  # beyond it the OFFSET no longer fits the database's integer


def page_number() -> int:
    """The ``page`` asked for, 1 for anything that is not a page number."""
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        return 1
    return min(max(1, page), MAX_PAGE)


# --------------------------------------------------------------------------- caching

PRIVATE_CACHE_CONTROL = "private, no-store"


def init_private_responses(app: Flask) -> None:
    """What is sent to a logged-in person or to an API token is theirs alone: no browser or proxy
    keeps a copy (``Cache-Control: private, no-store``) — pages, JSON, exports, downloaded files,
    error pages alike. A view that already forbids storing (``no-store``, e.g. a page showing a
    secret once) keeps its own header. The site's public static files stay cacheable."""

    @app.after_request
    def keep_private_responses_out_of_caches(response):
        if request.endpoint != "static" and _speaks_to_someone():
            if "no-store" not in (response.headers.get("Cache-Control") or ""):
                response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
        return response


def _speaks_to_someone() -> bool:
    if "Authorization" in request.headers:  # an API token, valid or not: its answer is for it alone
        return True
    user = g.get("_login_user")  # loaded by Flask-Login or by the API's token check
    if user is not None and user.is_authenticated:
        return True
    return "_user_id" in session  # logged in, even if this view never looked at who
