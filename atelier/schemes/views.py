"""The catalogue of aid schemes, open to everyone (no login needed)."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager, joinedload

from ..agencies.models import Agency
from ..common import ActionRefused, parse_amount
from ..extensions import db
from ..formatting import paris_today
from ..forms import options
from ..web import page_number, perform, role_required
from .forms import DraftFromSchemesForm, EligibilityForm
from .models import DOCUMENT_KINDS, INSTRUMENTS, Scheme
from .operations import create_draft_with_schemes, parse_code
from .rules import eligibility as eligibility_of

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


# ------------------------------------------------------------------ « Quelles aides pour mon projet ? »

def _eligibility_form(form_class, formdata, companies, **kwargs):
    form = form_class(formdata, **kwargs)
    form.company.choices = options(
        ((str(company.id), f"{company.name} (SIRET {company.siret})") for company in companies),
        empty="— Choisissez —" if len(companies) > 1 else None)
    return form


@bp.route("/mon-projet", methods=["GET", "POST"])
@role_required("applicant")
def eligibility():
    """The schemes a project of one of my companies can ask, their most, and why the others cannot."""
    companies = sorted(current_user.companies, key=lambda company: company.name.lower())
    posted = request.method == "POST"
    formdata = request.form if posted else request.args
    filled = posted or bool(request.args)
    defaults = {"starts_on": paris_today(), "company": companies[0].id if len(companies) == 1 else None}
    form = _eligibility_form(EligibilityForm, formdata if filled else None, companies, meta={"csrf": False},
                             data=None if filled else defaults)
    draft_form, eligible, excluded, status = None, None, None, 200
    if filled and not form.validate():
        status = 422
    elif filled:
        company = next(company for company in companies if company.id == form.company.data)
        cost = parse_amount(form.eligible_cost.data, "eligible_cost", label="Le coût éligible")
        draft_form = _eligibility_form(DraftFromSchemesForm, formdata if posted else None, companies,
                                       data=None if posted else {"company": company.id})
        if posted:
            if draft_form.validate():
                ok, case = perform(lambda: create_draft_with_schemes(
                    current_user, company, title=draft_form.title.data, eligible_cost=cost,
                    starts_on=form.starts_on.data,
                    scheme_ids=draft_form.schemes.data or []),
                    draft_form)
                if ok:
                    count = len(case.lines)
                    flash(f"Le brouillon {case.reference} est créé avec {count} "
                          f"demande{'s' if count > 1 else ''} au montant maximal possible. Vérifiez le plan "
                          "de financement, puis complétez les aides de minimis et les pièces.", "success")
                    return redirect(url_for("cases.edit_case", reference=case.reference))
            status = 422
        eligible, excluded = eligibility_of(company, cost, form.starts_on.data)
    chosen = set(draft_form.schemes.data or []) if draft_form is not None and posted else set()
    return render_template("schemes/eligibility.html", form=form, draft_form=draft_form, companies=companies,
                           eligible=eligible, excluded=excluded, chosen=chosen), status
