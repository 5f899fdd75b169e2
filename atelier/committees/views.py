"""Committee pages (agents only): the meetings of my agency, planning one, the agenda and its pack."""
from tempfile import SpooledTemporaryFile

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from ..exports.pack import XLSX_MIMETYPE, pack_filename, write_meeting_pack
from ..extensions import db
from ..formatting import paris_today
from ..forms import options
from ..schemes.envelopes import envelope_positions
from ..schemes.models import INSTRUMENTS
from ..web import page_number, perform, role_required, secretary_required
from .forms import MeetingForm
from .operations import (agency_committees, agency_meetings, agenda_counts, agenda_items, create_meeting,
                         meeting_of_agency)

bp = Blueprint("committees", __name__, url_prefix="/comites")

PACK_SPOOL_BYTES = 4 * 1024 * 1024  # a larger pack goes to a temporary file on disk


@bp.get("/")
@role_required("agent")
def meetings():
    today = paris_today()
    committees = agency_committees(current_user.agency_id)
    page = db.paginate(agency_meetings(current_user.agency_id, today), page=page_number(),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    counts = agenda_counts([meeting.id for meeting in page.items])
    upcoming = [meeting for meeting in page.items if meeting.is_planned(today)]
    past = [meeting for meeting in page.items if not meeting.is_planned(today)]
    return render_template("committees/meetings.html", committees=committees, page=page, counts=counts,
                           upcoming=upcoming, past=past)


@bp.route("/seances/nouvelle", methods=["GET", "POST"])
@secretary_required
def new_meeting():
    committees = {committee.id: committee for committee in agency_committees(current_user.agency_id)}
    form = MeetingForm()
    form.committee.choices = options(((committee.id, committee.name) for committee in committees.values()),
                                     empty="— Choisissez —")
    if request.method == "GET":
        wanted = request.args.get("comite", type=int)
        if wanted is not None:
            if wanted not in committees:
                abort(404)
            form.committee.data = wanted
    if form.validate_on_submit():
        committee = committees.get(form.committee.data)
        if committee is None:  # a committee of another agency, or none at all: nothing is revealed
            abort(404)
        ok, meeting = perform(lambda: create_meeting(current_user, committee, form.meets_on.data,
                                                     form.place.data), form,
                              success="La séance est programmée.")
        if ok:
            return redirect(url_for("committees.show_meeting", meeting_id=meeting.id))
    status = 422 if form.errors else 200
    return render_template("committees/new_meeting.html", form=form, has_committees=bool(committees)), status


@bp.get("/seances/<int:meeting_id>")
@role_required("agent")
def show_meeting(meeting_id: int):
    meeting = meeting_of_agency(meeting_id, current_user.agency_id)
    if meeting is None:
        abort(404)
    items = agenda_items(meeting)
    rows = [(item, item.figures) for item in items]
    totals = {key: sum((figures[key] for _, figures in rows if figures.get(key) is not None), start=0)
              for key in ("requested", "proposed")}
    totals["granted"] = sum((item.granted_amount for item in items if item.granted_amount is not None),
                            start=0)
    schemes = sorted({item.line.scheme.id: item.line.scheme for item in items}.values(),
                     key=lambda scheme: scheme.name)  # loaded with the agenda
    envelopes = envelope_positions(schemes, meeting.meets_on.year)
    return render_template("committees/show_meeting.html", meeting=meeting, rows=rows, totals=totals,
                           can_decide=current_user.is_secretary, today=paris_today(),
                           instruments=INSTRUMENTS, envelope_schemes=schemes, envelopes=envelopes,
                           envelope_year=meeting.meets_on.year)


@bp.get("/seances/<int:meeting_id>/ordre-du-jour.xlsx")
@role_required("agent")
def agenda_workbook(meeting_id: int):
    """The meeting pack (Synthèse, Dossiers, Avis), for the agents of the committee's agency."""
    meeting = meeting_of_agency(meeting_id, current_user.agency_id)
    if meeting is None:
        abort(404)
    stream = SpooledTemporaryFile(max_size=PACK_SPOOL_BYTES)
    try:
        write_meeting_pack(meeting, stream)
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    # send_file closes the stream once the response is sent
    return send_file(stream, mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=pack_filename(meeting), max_age=0)
