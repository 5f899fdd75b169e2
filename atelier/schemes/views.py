"""The catalogue of aid schemes, open to everyone (no login needed)."""
from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager, joinedload

from ..agencies.models import Agency
from ..common import ActionRefused
from ..extensions import db
from ..formatting import paris_today
from ..web import page_number
from .models import DOCUMENT_KINDS, INSTRUMENTS, Scheme
from .operations import parse_code

bp = Blueprint("schemes", __name__, url_prefix="/dispositifs")


@bp.get("/")
def catalogue():
    agencies = db.session.scalars(
        select(Agency).where(exists().where(Scheme.agency_id == Agency.id)).order_by(Agency.name)).all()
    # Unknown filter values are ignored rather than refused: a stale bookmark still shows the catalogue.
    agency_slug = request.args.get("agency", "")
    if agency_slug not in {agency.slug for agency in agencies}:
        agency_slug = ""
    instrument = request.args.get("instrument", "")
    if instrument not in INSTRUMENTS:
        instrument = ""
    query = (select(Scheme)
             .join(Agency, Scheme.agency_id == Agency.id)
             .options(contains_eager(Scheme.agency))
             .order_by(Agency.name, Scheme.name, Scheme.id))
    if agency_slug:
        query = query.where(Agency.slug == agency_slug)
    if instrument:
        query = query.where(Scheme.instrument == instrument)
    page = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    filters = {key: value for key, value in (("agency", agency_slug), ("instrument", instrument)) if value}
    return render_template("schemes/catalogue.html", page=page, agencies=agencies, instruments=INSTRUMENTS,
                           filters=filters, today=paris_today())


@bp.get("/<code>")
def show_scheme(code: str):
    try:
        parse_code(code)
    except ActionRefused:  # not a code at all (PostgreSQL refuses a NUL byte in a query)
        abort(404)
    scheme = db.session.scalars(
        select(Scheme).where(Scheme.code == code).options(joinedload(Scheme.committee))).first()
    if scheme is None:
        abort(404)
    return render_template("schemes/show.html", scheme=scheme, today=paris_today(),
                           document_kinds=DOCUMENT_KINDS)
