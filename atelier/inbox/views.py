"""The agency inbox (corbeille): what waits for the agent's agency, in tabs, filtered and paginated;
and the agency's downloads: its portfolio (Excel or CSV) and its grants as open data (SCDL).

The downloads always concern the agent's own agency, taken from ``current_user``: no URL names an
agency, so there is no other agency's file to ask for.
"""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..common import ActionRefused
from ..exports.downloads import send_export
from ..exports.opendata import CSV_MIMETYPE as OPENDATA_MIMETYPE
from ..exports.opendata import MIN_YEAR, opendata_file, opendata_filename, parse_year
from ..exports.portfolio import (CSV_MIMETYPE, FORMATS, XLSX_MIMETYPE, parse_filters, portfolio_file,
                                 portfolio_filename, scheme_and_committee_choices)
from ..extensions import db
from ..formatting import paris_today
from ..forms import optional_int
from ..schemes.envelopes import envelope_positions
from ..web import page_number, role_required
from ..workflow import LINE_STATES
from .queries import DEFAULT_SECTION, SECTIONS, section_counts, section_query

bp = Blueprint("inbox", __name__, url_prefix="/organisme")

FORMAT_LABELS = {"xlsx": "Excel (.xlsx)", "csv": "CSV (séparateur point-virgule)"}


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
    today = paris_today()
    schemes, committees = scheme_and_committee_choices()
    own_schemes = [scheme for scheme in schemes if scheme.agency_id == current_user.agency_id]
    envelopes = envelope_positions(own_schemes, today.year)
    return render_template("inbox/inbox.html", section=section, sections=SECTIONS, page=page,
                           counts=section_counts(current_user), schemes=schemes,
                           state=state, scheme_id=scheme_id, filters=filters, today=today,
                           committees=committees, line_states=LINE_STATES,
                           export_formats=FORMAT_LABELS, envelope_schemes=own_schemes, envelopes=envelopes,
                           opendata_years=list(range(today.year, max(MIN_YEAR, today.year - 6), -1)))


@bp.get("/exports/portefeuille")
@role_required("agent")
def export_lines():
    """The agency's portfolio (every line it holds or held), filtered, as .xlsx or .csv."""
    fmt = request.args.get("format") or "xlsx"
    try:
        if fmt not in FORMATS:
            raise ActionRefused("Choisissez le format du fichier : Excel (.xlsx) ou CSV.", "format")
        filters = parse_filters(state=request.args.get("state"), scheme=request.args.get("scheme"),
                                committee=request.args.get("committee"),
                                submitted_from=request.args.get("from"), submitted_to=request.args.get("to"))
    except ActionRefused as refused:
        flash(f"Export du portefeuille impossible : {refused.message}", "error")
        return redirect(url_for("inbox.inbox"))
    agency = current_user.agency
    handle = portfolio_file(agency, filters, fmt)
    return send_export(handle, content_type=XLSX_MIMETYPE if fmt == "xlsx" else CSV_MIMETYPE,
                       filename=portfolio_filename(agency, fmt, paris_today()))


@bp.get("/exports/donnees-ouvertes")
@role_required("agent")
def export_opendata():
    """The grants the agency awarded in a year, in the national SCDL « Subventions » 2.1.1 format."""
    agency = current_user.agency
    try:
        year = parse_year(request.args.get("year"))
        handle = opendata_file(agency, year)
    except ActionRefused as refused:
        flash(f"Export des données ouvertes impossible : {refused.message}", "error")
        return redirect(url_for("inbox.inbox"))
    return send_export(handle, content_type=OPENDATA_MIMETYPE, filename=opendata_filename(agency, year))
