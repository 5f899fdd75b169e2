"""The partner API, ``/api/v1``: JSON resources and the events of the dossiers, with a bearer token.

The token's user is the user of the request (Flask-Login's ``current_user``, no session cookie),
so every lookup goes through the same scopes as the pages (``cases/access.py``: 404 outside them)
and every change through the same handlers and operations (``dispatch.py``).
"""
from datetime import datetime, timedelta, timezone
from tempfile import SpooledTemporaryFile

from flask import (Blueprint, Response, abort, current_app, g, jsonify, render_template, request,
                   send_file, url_for)
from flask_login import current_user
from limits.errors import StorageError
from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.exceptions import HTTPException

from ..agencies.models import Agency
from ..cases import documents, operations as ops
from ..cases.access import case_or_404, document_or_404, line_or_404, visible_cases
from ..cases.actions import CASE_HANDLERS, LINE_HANDLERS
from ..cases.event_forms import CASE_FORMS, LINE_FORMS, AskOpinionForm, GiveOpinionForm
from ..cases.forms import EditProjectForm, MinimisForm, ProjectForm
from ..cases.models import Case, Event, FundingLine, Opinion
from ..committees.models import AgendaItem, Meeting
from ..committees.operations import agency_meetings, agenda_counts, agenda_items, meeting_of_agency
from ..exports.pack import XLSX_MIMETYPE, pack_filename, write_meeting_pack
from ..extensions import csrf, db, limiter
from ..formatting import paris_today
from ..forms import MAX_ID
from ..questionnaires.exchange import save_json_answers
from ..schemes.models import Scheme
from . import serializers as out
from .dispatch import filled_form, json_body, perform, version_of
from .problems import ApiProblem, field_error, not_found_response, problem_response
from .tokens import find_token, hash_token, record_use
from .validation import check_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # a bearer token is not sent by a browser on its own: no cross-site forgery

PUBLIC_ENDPOINTS = frozenset({"api.index", "api.openapi_document", "api.docs"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_RATE_LIMIT = "300/minute"
MAX_LIMIT = 100
PACK_SPOOL_BYTES = 4 * 1024 * 1024


# --------------------------------------------------------------------------- authentication, rate limit

def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _rate_key() -> str:
    """One budget per token (its hash: known before the database is asked); else per address."""
    token = _bearer()
    if token:
        return "api-token:" + hash_token(token)[:32]
    return "api-address:" + (request.remote_addr or "?")


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _too_many(limit) -> Response:
    return problem_response(429, f"Trop de requêtes pour ce jeton (limite : {limit.limit}). "
                                 "Attendez le délai indiqué par l'en-tête Retry-After, puis recommencez.")


limiter.shared_limit(_rate_limit, scope="api-v1", key_func=_rate_key, on_breach=_too_many,
                     exempt_when=lambda: request.endpoint in PUBLIC_ENDPOINTS)(bp)


API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _methods_of(path: str) -> list[str]:
    """The methods an address of the API really has (not those of the catch-all ``unknown``)."""
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in API_METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    return allowed


@bp.before_request
def answer_options():
    """OPTIONS says the methods the address has (``Allow``), with no token needed: 404 if none."""
    if request.method != "OPTIONS":
        return None
    allowed = _methods_of(request.path)
    if not allowed:
        return not_found_response()
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return Response(status=204, headers={"Allow": ", ".join([*allowed, "OPTIONS"])})


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer()
    if token is None:
        raise ApiProblem(401, "Aucun jeton d'accès : envoyez l'en-tête « Authorization: Bearer <jeton> » "
                              "avec un jeton créé sur la page « Mon compte ».")
    row = find_token(token)
    if row is None:
        raise ApiProblem(401, "Ce jeton d'accès est inconnu, expiré ou révoqué, ou son compte est désactivé.")
    if request.method not in READ_METHODS and row.scope != "write":
        raise ApiProblem(403, "Ce jeton est en lecture seule : créez un jeton « lecture et écriture » "
                              "pour modifier des dossiers.")
    if record_use(row):
        db.session.commit()
    g._login_user = row.user  # Flask-Login's current user for this request only: no session cookie
    g.api_token = row
    return None


bp.before_request(check_request)  # after authentication: the document judges the query and the body


@bp.teardown_request
def _forget_user(error=None):
    """The token's user was this request's only (an app context shared by requests must not keep it)."""
    g.pop("_login_user", None)
    g.pop("api_token", None)


@bp.errorhandler(StorageError)
def _rate_limit_store_down(error):
    """The store of the rate limits does not answer: the call is refused (never let through uncounted)."""
    current_app.logger.error("Rate limit store unavailable: %r", error.storage_error)
    return problem_response(503, "Le service qui compte les requêtes ne répond pas : rien n'a été fait. "
                                 "Réessayez dans quelques instants.", headers={"Retry-After": "30"})


@bp.errorhandler(ApiProblem)
def _problem(problem: ApiProblem):
    return problem_response(problem.status, problem.detail, errors=problem.errors, headers=problem.headers)


@bp.errorhandler(404)
def _not_found(error):
    return not_found_response()


@bp.errorhandler(400)
def _bad_request(error):
    return problem_response(400, "Requête invalide.")


@bp.errorhandler(413)
def _too_large(error):
    return problem_response(413, "La requête est trop volumineuse.")


@bp.errorhandler(500)
def _server_error(error):
    db.session.rollback()
    return problem_response(500, "Erreur interne : l'incident est enregistré. Réessayez plus tard.")


@bp.app_errorhandler(405)
def _method_not_allowed(error: HTTPException):
    if not request.path.startswith(bp.url_prefix + "/"):
        return error
    response = problem_response(405, f"La méthode {request.method} n'est pas possible sur cette adresse.")
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


# --------------------------------------------------------------------------- documentation

@bp.get("/")
def index():
    return jsonify({"openapi": url_for(".openapi_document"), "docs": url_for(".docs")})


@bp.get("/openapi.json")
def openapi_document():
    from .openapi import openapi_document as build

    return jsonify(build())


@bp.get("/docs")
def docs():
    from .openapi import openapi_document as build

    return render_template("api/docs.html", spec=build())


# --------------------------------------------------------------------------- me, agencies, schemes

@bp.get("/me")
def me():
    user = current_user
    return jsonify({"id": user.id, "name": user.name, "email": user.email, "role": user.role,
                    "is_secretary": user.is_secretary, "agency": out.agency(user.agency),
                    "companies": [{"id": c.id, "siret": c.siret, "name": c.name} for c in user.companies],
                    "token": out.token(g.api_token)})


@bp.get("/agencies")
def list_agencies():
    agencies = db.session.scalars(select(Agency).order_by(Agency.name))
    return jsonify({"items": [out.agency(agency) | {"code": agency.slug} for agency in agencies]})


@bp.get("/schemes")
def list_schemes():
    schemes = db.session.scalars(select(Scheme).order_by(Scheme.name, Scheme.id))
    return jsonify({"items": [out.scheme(scheme) for scheme in schemes]})


@bp.get("/schemes/<code>")
def show_scheme(code: str):
    scheme = db.session.scalars(select(Scheme).where(Scheme.code == code[:40])).first()
    if scheme is None:
        abort(404)
    return jsonify(out.scheme(scheme))


# --------------------------------------------------------------------------- cases

# A cursor is where the previous page stopped: the microseconds since 1970 (UTC) of the last
# dossier's modification, and its id. Every text of this form is a cursor (the document says it).
CURSOR_PATTERN = "^[0-9]{1,16}-[1-9][0-9]{0,9}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _encode_cursor(case: Case) -> str:
    moment = case.updated_at if case.updated_at.tzinfo else case.updated_at.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}-{case.id}"


def _after_cursor(text: str):
    """The dossiers after the cursor's one, in the list's order (last modified first)."""
    micros, case_id = (int(part) for part in text.split("-"))
    moment = _EPOCH + timedelta(microseconds=micros)
    before_id = Case.id < case_id if case_id <= MAX_ID else true()  # ids never exceed MAX_ID
    return or_(Case.updated_at < moment, and_(Case.updated_at == moment, before_id))


@bp.get("/cases")
def list_cases():
    args = request.args
    query = visible_cases(current_user).options(selectinload(Case.lines).selectinload(FundingLine.payments))
    if args.get("state") is not None:  # the query was checked against the document
        query = query.where(Case.state == args["state"])
    if args.get("scheme") is not None:
        query = query.where(exists().where(FundingLine.case_id == Case.id, FundingLine.scheme_id == Scheme.id,
                                           Scheme.code == args["scheme"][:40]))
    if args.get("agency") is not None:
        agency_ids = select(Agency.id).where(Agency.slug == args["agency"][:60]).scalar_subquery()
        query = query.where(or_(Case.lead_agency_id == agency_ids,
                                exists().where(FundingLine.case_id == Case.id,
                                               FundingLine.agency_id == agency_ids)))
    if args.get("updated_since") is not None:
        query = query.where(Case.updated_at >= datetime.fromisoformat(args["updated_since"]))
    if args.get("cursor") is not None:
        query = query.where(_after_cursor(args["cursor"]))
    limit = int(args.get("limit") or current_app.config["PAGE_SIZE"])
    cases = list(db.session.scalars(query.order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit + 1)))
    more = len(cases) > limit
    cases = cases[:limit]
    return jsonify({"items": [out.case_summary(case) for case in cases],
                    "next_cursor": _encode_cursor(cases[-1]) if more else None})


def _load_case(reference: str) -> Case:
    case = case_or_404(current_user, reference)
    db.session.execute(
        select(Case).where(Case.id == case.id).options(
            joinedload(Case.lead_agency),
            selectinload(Case.lines).selectinload(FundingLine.payments),
            selectinload(Case.lines).selectinload(FundingLine.opinions),
            selectinload(Case.lines).selectinload(FundingLine.agenda_items).joinedload(AgendaItem.meeting),
            selectinload(Case.lines).joinedload(FundingLine.scheme).joinedload(Scheme.committee),
            selectinload(Case.documents),
            selectinload(Case.declared_minimis),
        )
    ).unique().all()
    return case


def _case_json(case: Case) -> dict:
    events = db.session.scalars(select(Event).where(Event.case_id == case.id)
                                .options(joinedload(Event.actor)).order_by(Event.id))
    return out.case_detail(case, current_user, events, paris_today())


@bp.get("/cases/<reference>")
def show_case(reference: str):
    return jsonify(_case_json(_load_case(reference)))


PROJECT_FIELDS = ("title", "description", "starts_on", "ends_on", "eligible_cost")


def _project(form) -> dict:
    return {name: form[name].data for name in PROJECT_FIELDS}


@bp.post("/cases")
def create_case():
    body = json_body()
    company_id = body.get("company_id")
    company = next((c for c in current_user.companies
                    if isinstance(company_id, int) and not isinstance(company_id, bool) and c.id == company_id),
                   None)
    form = filled_form(ProjectForm, {k: v for k, v in body.items() if k != "company_id"})
    if company is None:
        raise ApiProblem(409, "Vous n'êtes pas membre de cette entreprise : vous ne pouvez pas y créer de dossier.",
                         errors=[{"field": "company_id",
                                  "detail": "Choisissez une entreprise dont vous êtes membre (son identifiant)."}])
    case = perform(lambda: ops.create_case(current_user, company, **_project(form)), {"company_id", *PROJECT_FIELDS})
    response = jsonify(_case_json(_load_case(case.reference)))
    response.status_code = 201
    response.headers["Location"] = url_for(".show_case", reference=case.reference)
    return response


@bp.patch("/cases/<reference>")
def update_case(reference: str):
    case = case_or_404(current_user, reference)
    body = json_body()
    current = {"title": case.title, "description": case.description,
               "starts_on": case.starts_on.isoformat() if case.starts_on else None,
               "ends_on": case.ends_on.isoformat() if case.ends_on else None,
               "eligible_cost": str(case.eligible_cost) if case.eligible_cost is not None else None}
    merged = {**current, **{k: v for k, v in body.items() if k in PROJECT_FIELDS}}
    form = filled_form(EditProjectForm, merged, version=version_of(body, case.version))
    perform(lambda: ops.update_project(current_user, case, expected_version=form.version.data, **_project(form)),
            PROJECT_FIELDS)
    return jsonify(_case_json(_load_case(reference)))


@bp.post("/cases/<reference>/lines")
def add_line(reference: str):
    case = case_or_404(current_user, reference)
    body = json_body()
    code = body.get("scheme")
    scheme = (db.session.scalars(select(Scheme).where(Scheme.code == code[:40])).first()
              if isinstance(code, str) else None)
    if scheme is None:
        raise ApiProblem(409, "Aucun dispositif d'aide n'a ce code.",
                         errors=[{"field": "scheme", "detail": "Indiquez le code d'un dispositif d'aide "
                                                               "(voir /api/v1/schemes)."}])
    amount = body["requested_amount"]  # a text or a whole number, as the document says
    line = perform(lambda: ops.add_line(current_user, case, scheme=scheme, requested_amount=amount),
                   {"scheme", "requested_amount"})
    response = jsonify(out.line(line, current_user, paris_today(), with_actions=True))
    response.status_code = 201
    response.headers["Location"] = url_for(".show_line", line_id=line.id)
    return response


@bp.delete("/cases/<reference>/lines/<int:line_id>")
def remove_line(reference: str, line_id: int):
    case = case_or_404(current_user, reference)
    line = line_or_404(current_user, case, line_id)
    perform(lambda: ops.remove_line(current_user, case, line))
    return Response(status=204)


@bp.post("/cases/<reference>/minimis-aids")
def declare_minimis_aid(reference: str):
    case = case_or_404(current_user, reference)
    form = filled_form(MinimisForm, json_body())
    perform(lambda: ops.declare_minimis_aid(current_user, case, granted_on=form.granted_on.data,
                                            granting_body=form.granting_body.data, amount=form.amount.data,
                                            regime=form.regime.data),
            {"granted_on", "granting_body", "amount", "regime"})
    response = jsonify(_case_json(_load_case(reference)))
    response.status_code = 201
    return response


@bp.post("/cases/<reference>/no-minimis")
def declare_no_minimis(reference: str):
    case = case_or_404(current_user, reference)
    json_body()
    perform(lambda: ops.declare_no_minimis(current_user, case))
    return jsonify(_case_json(_load_case(reference)))


@bp.put("/cases/<reference>/answers")
def replace_answers(reference: str):
    """The dossier's answers, sent whole as ``answers`` lists them (the questionnaire page's rules)."""
    case = case_or_404(current_user, reference)
    body = json_body()
    expected = version_of(body, case.version)
    perform(lambda: save_json_answers(current_user, case, body["answers"], expected_version=expected))
    return jsonify(_case_json(_load_case(reference)))


def _event_name(body: dict, handlers: dict) -> str:
    name = body.get("event")
    if not isinstance(name, str) or name not in handlers:
        raise field_error("event", "Événement inconnu. Événements possibles : " + ", ".join(handlers) + ".")
    return name


@bp.post("/cases/<reference>/events")
def case_event(reference: str):
    case = case_or_404(current_user, reference)
    body = json_body()
    event = _event_name(body, CASE_HANDLERS)
    form = filled_form(CASE_FORMS[event], body, version=version_of(body, case.version))
    perform(lambda: CASE_HANDLERS[event].run(current_user, case, form), {f.name for f in form})
    return jsonify(_case_json(_load_case(reference)))


# --------------------------------------------------------------------------- lines and opinions

def _line_or_404(line_id: int) -> FundingLine:
    visible = visible_cases(current_user).with_only_columns(Case.id)
    line = db.session.scalars(select(FundingLine).where(FundingLine.id == line_id,
                                                        FundingLine.case_id.in_(visible))).first()
    if line is None:
        abort(404)
    return line


def _line_json(line: FundingLine) -> dict:
    return out.line(line, current_user, paris_today(), with_actions=True)


@bp.get("/lines/<int:line_id>")
def show_line(line_id: int):
    return jsonify(_line_json(_line_or_404(line_id)))


@bp.post("/lines/<int:line_id>/events")
def line_event(line_id: int):
    line = _line_or_404(line_id)
    body = json_body()
    event = _event_name(body, LINE_HANDLERS)
    form = filled_form(LINE_FORMS[event], body, version=version_of(body, line.version))
    perform(lambda: LINE_HANDLERS[event].run(current_user, line, form), {f.name for f in form})
    db.session.refresh(line)
    return jsonify(_line_json(line))


@bp.post("/lines/<int:line_id>/opinions")
def ask_opinion(line_id: int):
    line = _line_or_404(line_id)
    body = json_body()
    form = filled_form(AskOpinionForm, body, version=version_of(body, line.version))
    agency = db.session.get(Agency, form.agency_id.data) if form.agency_id.data else None
    opinion = perform(lambda: ops.ask_opinion(current_user, line, agency=agency, due_on=form.due_on.data,
                                              question=form.question.data or "",
                                              expected_version=form.version.data),
                      {f.name for f in form})
    response = jsonify(_opinion_json(opinion))
    response.status_code = 201
    response.headers["Location"] = url_for(".show_opinion", opinion_id=opinion.id)
    return response


def _opinion_json(opinion: Opinion) -> dict:
    return out.opinion(opinion, paris_today()) | {"case_reference": opinion.line.case.reference}


def _opinion_or_404(opinion_id: int) -> Opinion:
    """An opinion of a visible case, seen by agents and admins only (as on the pages)."""
    if not (current_user.is_agent or current_user.is_admin):
        abort(404)
    visible = visible_cases(current_user).with_only_columns(Case.id)
    opinion = db.session.scalars(select(Opinion).join(Opinion.line).where(
        Opinion.id == opinion_id, FundingLine.case_id.in_(visible))).first()
    if opinion is None:
        abort(404)
    return opinion


@bp.get("/opinions")
def list_opinions():
    """The opinions asked of the user's agency, those still awaited first (at most 100)."""
    if not current_user.is_agent:
        return jsonify({"items": []})
    status = request.args.get("status", "pending")  # one of the document's values (checked before)
    query = (select(Opinion).where(Opinion.agency_id == current_user.agency_id)
             .options(joinedload(Opinion.line).joinedload(FundingLine.case))
             .order_by(Opinion.verdict.is_not(None), Opinion.due_on, Opinion.id).limit(MAX_LIMIT))
    if status == "pending":
        query = query.where(Opinion.verdict.is_(None))
    elif status == "answered":
        query = query.where(Opinion.verdict.is_not(None))
    return jsonify({"items": [_opinion_json(opinion) for opinion in db.session.scalars(query).unique()]})


@bp.get("/opinions/<int:opinion_id>")
def show_opinion(opinion_id: int):
    return jsonify(_opinion_json(_opinion_or_404(opinion_id)))


@bp.post("/opinions/<int:opinion_id>/answer")
def give_opinion(opinion_id: int):
    opinion = _opinion_or_404(opinion_id)
    form = filled_form(GiveOpinionForm, json_body())
    perform(lambda: ops.give_opinion(current_user, opinion, verdict=form.verdict.data or "",
                                     intended_amount=form.intended_amount.data,
                                     comment=form.comment.data or ""),
            {f.name for f in form})
    return jsonify(_opinion_json(opinion))


# --------------------------------------------------------------------------- documents, meetings, packs

@bp.get("/cases/<reference>/documents/<int:document_id>")
def download_document(reference: str, document_id: int):
    case = case_or_404(current_user, reference)
    document = document_or_404(current_user, case, document_id)
    return documents.stored_file_response(document.stored_name, content_type=document.content_type,
                                          filename=document.filename)


def _meeting_or_404(meeting_id: int) -> Meeting:
    meeting = meeting_of_agency(meeting_id, current_user.agency_id if current_user.is_agent else None)
    if meeting is None:
        abort(404)
    return meeting


@bp.get("/meetings")
def list_meetings():
    """The meetings of the committees of the user's agency (none for applicants and admins)."""
    if not current_user.is_agent:
        return jsonify({"items": []})
    query = agency_meetings(current_user.agency_id, paris_today()).options(joinedload(Meeting.committee))
    meetings = list(db.session.scalars(query.limit(MAX_LIMIT)))
    counts = agenda_counts([meeting.id for meeting in meetings])
    return jsonify({"items": [out.meeting(meeting, counts.get(meeting.id)) for meeting in meetings]})


@bp.get("/meetings/<int:meeting_id>")
def show_meeting(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    items = agenda_items(meeting)
    counts = agenda_counts([meeting.id])
    return jsonify(out.meeting(meeting, counts.get(meeting.id)) | {"agenda": [out.agenda_item(i) for i in items]})


@bp.get("/meetings/<int:meeting_id>/pack")
def meeting_pack(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    stream = SpooledTemporaryFile(max_size=PACK_SPOOL_BYTES)
    try:
        write_meeting_pack(meeting, stream)
        stream.seek(0)
    except BaseException:
        stream.close()
        raise
    return send_file(stream, mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=pack_filename(meeting), max_age=0)


@bp.route("/<path:anything>", methods=list(API_METHODS))
def unknown(anything: str):
    """Any other address under /api/v1: 405 if it exists with another method, else 404 — as problems."""
    allowed = _methods_of(request.path)
    if allowed:
        raise ApiProblem(405, f"La méthode {request.method} n'est pas possible sur cette adresse.",
                         headers={"Allow": ", ".join(allowed)})
    abort(404)
