"""The events a person may fire on a dossier page, and the routes that fire them.

The buttons come from the machines' tables (``workflow.py``): the events allowed from the
current state, kept when the person holds the ``who`` of the rule (``access.roles_on``).
The routes look the dossier up through the scopes (404 outside them), read the event's form,
and call the one operation of ``operations.py`` that does the change, inside ``web.perform``.
Whatever the outcome, they answer with a redirect (303) to ``next`` or to the dossier page,
with the result flashed in French.
"""
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..agencies.models import Agency
from ..committees.models import Meeting
from ..extensions import db
from ..formatting import day, money, paris_today
from ..forms import options
from ..schemes.models import Scheme
from ..web import perform, safe_next_url
from ..workflow import CASE_EVENTS, CASE_MACHINE, LINE_EVENTS, LINE_GRANTED_STATES, LINE_MACHINE
from ..plans.operations import balance_applies, computed_balance
from . import operations as ops
from .access import case_or_404, line_or_404, roles_on
from .minimis import estimated_gge, gge_formula_text
from .event_forms import (CASE_FORMS, LINE_FORMS, AskOpinionForm, EventForm, GiveOpinionForm,
                          display_form, error_messages)
from .models import Case, FundingLine, Opinion
from .opinions import OPINION_LINE_STATES

bp = Blueprint("case_actions", __name__, url_prefix="/dossiers")

HIDDEN_FIELDS = ("version", "csrf_token", "next")
SCHEDULE_FIELDS = ("instalment_count", "frequency_months", "deferral_months", "first_due_on")


# --------------------------------------------------------------------------- what each event does

def _agency(form) -> Agency | None:
    return db.session.get(Agency, form.agency_id.data) if form.agency_id.data else None


def _scheme(form) -> Scheme | None:
    return db.session.get(Scheme, form.scheme_id.data) if form.scheme_id.data else None


def _meeting(form) -> Meeting | None:
    return db.session.get(Meeting, form.meeting_id.data) if form.meeting_id.data else None


@dataclass(frozen=True)
class Handler:
    run: Callable  # (user, case or line, form) -> result of the operation
    success: Callable  # (case or line, result) -> the French confirmation


CASE_HANDLERS: dict[str, Handler] = {
    "submit": Handler(
        lambda user, case, form: ops.submit_case(user, case, expected_version=form.version.data),
        lambda case, _: f"Votre dossier {case.reference} est déposé. "
                        f"{case.lead_agency.short_name} va vérifier qu'il est complet."),
    "resubmit": Handler(
        lambda user, case, form: ops.resubmit_case(user, case, expected_version=form.version.data),
        lambda case, _: "Le dossier complété est renvoyé à l'organisme pilote."),
    "withdraw": Handler(
        lambda user, case, form: ops.withdraw_case(user, case, reason=form.reason.data,
                                                   expected_version=form.version.data),
        lambda case, _: "Le dossier est retiré."),
    "request_info": Handler(
        lambda user, case, form: ops.request_info(user, case, message=form.message.data,
                                                  expected_version=form.version.data),
        lambda case, _: "La demande d'informations est envoyée au demandeur ; "
                        "le dossier attend ses compléments."),
    "accept": Handler(
        lambda user, case, form: ops.accept_case(user, case, expected_version=form.version.data),
        lambda case, _: "Le dossier est déclaré complet : "
                        "ses demandes de financement sont en instruction."),
    "transfer_lead": Handler(
        lambda user, case, form: ops.transfer_lead(user, case, agency=_agency(form), reason=form.reason.data,
                                                   expected_version=form.version.data),
        lambda case, _: f"Le pilotage du dossier est transféré à {case.lead_agency.short_name}."),
    "dismiss": Handler(
        lambda user, case, form: ops.dismiss_case(user, case, reason=form.reason.data,
                                                  expected_version=form.version.data),
        lambda case, _: "Le dossier est classé sans suite."),
}

LINE_HANDLERS: dict[str, Handler] = {
    "transfer": Handler(
        lambda user, line, form: ops.transfer_line(user, line, agency=_agency(form), scheme=_scheme(form),
                                                   reason=form.reason.data,
                                                   expected_version=form.version.data),
        lambda line, _: f"La demande est transférée à {line.agency.short_name} "
                        f"(dispositif « {line.scheme.name} »)."),
    "propose": Handler(
        lambda user, line, form: ops.propose_line(user, line, meeting=_meeting(form),
                                                  proposed_amount=form.proposed_amount.data,
                                                  expected_version=form.version.data),
        lambda line, _: f"La demande est inscrite à l'ordre du jour de la séance du "
                        f"{day(line.current_agenda_item.meeting.meets_on)}, pour "
                        f"{money(line.proposed_amount)}."),
    "approve": Handler(
        lambda user, line, form: ops.approve_line(user, line, granted_amount=form.granted_amount.data,
                                                  gross_grant_equivalent=form.gross_grant_equivalent.data,
                                                  over_envelope_confirmed=bool(
                                                      form.over_envelope_confirmed.data),
                                                  expected_version=form.version.data),
        lambda line, _: f"L'aide est accordée : {money(line.granted_amount)}."),
    "reject": Handler(
        lambda user, line, form: ops.reject_line(user, line, reason=form.reason.data,
                                                 expected_version=form.version.data),
        lambda line, _: "La demande est refusée."),
    "adjourn": Handler(
        lambda user, line, form: ops.adjourn_line(user, line, reason=form.reason.data,
                                                  expected_version=form.version.data),
        lambda line, _: "La demande est ajournée : elle retourne en instruction."),
    "sign_agreement": Handler(
        lambda user, line, form: ops.sign_agreement(user, line, signed_on=form.signed_on.data,
                                                    instalment_count=form.instalment_count.data,
                                                    frequency_months=form.frequency_months.data,
                                                    deferral_months=form.deferral_months.data,
                                                    first_due_on=form.first_due_on.data,
                                                    expected_version=form.version.data),
        lambda line, _: f"La signature de la convention du {day(line.agreement_signed_on)} "
                        "est enregistrée."),
    "record_payment": Handler(
        lambda user, line, form: ops.record_payment(user, line, amount=form.amount.data,
                                                    paid_on=form.paid_on.data,
                                                    expected_version=form.version.data),
        lambda line, _: f"Le versement est enregistré. Reste à verser : {money(line.remaining_to_pay)}."),
    "record_repayment": Handler(
        lambda user, line, form: ops.record_repayment(user, line, amount=form.amount.data,
                                                      repaid_on=form.repaid_on.data,
                                                      expected_version=form.version.data),
        lambda line, _: f"Le remboursement est enregistré. Reste dû : {money(line.owed)}."),
    "settle": Handler(
        lambda user, line, form: ops.settle_line(user, line, reason=form.reason.data,
                                                 balance_amount=form.balance_amount.data,
                                                 balance_paid_on=form.balance_paid_on.data,
                                                 expected_version=form.version.data),
        lambda line, _: f"La demande est soldée ; reliquat libéré : {money(line.released_amount)}."
                        + (f" Reste dû abandonné : {money(line.written_off_amount)}."
                           if line.written_off_amount else "")),
    "dismiss": Handler(
        lambda user, line, form: ops.dismiss_line(user, line, reason=form.reason.data,
                                                  expected_version=form.version.data),
        lambda line, _: "La demande est classée sans suite."),
    "reopen": Handler(
        lambda user, line, form: ops.reopen_line(user, line, reason=form.reason.data,
                                                 expected_version=form.version.data),
        lambda line, _: "La demande est rouverte : elle retourne en instruction."),
}


# --------------------------------------------------------------------------- what a person may do now

@dataclass
class Action:
    """One button (and its form) on the dossier page."""

    name: str
    label: str
    url: str
    form: EventForm
    line: FundingLine | None = None
    opinion: Opinion | None = None
    note: str | None = None  # allowed, but impossible for now: why (shown instead of the form)

    @property
    def fields(self) -> list:
        return [f for f in self.form if f.name not in HIDDEN_FIELDS]


@dataclass
class LineActions:
    line: FundingLine
    actions: list[Action] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [action.name for action in self.actions]


@dataclass
class CaseActions:
    """Everything one person may do on one case now: on the case, on each line, opinions to give."""

    case: list[Action] = field(default_factory=list)
    lines: list[LineActions] = field(default_factory=list)
    opinions: list[Action] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.case or self.lines or self.opinions)

    @property
    def case_names(self) -> list[str]:
        return [action.name for action in self.case]

    def line_names(self, line: FundingLine) -> list[str]:
        for entry in self.lines:
            if entry.line.id == line.id:
                return entry.names
        return []

    def opinion_form(self, opinion: Opinion):
        for action in self.opinions:
            if action.opinion.id == opinion.id:
                return action
        return None


class _Lookups:
    """Choices shared by the forms of one page, each read once."""

    def __init__(self, case: Case, today):
        self._case, self._today = case, today
        self._agencies = None
        self._schemes = None
        self._meetings = None

    @property
    def agencies(self) -> list[Agency]:
        if self._agencies is None:
            self._agencies = list(db.session.scalars(select(Agency).order_by(Agency.name)))
        return self._agencies

    @property
    def schemes(self) -> list[Scheme]:
        if self._schemes is None:
            self._schemes = list(db.session.scalars(select(Scheme).order_by(Scheme.name)))
        return self._schemes

    def upcoming_meetings(self, committee_id: int) -> list[Meeting]:
        """The meetings to come of ``committee_id``, soonest first; those of every committee of
        the case's lines are read at once (a case may hold several lines to propose)."""
        if self._meetings is None:
            committee_ids = {line.scheme.committee_id for line in self._case.lines}
            self._meetings = {}
            for meeting in db.session.scalars(
                    select(Meeting).where(Meeting.committee_id.in_(committee_ids),
                                          Meeting.meets_on >= self._today)
                    .order_by(Meeting.meets_on, Meeting.id)):
                self._meetings.setdefault(meeting.committee_id, []).append(meeting)
        return self._meetings.get(committee_id, [])

    def agency_choices(self, excluded_id: int | None):
        return options(((agency.id, agency.name) for agency in self.agencies if agency.id != excluded_id),
                       empty="— Choisissez un organisme —")

    def scheme_choices(self, excluded_agency_id: int | None):
        names = {agency.id: agency.short_name for agency in self.agencies}
        schemes = sorted((s for s in self.schemes if s.agency_id != excluded_agency_id),
                         key=lambda s: (names.get(s.agency_id, ""), s.name))
        return options(((scheme.id, scheme.name, names.get(scheme.agency_id)) for scheme in schemes),
                       empty="— Garder le dispositif actuel —")


def available_actions(user, case: Case) -> CaseActions:
    """What ``user`` may do on ``case`` now, from the machines' tables and the rights.

    System events never appear; an admin gets nothing (no case events for the platform operator).
    """
    result = CaseActions()
    if user is None or not getattr(user, "is_authenticated", False) or user.is_admin:
        return result
    today = paris_today()
    lookups = _Lookups(case, today)

    roles = roles_on(user, case)
    allowed = CASE_MACHINE.get_triggers(case.state)
    for rule in CASE_EVENTS:
        if rule.name in allowed and rule.who in roles and rule.name in CASE_HANDLERS \
                and _case_event_makes_sense(case, rule.name):
            result.case.append(_case_action(case, rule, lookups))

    for line in case.lines:
        entry = LineActions(line)
        line_roles = roles_on(user, case, line)
        allowed = LINE_MACHINE.get_triggers(line.state)
        for rule in LINE_EVENTS:
            if rule.name in allowed and rule.who in line_roles and rule.name in LINE_HANDLERS \
                    and _line_event_makes_sense(case, line, rule.name):
                entry.actions.append(_line_action(case, line, rule, lookups, today))
        if "line_agent" in line_roles and line.state in OPINION_LINE_STATES:
            form = display_form(AskOpinionForm, f"demande-{line.id}-ask_opinion", version=line.version,
                                due_on=today + timedelta(days=15))
            form.agency_id.choices = lookups.agency_choices(line.agency_id)
            entry.actions.append(Action(
                "ask_opinion", "Demander l'avis d'un partenaire",
                url_for("case_actions.ask_opinion", reference=case.reference, line_id=line.id), form, line))
        if entry.actions:
            result.lines.append(entry)

        if user.is_agent:
            for opinion in line.opinions:
                if opinion.verdict is None and opinion.agency_id == user.agency_id:
                    result.opinions.append(_opinion_action(case, opinion))
    return result


def _case_event_makes_sense(case: Case, event: str) -> bool:
    """Guards cheap to check beforehand, so that no button is bound to fail (the operation re-checks)."""
    if event in ("withdraw", "dismiss"):
        return not any(line.state in LINE_GRANTED_STATES for line in case.lines)
    return True


def _line_event_makes_sense(case: Case, line: FundingLine, event: str) -> bool:
    if event == "reopen":
        return ops.lines_may_reopen(case)
    if event == "record_payment":
        return line.remaining_to_pay > 0
    if event == "record_repayment":
        return line.is_repayable and line.owed > 0
    return True


def _case_action(case: Case, rule, lookups: _Lookups) -> Action:
    form = display_form(CASE_FORMS[rule.name], f"dossier-{rule.name}", version=case.version)
    if rule.name == "transfer_lead":
        form.agency_id.choices = lookups.agency_choices(case.lead_agency_id)
    return Action(rule.name, rule.label,
                  url_for("case_actions.case_event", reference=case.reference, event=rule.name), form)


def _line_action(case: Case, line: FundingLine, rule, lookups: _Lookups, today) -> Action:
    data = {"version": line.version}
    if rule.name == "propose":
        data["proposed_amount"] = line.requested_amount
    elif rule.name == "approve":
        data["granted_amount"] = line.proposed_amount
    elif rule.name == "sign_agreement":
        data["signed_on"] = today
        if line.is_repayable:
            data.update(frequency_months=3, deferral_months="0")
    elif rule.name == "record_payment":
        # Where the balance follows the execution report, an instalment never pays it all: no default.
        data.update(amount=None if balance_applies(line) else line.remaining_to_pay, paid_on=today)
    elif rule.name == "record_repayment":
        data.update(repaid_on=today)
    form = display_form(LINE_FORMS[rule.name], f"demande-{line.id}-{rule.name}", **data)
    note = None
    if rule.name == "transfer":
        form.agency_id.choices = lookups.agency_choices(line.agency_id)
        form.scheme_id.choices = lookups.scheme_choices(line.agency_id)
    elif rule.name == "propose":
        committee = line.scheme.committee
        meetings = lookups.upcoming_meetings(committee.id)
        form.meeting_id.choices = options((meeting.id, _meeting_label(meeting)) for meeting in meetings)
        if not meetings:
            note = (f"Aucune séance à venir du comité « {committee.name} » : "
                    "une séance doit être programmée avant d'inscrire la demande.")
    elif rule.name == "sign_agreement" and not line.is_repayable:
        for name in SCHEDULE_FIELDS:  # only an advance or a loan is paid back
            del form[name]
    elif rule.name == "settle":
        balance = computed_balance(line) if balance_applies(line) else None
        if balance is None:
            del form.balance_amount, form.balance_paid_on  # no balance computed from a report here
            if balance_applies(line):
                note = "Le solde attend le bilan d'exécution du demandeur (dépenses réalisées)."
        else:
            planned, realised, entitled, due = balance
            form.balance_amount.data, form.balance_paid_on.data = due, today
            form.balance_amount.description = (
                f"Dépenses éligibles prévues {money(planned)}, réalisées {money(realised)} : l'aide due "
                f"est de {money(entitled)}, dont {money(due)} restent à verser. Un autre montant demande "
                "un motif.")
        if not (line.is_repayable and line.owed > 0) and balance is None:
            del form.reason  # nothing to write off, no balance to adjust
    elif rule.name == "approve":
        if not (line.scheme.is_de_minimis and line.scheme.instrument != "grant"):
            del form.gross_grant_equivalent  # only an advance or a loan has one to enter
        else:
            form.gross_grant_equivalent.description = gge_estimate_hint(line.proposed_amount)
        if line.scheme.annual_budget is None:
            del form.over_envelope_confirmed  # no envelope to go beyond
    return Action(rule.name, rule.label,
                  url_for("case_actions.line_event", reference=case.reference, line_id=line.id,
                          event=rule.name), form, line, note=note)


def _meeting_label(meeting: Meeting) -> str:
    return f"Séance du {day(meeting.meets_on)}" + (f" — {meeting.place}" if meeting.place else "")


def _opinion_action(case: Case, opinion: Opinion) -> Action:
    form = display_form(GiveOpinionForm, f"reponse-avis-{opinion.id}")
    return Action("give_opinion", "Envoyer l'avis",
                  url_for("case_actions.give_opinion", reference=case.reference, opinion_id=opinion.id),
                  form, opinion.line, opinion=opinion)


@bp.app_template_global("gge_estimate_hint")
def gge_estimate_hint(proposed_amount) -> str:
    """What an empty gross grant equivalent stands for, for a loan or an advance of ``proposed_amount``."""
    return (f"Aide de minimis : le montant qui compte pour le plafond de l'entreprise. Laissé vide, "
            f"l'estimation est retenue : {money(estimated_gge(proposed_amount))} pour le montant proposé "
            f"({gge_formula_text()}).")


@bp.app_template_global("opinion_answer_form")
def opinion_answer_form(opinion: Opinion) -> Action | None:
    """The answer form of ``opinion`` if the person looking is an agent of the consulted agency."""
    if not (current_user.is_authenticated and current_user.is_agent):
        return None
    if opinion.verdict is not None or opinion.agency_id != current_user.agency_id:
        return None
    return _opinion_action(opinion.line.case, opinion)


# --------------------------------------------------------------------------- routes

def _dossier_page(case: Case) -> str:
    return url_for("cases.show_case", reference=case.reference)


def _fire(form, run: Callable, success: Callable, back: str):
    """Validate, run the operation once (with the version seen), flash the outcome, redirect."""
    if form.validate():
        ok, result = perform(run, form)
        if ok:
            flash(success(result), "success")
            return redirect(back, 303)
    for message in error_messages(form):
        flash(message, "error")
    return redirect(back, 303)


@bp.post("/<reference>/actions/<event>")
@login_required
def case_event(reference: str, event: str):
    handler = CASE_HANDLERS.get(event)
    if handler is None:
        abort(404)
    case = case_or_404(current_user, reference)
    form = CASE_FORMS[event]()
    return _fire(form, lambda: handler.run(current_user, case, form),
                 lambda result: handler.success(case, result), safe_next_url(_dossier_page(case)))


@bp.post("/<reference>/demandes/<int:line_id>/actions/<event>")
@login_required
def line_event(reference: str, line_id: int, event: str):
    handler = LINE_HANDLERS.get(event)
    if handler is None:
        abort(404)
    case = case_or_404(current_user, reference)
    line = line_or_404(current_user, case, line_id)
    form = LINE_FORMS[event]()
    return _fire(form, lambda: handler.run(current_user, line, form),
                 lambda result: handler.success(line, result), safe_next_url(_dossier_page(case)))


@bp.post("/<reference>/demandes/<int:line_id>/avis")
@login_required
def ask_opinion(reference: str, line_id: int):
    case = case_or_404(current_user, reference)
    line = line_or_404(current_user, case, line_id)
    form = AskOpinionForm()

    def run():
        return ops.ask_opinion(current_user, line, agency=_agency(form), due_on=form.due_on.data,
                               question=form.question.data or "", expected_version=form.version.data)

    return _fire(form, run,
                 lambda opinion: f"L'avis de {opinion.agency.short_name} est demandé pour le "
                                 f"{day(opinion.due_on)}.",
                 safe_next_url(_dossier_page(case)))


@bp.post("/<reference>/avis/<int:opinion_id>")
@login_required
def give_opinion(reference: str, opinion_id: int):
    case = case_or_404(current_user, reference)
    opinion = next((o for line in case.lines for o in line.opinions if o.id == opinion_id), None)
    if opinion is None:
        abort(404)
    form = GiveOpinionForm()

    def run():
        return ops.give_opinion(current_user, opinion, verdict=form.verdict.data or "",
                                intended_amount=form.intended_amount.data, comment=form.comment.data or "")

    return _fire(form, run, lambda _: f"Votre avis ({opinion.verdict_label.lower()}) est transmis.",
                 safe_next_url(_dossier_page(case)))
