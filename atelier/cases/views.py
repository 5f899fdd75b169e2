"""The dossier pages: the applicant's list, draft and edit pages, and THE dossier page that every
role that may see a case shares (``show_case``).

Views stay thin: the dossier is looked up through the scopes (404 outside them), the form is
read, one operation runs inside ``web.perform`` (one commit), then a redirect — or the page again
with status 422 and the French messages beside the fields.
"""
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..agencies.models import Agency
from ..common import ActionRefused
from ..committees.models import AgendaItem
from ..extensions import db
from ..formatting import day, money, paris_today
from ..forms import options
from ..schemes.models import DOCUMENT_KINDS, Scheme
from ..web import form_status, page_number, perform, role_required
from ..workflow import (CASE_EDITABLE_STATES, CASE_RULES, CASE_STATES, LINE_RULES, LINE_STATES)
from . import access, documents, operations
from ..notifications import operations as notification_ops
from ..questionnaires.answers import shown_answers
from ..plans.models import ExecutionReport, FinancingPlan
from ..plans.operations import dossier_summary, may_file_report
from ..notifications.forms import MessageWithAttachmentForm
from .actions import available_actions
from .minimis import drops_out_on, minimis_position
from .repayments import repayment_position
from .forms import (DocumentForm, EditProjectForm, LineForm, MessageForm, MinimisForm, NewCaseForm,
                    NoMinimisForm, scheme_choices)
from .models import OPINION_VERDICTS, Case, Event, FundingLine, Message

bp = Blueprint("cases", __name__, url_prefix="/dossiers")

EXTRA_EVENT_LABELS = {
    "create": "Création du brouillon",
    "ask_opinion": "Avis demandé",
    "give_opinion": "Avis rendu",
    "file_execution_report": "Bilan d'exécution déposé",
}
WITHDRAWABLE_STATES = CASE_RULES["withdraw"].sources


# --------------------------------------------------------------------------- the applicant's list

@bp.get("/")
@role_required("applicant")
def my_cases():
    query = (access.visible_cases(current_user)
             .options(selectinload(Case.lines))
             .order_by(Case.updated_at.desc(), Case.id.desc()))
    page = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    return render_template("cases/my_cases.html", page=page,
                           has_company=bool(current_user.companies))


@bp.route("/nouveau", methods=["GET", "POST"])
@role_required("applicant")
def new_case():
    companies = sorted(current_user.companies, key=lambda company: company.name.lower())
    if not companies:
        flash("Pour créer un dossier, déclarez d'abord l'entreprise qui porte le projet : "
              "son SIRET, sa taille et son adresse figurent dans chaque dossier.", "info")
        return redirect(url_for("companies.new_company"))
    form = NewCaseForm(data={"company": companies[0].id if len(companies) == 1 else None})
    form.company.choices = options(
        ((str(company.id), f"{company.name} (SIRET {format_siret(company.siret)})") for company in companies),
        empty="— Choisissez —" if len(companies) > 1 else None)
    if form.validate_on_submit():
        company = next(company for company in companies if company.id == form.company.data)
        ok, case = perform(lambda: operations.create_case(current_user, company, **_project_fields(form)),
                           form)
        if ok:
            flash(f"Le brouillon {case.reference} est créé. Complétez maintenant le plan de "
                  "financement, les aides de minimis et les pièces.", "success")
            return redirect(url_for(".edit_case", reference=case.reference))
    return render_template("cases/new.html", form=form), form_status()


# --------------------------------------------------------------------------- editing a draft

@bp.route("/<reference>/modifier", methods=["GET", "POST"])
@role_required("applicant")
def edit_case(reference: str):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    form = EditProjectForm(data=_project_data(case))
    if form.validate_on_submit():
        ok, _ = perform(lambda: operations.update_project(
            current_user, case, expected_version=form.version.data, **_project_fields(form)),
            form, success="Le projet est enregistré.")
        if ok:
            return _back_to_edit(case, "projet")
    return _render_edit(case, project_form=form, status=form_status())


@bp.post("/<reference>/demandes")
@role_required("applicant")
def add_line(reference: str):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    form = _line_form()
    if form.validate():
        scheme = db.session.get(Scheme, form.scheme.data)
        ok, _ = perform(lambda: operations.add_line(current_user, case, scheme=scheme,
                                                    requested_amount=form.requested_amount.data),
                        form, success=f"La demande au dispositif « {scheme.name} » est ajoutée au plan "
                                      "de financement.")
        if ok:
            return _back_to_edit(case, "plan")
    return _render_edit(case, line_form=form, status=422)


@bp.post("/<reference>/demandes/<int:line_id>/supprimer")
@role_required("applicant")
def remove_line(reference: str, line_id: int):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    line = access.line_or_404(current_user, case, line_id)
    perform(lambda: operations.remove_line(current_user, case, line),
            success="La demande est retirée du plan de financement.")
    return _back_to_edit(case, "plan")


@bp.post("/<reference>/de-minimis")
@role_required("applicant")
def add_minimis(reference: str):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    form = MinimisForm(prefix="minimis")
    if form.validate():
        ok, _ = perform(lambda: operations.declare_minimis_aid(
            current_user, case, granted_on=form.granted_on.data, granting_body=form.granting_body.data,
            amount=form.amount.data, regime=form.regime.data),
            form, success="L'aide de minimis est ajoutée à votre déclaration.")
        if ok:
            return _back_to_edit(case, "de-minimis")
    return _render_edit(case, minimis_form=form, status=422)


@bp.post("/<reference>/de-minimis/<int:aid_id>/supprimer")
@role_required("applicant")
def remove_minimis(reference: str, aid_id: int):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    aid = next((aid for aid in case.declared_minimis if aid.id == aid_id), None)
    if aid is None:
        abort(404)
    perform(lambda: operations.remove_minimis_aid(current_user, case, aid),
            success="L'aide est retirée de votre déclaration.")
    return _back_to_edit(case, "de-minimis")


@bp.post("/<reference>/de-minimis/aucune")
@role_required("applicant")
def declare_no_minimis(reference: str):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    form = NoMinimisForm(prefix="nominimis")
    if form.validate():
        ok, _ = perform(lambda: operations.declare_no_minimis(current_user, case), form,
                        success="Votre déclaration est enregistrée : aucune aide de minimis reçue "
                                "au cours des trois dernières années.")
        if ok:
            return _back_to_edit(case, "de-minimis")
    return _render_edit(case, no_minimis_form=form, status=422)


@bp.post("/<reference>/pieces")
@role_required("applicant")
def upload_document(reference: str):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    form = _document_form(case)
    if form.validate():
        ok, document = perform(lambda: documents.add_document(current_user, case, form.kind.data,
                                                              form.file.data), form)
        if ok:
            flash(f"La pièce « {document.filename} » est jointe au dossier.", "success")
            return _back_to_edit(case, "pieces")
    return _render_edit(case, document_form=form, status=422)


@bp.post("/<reference>/pieces/<int:document_id>/supprimer")
@role_required("applicant")
def delete_document(reference: str, document_id: int):
    case = access.case_or_404(current_user, reference)
    gate = _unless_editable(case)
    if gate is not None:
        return gate
    document = access.document_or_404(current_user, case, document_id)
    name = document.filename
    perform(lambda: documents.remove_document(current_user, case, document),
            success=f"La pièce « {name} » est supprimée.")
    return _back_to_edit(case, "pieces")


@bp.get("/<reference>/pieces/<int:document_id>")
@login_required
def download_document(reference: str, document_id: int):
    case = access.case_or_404(current_user, reference)
    document = access.document_or_404(current_user, case, document_id)
    return documents.stored_file_response(document.stored_name, content_type=document.content_type,
                                          filename=document.filename)


@bp.get("/<reference>/retrait")
@role_required("applicant")
def confirm_withdraw(reference: str):
    """The confirmation step of a withdrawal: this page, then the form posts the event."""
    case = access.case_or_404(current_user, reference)
    if case.state not in WITHDRAWABLE_STATES or "applicant" not in access.roles_on(current_user, case):
        flash("Ce dossier ne peut pas être retiré : il est " + case.state_label.lower() + ".", "error")
        return redirect(url_for(".show_case", reference=case.reference))
    return render_template("cases/withdraw.html", case=case, event_url=event_url)


# --------------------------------------------------------------------------- THE dossier page

@bp.get("/<reference>")
@login_required
def show_case(reference: str):
    case = access.case_or_404(current_user, reference)
    return _render_case(case, MessageWithAttachmentForm())


@bp.post("/<reference>/messages")
@login_required
def post_message(reference: str):
    case = access.case_or_404(current_user, reference)
    form = MessageWithAttachmentForm()
    if form.validate():
        internal = bool(form.internal.data) and current_user.is_agent
        ok, _ = perform(lambda: notification_ops.post_message(current_user, case, body=form.body.data,
                                                              internal=internal,
                                                              attachment=form.attachment.data),
                        form, success="La note interne est enregistrée." if internal
                        else "Votre message est envoyé.")
        if ok:
            return redirect(url_for(".show_case", reference=case.reference, _anchor="messages"))
    return _render_case(case, form, status=422)


def _render_case(case: Case, message_form: MessageForm, status: int = 200):
    _load_dossier(case)
    user = current_user
    show_internal = user.is_agent or user.is_admin
    events = list(db.session.scalars(
        select(Event).where(Event.case_id == case.id)
        .options(joinedload(Event.actor), joinedload(Event.agency), joinedload(Event.line))
        .order_by(Event.id)))
    message_query = (select(Message).where(Message.case_id == case.id)
                     .options(joinedload(Message.author), joinedload(Message.agency))
                     .order_by(Message.id))
    if not show_internal:
        message_query = message_query.where(Message.internal.is_(False))
    messages = list(db.session.scalars(message_query))

    roles = access.roles_on(user, case)
    is_applicant = "applicant" in roles
    editable = is_applicant and case.state in CASE_EDITABLE_STATES
    # The applicant's events (submit, resubmit, withdraw) have their own place on this page: the
    # checklist and the confirmation of withdrawal. The others are for agents.
    actions = [] if is_applicant else available_actions(user, case)
    today = paris_today()
    minimis = None
    if show_internal:  # the company's whole register: agents only (the applicant sees its declaration)
        regimes = {line.scheme.regime for line in case.lines if line.scheme.is_de_minimis}
        minimis = minimis_position(case.company.siren, today, case_id=case.id, regimes=regimes)
    return render_template(
        "cases/show.html", case=case, messages=messages, timeline=_timeline(events, user),
        message_form=message_form, can_write=access.may_post_messages(user, case),
        is_applicant=is_applicant, actions=actions, today=today, minimis=minimis,
        minimis_drops_out_on=drops_out_on, repayment_position=repayment_position,
        editable=editable,
        withdrawable=is_applicant and case.state in WITHDRAWABLE_STATES,
        problems=operations.submission_problems(case, today) if is_applicant and editable else [],
        agency_request=_agency_request(events, case), document_kinds=DOCUMENT_KINDS,
        event_url=event_url, format_siret=format_siret, size_label=documents.size_label,
        answer_parts=shown_answers(case),
        plan_summary=dossier_summary(case, for_agents=show_internal),
        plan_links=_plan_links(case, editable, is_applicant),
    ), status


def _plan_links(case: Case, editable: bool, is_applicant: bool) -> list[tuple[str, str]]:
    """The applicant's ways to the financing plan and the execution report, when open to them."""
    links = []
    if editable:
        links.append(("Remplir le plan de financement détaillé",
                      url_for("plans.edit_plan", reference=case.reference)))
    if is_applicant and may_file_report(current_user, case):
        links.append(("Remplir le bilan d'exécution", url_for("plans.edit_report", reference=case.reference)))
    return links


def _load_dossier(case: Case) -> None:
    """Everything the dossier page shows of the case, in a fixed number of queries."""
    db.session.execute(
        select(Case).where(Case.id == case.id).options(
            joinedload(Case.lead_agency),
            selectinload(Case.lines).selectinload(FundingLine.payments),
            selectinload(Case.lines).selectinload(FundingLine.instalments),
            selectinload(Case.lines).selectinload(FundingLine.repayments),
            selectinload(Case.lines).selectinload(FundingLine.opinions),
            selectinload(Case.lines).selectinload(FundingLine.agenda_items).joinedload(AgendaItem.meeting),
            selectinload(Case.lines).joinedload(FundingLine.scheme).joinedload(Scheme.committee),
            selectinload(Case.documents),
            selectinload(Case.declared_minimis),
            selectinload(Case.financing_plan).selectinload(FinancingPlan.expenses),
            selectinload(Case.financing_plan).selectinload(FinancingPlan.resources),
            selectinload(Case.execution_report).selectinload(ExecutionReport.expenses),
            selectinload(Case.execution_report).joinedload(ExecutionReport.filed_by),
        )
    ).unique().all()


def _agency_request(events: list[Event], case: Case) -> Event | None:
    """While the dossier is incomplete: the lead agency's latest request for information."""
    if case.state != "incomplete":
        return None
    requests = [event for event in events if event.name == "request_info"]
    return requests[-1] if requests else None


def _timeline(events: list[Event], user) -> list[dict]:
    rows = []
    for event in events:
        states = LINE_STATES if event.entity == "line" else CASE_STATES
        is_opinion = event.entity == "opinion"
        rows.append({
            "event": event,
            "label": event_label(event),
            "who": _who(event),
            "line": (f"Demande « {event.line.scheme.name} » ({event.line.agency.short_name})"
                     if event.line is not None else None),
            "from_label": states.get(event.from_state) if event.from_state else None,
            "to_label": states.get(event.to_state) if event.to_state else None,
            # What agencies tell each other about a line stays between them.
            "reason": None if (is_opinion and not (user.is_agent or user.is_admin)) else event.reason,
            "details": [] if (is_opinion and not (user.is_agent or user.is_admin)) else _details(event),
        })
    return rows


def event_label(event: Event) -> str:
    if event.name in EXTRA_EVENT_LABELS:
        return EXTRA_EVENT_LABELS[event.name]
    rules = LINE_RULES if event.entity == "line" else CASE_RULES
    rule = rules.get(event.name)
    return rule.label if rule is not None else event.name


def _who(event: Event) -> str:
    if event.actor is None:
        return "Automatique"
    if event.agency is not None:
        return f"{event.actor.name} ({event.agency.short_name})"
    if event.actor.is_applicant:
        return f"{event.actor.name} (demandeur)"
    return event.actor.name


def _details(event: Event) -> list[str]:
    """A few facts kept with the event, said in French."""
    data = event.data or {}
    facts = []

    def amount(key, label):
        value = _decimal(data.get(key))
        if value is not None:
            facts.append(f"{label} : {money(value)}")

    def when(key, label):
        value = _date(data.get(key))
        if value is not None:
            facts.append(f"{label} : {day(value)}")

    if data.get("lead_agency"):
        facts.append(f"Organisme pilote : {data['lead_agency']}")
    if data.get("from_agency") and data.get("to_agency"):
        facts.append(f"De {data['from_agency']} à {data['to_agency']}")
    if data.get("from_scheme") and data.get("to_scheme"):
        facts.append(f"Dispositif : {data['from_scheme']} → {data['to_scheme']}")
    if event.name == "ask_opinion" and data.get("agency"):
        facts.append(f"Organisme consulté : {data['agency']}")
    if event.name == "give_opinion" and data.get("verdict") in OPINION_VERDICTS:
        facts.append(f"Avis : {OPINION_VERDICTS[data['verdict']]}")
    when("due_on", "Réponse attendue le")
    when("meeting_date", "Séance du comité")
    amount("proposed_amount", "Montant proposé")
    amount("granted_amount", "Montant accordé")
    amount("gross_grant_equivalent", "Équivalent-subvention brut")
    amount("intended_amount", "Cofinancement envisagé")
    when("signed_on", "Convention signée le")
    amount("amount", "Montant versé")
    when("paid_on", "Versé le")
    amount("released_amount", "Reliquat libéré")
    amount("realised_total", "Dépenses réalisées")
    amount("planned_total", "Dépenses prévues")
    amount("realised_eligible", "Dépenses éligibles réalisées")
    amount("planned_eligible", "Dépenses éligibles prévues")
    amount("entitled_amount", "Aide due au prorata")
    amount("balance_amount", "Solde versé")
    if data.get("balance_adjusted"):
        amount("balance_computed", "Solde calculé (ajusté par l'agent)")
    return facts


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- helpers

def event_url(case: Case, event: str) -> str:
    """Where the form of a case event posts (``case_actions.case_event``)."""
    return url_for("case_actions.case_event", reference=case.reference, event=event)


def format_siret(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}" if len(siret or "") == 14 else siret


def _project_fields(form) -> dict:
    return {"title": form.title.data, "description": form.description.data,
            "starts_on": form.starts_on.data, "ends_on": form.ends_on.data,
            "eligible_cost": form.eligible_cost.data}


def _project_data(case: Case) -> dict:
    return {"title": case.title, "description": case.description, "starts_on": case.starts_on,
            "ends_on": case.ends_on, "version": case.version, "eligible_cost": case.eligible_cost}


def _unless_editable(case: Case):
    """None if the person may edit the dossier now; else the way back to the dossier page."""
    try:
        operations.check_editable(current_user, case)
    except ActionRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for(".show_case", reference=case.reference))
    return None


def _back_to_edit(case: Case, anchor: str):
    return redirect(url_for(".edit_case", reference=case.reference, _anchor=anchor))


def _open_schemes():
    today = paris_today()
    return list(db.session.scalars(
        select(Scheme).join(Agency, Scheme.agency_id == Agency.id)
        .where(Scheme.opens_on <= today, or_(Scheme.closes_on.is_(None), Scheme.closes_on >= today))
        .order_by(Agency.name, Scheme.name)))


def _line_form(**kwargs) -> LineForm:
    form = LineForm(prefix="line", **kwargs)
    form.scheme.choices = scheme_choices(_open_schemes())
    return form


def _document_form(case: Case, **kwargs) -> DocumentForm:
    form = DocumentForm(prefix="document", **kwargs)
    form.kind.choices = options((kind, DOCUMENT_KINDS[kind]) for kind in documents.allowed_kinds(case))
    return form


def _render_edit(case: Case, *, project_form=None, line_form=None, minimis_form=None,
                 no_minimis_form=None, document_form=None, status: int = 200):
    _load_dossier(case)
    if project_form is None:
        project_form = EditProjectForm(formdata=None, data=_project_data(case))
    today = paris_today()
    events = list(db.session.scalars(
        select(Event).where(Event.case_id == case.id, Event.name == "request_info")
        .options(joinedload(Event.actor), joinedload(Event.agency)).order_by(Event.id)))
    present = {document.kind for document in case.documents}
    required = [kind for kind in documents.allowed_kinds(case) if kind != "other"]
    return render_template(
        "cases/edit.html", case=case, project_form=project_form,
        line_form=line_form or _line_form(formdata=None),
        minimis_form=minimis_form or MinimisForm(prefix="minimis", formdata=None),
        no_minimis_form=no_minimis_form or NoMinimisForm(prefix="nominimis", formdata=None),
        document_form=document_form or _document_form(case, formdata=None),
        problems=operations.submission_problems(case, today), agency_request=_agency_request(events, case),
        required_kinds=[(kind, DOCUMENT_KINDS[kind], kind in present) for kind in required],
        document_kinds=DOCUMENT_KINDS, event_url=event_url, size_label=documents.size_label,
    ), status
