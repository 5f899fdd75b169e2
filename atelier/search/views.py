"""The agents' search page (« Rechercher un dossier »), linked from the inbox by its search box."""
from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from ..extensions import db
from ..forms import optional_int
from ..inbox.queries import scheme_choices
from ..web import page_number, role_required
from ..workflow import CASE_STATES
from .queries import clean, search_cases

bp = Blueprint("search", __name__, url_prefix="/organisme")

STATES = {state: label for state, label in CASE_STATES.items() if state != "draft"}


@bp.get("/recherche")
@role_required("agent")
def search():
    text = clean(request.args.get("q"))
    state = request.args.get("state") or None
    if state not in STATES:
        state = None
    schemes = scheme_choices()
    scheme_id = optional_int(request.args.get("scheme"))
    if scheme_id not in {scheme.id for scheme in schemes}:
        scheme_id = None
    page = None
    if text or state or scheme_id:
        query = search_cases(current_user, text, state=state, scheme_id=scheme_id)
        page = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    filters = {key: value for key, value in (("q", text), ("state", state), ("scheme", scheme_id)) if value}
    return render_template("search/results.html", text=text, state=state, scheme_id=scheme_id, states=STATES,
                           schemes=schemes, page=page, filters=filters)
