"""The agency inbox (corbeille): what waits for the agent's agency, in tabs, filtered and paginated."""
from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from ..extensions import db
from ..formatting import paris_today
from ..forms import optional_int
from ..web import page_number, role_required
from .queries import DEFAULT_SECTION, SECTIONS, scheme_choices, section_counts, section_query

bp = Blueprint("inbox", __name__, url_prefix="/organisme")


@bp.get("/")
@role_required("agent")
def inbox():
    section = SECTIONS.get(request.args.get("section", ""), SECTIONS[DEFAULT_SECTION])
    state = request.args.get("state") or None
    if state not in section.states:
        state = None
    scheme_id = optional_int(request.args.get("scheme"))
    query = section_query(current_user, section, state=state, scheme_id=scheme_id)
    page = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    filters = {"section": section.key}
    if state:
        filters["state"] = state
    if scheme_id:
        filters["scheme"] = scheme_id
    return render_template("inbox/inbox.html", section=section, sections=SECTIONS, page=page,
                           counts=section_counts(current_user), schemes=scheme_choices(),
                           state=state, scheme_id=scheme_id, filters=filters, today=paris_today())
