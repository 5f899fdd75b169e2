"""The platform admin's pages: agencies, accounts, committees, schemes, and every dossier (read only).

Anyone but an admin gets 404. The admin never fires a case event: the dossier list only links to
the dossier page.
"""
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..agencies.models import Agency
from ..agencies.operations import create_agency, update_agency
from ..auth.models import ROLES, User
from ..auth.operations import create_user, deactivate_user, reactivate_user
from ..cases.access import visible_cases
from ..cases.models import Case
from ..committees.models import Committee
from ..companies.models import Company
from ..extensions import db
from ..formatting import paris_today
from ..forms import optional_int, options
from ..schemes.models import Scheme
from ..questionnaires.operations import set_scheme_manager
from ..schemes.operations import create_scheme, update_scheme
from ..web import form_status, page_number, perform, role_required, safe_next_url
from ..workflow import CASE_STATES
from .forms import AgencyForm, CommitteeForm, SchemeForm, UserForm
from .operations import create_committee

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@role_required("admin")
def _admins_only():
    """Every page of this blueprint is for admins only (404 for anyone else, login page if anonymous)."""



def _paginate(query):
    return db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)


def _get(model, raw):
    """The row whose id was chosen in a select, or None (a forged value is just "not chosen")."""
    row_id = optional_int(raw)
    return db.session.get(model, row_id) if row_id is not None else None


def _agency_choices(empty: str = "— Choisissez —"):
    agencies = db.session.scalars(select(Agency).order_by(Agency.name)).all()
    return options([(str(agency.id), agency.name) for agency in agencies], empty=empty)


# --------------------------------------------------------------------------- dashboard

@bp.get("/")
def dashboard():
    today = paris_today()
    open_now = (Scheme.opens_on <= today) & (Scheme.closes_on.is_(None) | (Scheme.closes_on >= today))
    counts = {
        "agencies": db.session.scalar(select(func.count(Agency.id))),
        "active_users": db.session.scalar(select(func.count(User.id)).where(User.active.is_(True))),
        "inactive_users": db.session.scalar(select(func.count(User.id)).where(User.active.is_(False))),
        "committees": db.session.scalar(select(func.count(Committee.id))),
        "schemes": db.session.scalar(select(func.count(Scheme.id))),
        "open_schemes": db.session.scalar(select(func.count(Scheme.id)).where(open_now)),
        "companies": db.session.scalar(select(func.count(Company.id))),
    }
    by_state = dict(db.session.execute(select(Case.state, func.count(Case.id)).group_by(Case.state)).all())
    return render_template("admin/dashboard.html", counts=counts, by_state=by_state, case_states=CASE_STATES)


# --------------------------------------------------------------------------- agencies

@bp.get("/organismes/")
def agencies():
    page = _paginate(select(Agency).order_by(Agency.name))
    return render_template("admin/agencies.html", page=page)


@bp.route("/organismes/nouveau", methods=["GET", "POST"])
def new_agency():
    form = AgencyForm()
    if form.validate_on_submit():
        ok, agency = perform(lambda: create_agency(current_user, **form.agency_fields()), form,
                             success="L'organisme est créé.")
        if ok:
            return redirect(url_for(".agencies"))
    return render_template("admin/agency_form.html", form=form, agency=None), form_status()


@bp.route("/organismes/<int:agency_id>/modifier", methods=["GET", "POST"])
def edit_agency(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    form = AgencyForm(obj=agency)
    if form.validate_on_submit():
        ok, _ = perform(lambda: update_agency(current_user, agency, **form.agency_fields()), form,
                        success="L'organisme est modifié.")
        if ok:
            return redirect(url_for(".agencies"))
    return render_template("admin/agency_form.html", form=form, agency=agency), form_status()


# --------------------------------------------------------------------------- accounts

@bp.get("/utilisateurs/")
def users():
    role = request.args.get("role", "")
    query = select(User).order_by(User.name, User.id)
    if role in ROLES:
        query = query.where(User.role == role)
    else:
        role = ""
    return render_template("admin/users.html", page=_paginate(query), role=role, roles=ROLES)


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
def new_user():
    form = UserForm()
    form.agency.choices = _agency_choices()
    if form.validate_on_submit():
        kind = form.kind.data
        ok, user = perform(lambda: _with_scheme_manager_flag(create_user(
            email=form.email.data, name=form.name.data, password=form.password.data,
            role="admin" if kind == "admin" else "agent",
            agency=None if kind == "admin" else _get(Agency, form.agency.data),
            is_secretary=kind == "secretary"), form.scheme_manager.data), form, success="Le compte est créé.")
        if ok:
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form), form_status()


def _with_scheme_manager_flag(user, flag: bool):
    set_scheme_manager(user, flag)
    return user


@bp.post("/utilisateurs/<int:user_id>/desactiver")
def deactivate(user_id: int):
    user = db.get_or_404(User, user_id)
    perform(lambda: deactivate_user(current_user, user), success=f"Le compte de {user.name} est désactivé.")
    return redirect(safe_next_url(url_for(".users")))


@bp.post("/utilisateurs/<int:user_id>/reactiver")
def reactivate(user_id: int):
    user = db.get_or_404(User, user_id)
    perform(lambda: reactivate_user(current_user, user), success=f"Le compte de {user.name} est réactivé.")
    return redirect(safe_next_url(url_for(".users")))


# --------------------------------------------------------------------------- committees

@bp.get("/comites/")
def committees():
    page = _paginate(select(Committee).join(Committee.agency).options(contains_eager(Committee.agency))
                     .order_by(Agency.name, Committee.name, Committee.id))
    return render_template("admin/committees.html", page=page)


@bp.route("/comites/nouveau", methods=["GET", "POST"])
def new_committee():
    form = CommitteeForm()
    form.agency_id.choices = _agency_choices()
    if form.validate_on_submit():
        ok, _ = perform(lambda: create_committee(current_user, agency=_get(Agency, form.agency_id.data),
                                                 name=form.name.data, slug=form.slug.data),
                        form, success="Le comité est créé.")
        if ok:
            return redirect(url_for(".committees"))
    return render_template("admin/committee_form.html", form=form), form_status()


# --------------------------------------------------------------------------- schemes

@bp.get("/dispositifs/")
def schemes():
    page = _paginate(select(Scheme).join(Scheme.agency)
                     .options(contains_eager(Scheme.agency), selectinload(Scheme.committee))
                     .order_by(Agency.name, Scheme.name, Scheme.id))
    return render_template("admin/schemes.html", page=page, today=paris_today())


def _scheme_form(scheme: Scheme | None) -> SchemeForm:
    form = SchemeForm(obj=scheme)
    form.agency_id.choices = _agency_choices()
    committees = db.session.scalars(select(Committee).join(Committee.agency)
                                    .options(contains_eager(Committee.agency))
                                    .order_by(Agency.name, Committee.name)).all()
    form.committee_id.choices = options(
        [(str(c.id), f"{c.agency.short_name} — {c.name}") for c in committees], empty="— Choisissez —")
    return form


def _save_scheme(form: SchemeForm, scheme: Scheme | None):
    fields = {**form.scheme_fields(), "agency": _get(Agency, form.agency_id.data),
              "committee": _get(Committee, form.committee_id.data)}
    if scheme is None:
        return create_scheme(current_user, **fields)
    return update_scheme(current_user, scheme, **fields)


@bp.route("/dispositifs/nouveau", methods=["GET", "POST"])
def new_scheme():
    form = _scheme_form(None)
    if form.validate_on_submit():
        ok, _ = perform(lambda: _save_scheme(form, None), form, success="Le dispositif est créé.")
        if ok:
            return redirect(url_for(".schemes"))
    return render_template("admin/scheme_form.html", form=form, scheme=None), form_status()


@bp.route("/dispositifs/<int:scheme_id>/modifier", methods=["GET", "POST"])
def edit_scheme(scheme_id: int):
    scheme = db.get_or_404(Scheme, scheme_id)
    form = _scheme_form(scheme)
    if form.validate_on_submit():
        ok, _ = perform(lambda: _save_scheme(form, scheme), form, success="Le dispositif est modifié.")
        if ok:
            return redirect(url_for(".schemes"))
    return render_template("admin/scheme_form.html", form=form, scheme=scheme), form_status()


# --------------------------------------------------------------------------- dossiers (read only)

@bp.get("/dossiers/")
def cases():
    state = request.args.get("state", "")
    query = (visible_cases(current_user)
             .options(joinedload(Case.lead_agency), selectinload(Case.lines))
             .order_by(Case.updated_at.desc(), Case.id.desc()))
    if state in CASE_STATES:
        query = query.where(Case.state == state)
    else:
        state = ""
    return render_template("admin/cases.html", page=_paginate(query), state=state, case_states=CASE_STATES)
