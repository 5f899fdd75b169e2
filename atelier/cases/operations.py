"""Every change of a dossier: one function per event of workflow.py, plus draft editing.

Each operation checks the actor's right (the ``who`` column), checks the event's
guards, fires the event through the shared machine, writes its ``Event`` and
flushes. None commits: the request (or the CLI command) commits once, or rolls
back everything on any error. Automatic steps (review start on accept, close
when the last line is final, cascades) go through the machines too and write
their own events, with no actor.

An event is append-only (``audit.py``): everything it carries is computed before
it is created, from what the guards parsed, never written onto it afterwards.
"""
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from ..agencies.models import Agency
from ..auth.models import User
from ..common import ActionRefused, ModifiedMeanwhile, parse_amount, utcnow
from ..forms import optional_int
from ..committees.models import AgendaItem, Meeting
from ..companies.models import MINIMIS_REGIMES, Company, MinimisAid
from ..extensions import db
from ..formatting import day, money, paris_today
from ..questionnaires.answers import missing_answers
from ..plans.operations import (check_intensity, check_payment_leaves_balance, eligible_cost_for,
                                plan_problems, refresh_eligible_cost, settle_balance)
from ..questionnaires.operations import current_version_id
from ..schemes.envelopes import envelope_positions
from ..schemes.models import DOCUMENT_KINDS, Scheme
from ..schemes.rules import check_amount, scheme_refusals
from ..workflow import (CASE_EDITABLE_STATES, CASE_MACHINE, CASE_RULES, LINE_GRANTED_STATES,
                        LINE_MACHINE, LINE_OPEN_STATES, LINE_RULES, NOT_ALLOWED_NOW,
                        CASE_STATES, LINE_STATES, EventRule, fire)
from .minimis import estimated_gge, lock_company_minimis, minimis_excess
from .access import is_member, may_post_messages, roles_on
from .models import (REPAYMENT_FREQUENCIES, Case, CaseAgency, Event, FundingLine, Message, Opinion, Payment,
                     ReferenceCounter, Repayment, RepaymentInstalment)
from .repayments import MAX_DEFERRAL_MONTHS, MAX_INSTALMENTS, add_months, first_due_date, schedule

WHO_LABELS = {
    "applicant": "un membre de l'entreprise qui porte le dossier",
    "lead_agent": "un agent de l'organisme pilote du dossier",
    "line_agent": "un agent de l'organisme qui instruit cette demande",
    "secretary": "un secrétaire du comité qui décide cette demande",
    "system": "l'application elle-même (étape automatique)",
}


# --------------------------------------------------------------------------- helpers

def _required_text(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ActionRefused(message, field)
    return text


def _check_version(instance, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != instance.version:
        raise ModifiedMeanwhile()


def _check_right(actor: User | None, rule: EventRule, case: Case, line: FundingLine | None) -> None:
    if rule.who == "system":
        if actor is not None:
            raise ActionRefused("Cette étape est automatique : personne ne peut la déclencher.")
        return
    if actor is None or rule.who not in roles_on(actor, case, line):
        raise ActionRefused(f"Seul {WHO_LABELS[rule.who]} peut faire cette action.")


def _check_state(machine, states, instance, event: str) -> None:
    if event not in machine.get_triggers(instance.state):
        raise ActionRefused(NOT_ALLOWED_NOW.format(state=states[instance.state].lower()))


def record_event(case: Case, actor: User | None, entity: str, name: str, *,
                 from_state: str | None = None, to_state: str | None = None,
                 line: FundingLine | None = None, reason: str | None = None,
                 data: dict | None = None) -> Event:
    event = Event(case=case, line=line, actor=actor,
                  agency_id=actor.agency_id if actor is not None and actor.is_agent else None,
                  entity=entity, name=name, from_state=from_state, to_state=to_state,
                  reason=(reason or "").strip() or None, data=_jsonable(data or {}))
    db.session.add(event)
    # Every change of a line touches its case: the case's version then serialises
    # concurrent changes to one dossier (the automatic close depends on all its lines).
    case.updated_at = utcnow()
    return event


def _jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, (date, datetime)):
            value = value.isoformat()
        out[key] = value
    return out


EventData = dict | Callable[[], dict] | None


def _event_data(data: EventData) -> dict | None:
    """The event's data: a function is called once the guards have passed (it reads what they parsed)."""
    return data() if callable(data) else data


def _case_event(actor, case: Case, event: str, *, expected_version=None, reason=None,
                data: EventData = None, check=None) -> Event:
    """Version seen, rights, state, then ``check()`` (the event's own guards), then fire and record.

    Nothing is changed before every check has passed, so a refusal leaves the dossier untouched.
    ``data`` may be a function of what ``check()`` parsed: it is called after it, before the event
    exists (an event is never changed once created).
    """
    rule = CASE_RULES[event]
    _check_version(case, expected_version)
    _check_right(actor, rule, case, None)
    _check_state(CASE_MACHINE, CASE_STATES, case, event)
    if check is not None:
        check()
    data = _event_data(data)
    from_state = case.state
    fire(CASE_MACHINE, case, event)
    return record_event(case, actor, "case", event, from_state=from_state, to_state=case.state,
                        reason=reason, data=data)


def _line_event(actor, line: FundingLine, event: str, *, expected_version=None, reason=None,
                data: EventData = None, check=None) -> Event:
    """Version seen, rights, state, then ``check()`` (the event's own guards), then fire and record
    (``data`` as in ``_case_event``)."""
    rule = LINE_RULES[event]
    case = line.case
    _check_version(line, expected_version)
    _check_right(actor, rule, case, line)
    _check_state(LINE_MACHINE, LINE_STATES, line, event)
    if check is not None:
        check()
    data = _event_data(data)
    from_state = line.state
    fire(LINE_MACHINE, line, event)
    line.updated_at = utcnow()
    recorded = record_event(case, actor, "line", event, from_state=from_state, to_state=line.state,
                            line=line, reason=reason, data=data)
    if line.is_final:
        _close_case_if_done(case)
    return recorded


def _grant_access(case: Case, agency_id: int) -> None:
    exists = db.session.scalar(select(CaseAgency.id).where(CaseAgency.case_id == case.id,
                                                           CaseAgency.agency_id == agency_id))
    if exists is None:
        db.session.add(CaseAgency(case_id=case.id, agency_id=agency_id))


def _close_case_if_done(case: Case) -> None:
    if case.state == "in_review" and all(line.is_final for line in case.lines):
        _case_event(None, case, "close")
        case.closed_at = utcnow()


def _parse_date(value, field: str, label: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ActionRefused(f"{label} doit être une date valide (jj/mm/aaaa).", field) from None


# --------------------------------------------------------------------------- references

def next_reference(year: int) -> str:
    """``AP-<year>-<5 digits>``, sequential per year; the counter row serialises concurrent drafts."""
    bump = (update(ReferenceCounter).where(ReferenceCounter.year == year)
            .values(last_number=ReferenceCounter.last_number + 1)
            .returning(ReferenceCounter.last_number))
    number = db.session.execute(bump).scalar()
    if number is None:
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(ReferenceCounter).values(year=year, last_number=0)
                           .on_conflict_do_nothing(index_elements=["year"]))
        number = db.session.execute(bump).scalar()
    return f"AP-{year}-{number:05d}"


# --------------------------------------------------------------------------- drafts (applicant)

def _check_editable(actor: User, case: Case) -> None:
    if not is_member(actor, case.company_id):
        raise ActionRefused("Seul un membre de l'entreprise peut modifier ce dossier.")
    if case.state not in CASE_EDITABLE_STATES:
        raise ActionRefused("Ce dossier ne peut plus être modifié : il est "
                            f"{CASE_STATES[case.state].lower()}.")


def create_case(actor: User, company: Company, *, title: str, description: str = "",
                starts_on: date | None = None, ends_on: date | None = None,
                eligible_cost=None) -> Case:
    if not is_member(actor, company.id):
        raise ActionRefused("Vous ne pouvez créer un dossier que pour une entreprise dont vous êtes membre.",
                            "company")
    case = Case(company=company, created_by=actor, state="draft",
                reference=next_reference(paris_today().year))
    _set_project(case, title=title, description=description, starts_on=starts_on, ends_on=ends_on,
                 eligible_cost=eligible_cost)
    db.session.add(case)
    db.session.flush()
    record_event(case, actor, "case", "create", to_state="draft")
    db.session.flush()
    return case


def _set_project(case: Case, *, title, description, starts_on, ends_on, eligible_cost) -> None:
    case.title = _required_text(title, "title", "Le titre du projet est obligatoire.")[:200]
    case.description = (description or "").strip()
    if starts_on and ends_on and ends_on < starts_on:
        raise ActionRefused("La date de fin doit suivre la date de début.", "ends_on")
    case.starts_on, case.ends_on = starts_on, ends_on
    if case.financing_plan is not None:  # then computed from the plan's expenses, never typed
        refresh_eligible_cost(case)
        return
    case.eligible_cost = (None if eligible_cost in (None, "") else
                          parse_amount(eligible_cost, "eligible_cost", label="Le coût éligible"))


def update_project(actor: User, case: Case, *, expected_version=None, **fields) -> None:
    _check_editable(actor, case)
    _check_version(case, expected_version)
    _set_project(case, **fields)
    case.updated_at = utcnow()
    db.session.flush()


def _check_line_amount(scheme: Scheme, amount: Decimal, eligible_cost: Decimal | None, field: str,
                       label: str) -> None:
    check_amount(scheme, amount, eligible_cost, field, label)  # the scheme's rules: schemes/rules.py


def add_line(actor: User, case: Case, *, scheme: Scheme, requested_amount) -> FundingLine:
    _check_editable(actor, case)
    amount = parse_amount(requested_amount, "requested_amount", label="Le montant demandé")
    _check_line_amount(scheme, amount, eligible_cost_for(case, scheme), "requested_amount",
                       "Le montant demandé")
    if any(line.scheme_id == scheme.id for line in case.lines):
        raise ActionRefused("Ce dispositif figure déjà dans le plan de financement.", "scheme")
    position = max((line.position for line in case.lines), default=0) + 1
    line = FundingLine(case=case, scheme=scheme, agency_id=scheme.agency_id,
                       requested_amount=amount, position=position, state="requested",
                       questionnaire_version_id=current_version_id(scheme.id))
    db.session.add(line)
    refresh_eligible_cost(case)
    case.updated_at = utcnow()
    db.session.flush()
    return line


def remove_line(actor: User, case: Case, line: FundingLine) -> None:
    _check_editable(actor, case)
    if case.state != "draft":
        raise ActionRefused("Une fois le dossier déposé, une demande ne peut plus être supprimée : "
                            "retirez le dossier si vous renoncez.")
    case.lines.remove(line)
    refresh_eligible_cost(case)
    case.updated_at = utcnow()
    db.session.flush()


def declare_minimis_aid(actor: User, case: Case, *, granted_on: date, granting_body: str, amount,
                        regime: str) -> MinimisAid:
    _check_editable(actor, case)
    if regime not in MINIMIS_REGIMES:
        raise ActionRefused("Choisissez un régime de minimis.", "regime")
    if granted_on > paris_today():
        raise ActionRefused("La date d'octroi ne peut pas être dans le futur.", "granted_on")
    aid = MinimisAid(siren=case.company.siren, case_id=case.id, source="declared",
                     granted_on=granted_on, regime=regime,
                     granting_body=_required_text(granting_body, "granting_body",
                                                  "L'organisme qui a accordé l'aide est obligatoire."),
                     amount=parse_amount(amount, "amount"))
    db.session.add(aid)
    case.minimis_declared = True
    case.updated_at = utcnow()
    db.session.flush()
    return aid


def remove_minimis_aid(actor: User, case: Case, aid: MinimisAid) -> None:
    _check_editable(actor, case)
    if aid.case_id != case.id or aid.source != "declared":
        raise ActionRefused("Cette aide ne fait pas partie de votre déclaration.")
    db.session.delete(aid)
    case.updated_at = utcnow()
    db.session.flush()


def declare_no_minimis(actor: User, case: Case) -> None:
    _check_editable(actor, case)
    case.minimis_declared = True
    case.updated_at = utcnow()
    db.session.flush()


# --------------------------------------------------------------------------- case events

def submission_problems(case: Case, today: date) -> list[str]:
    """Everything that keeps a dossier from being submitted, one French sentence each."""
    problems = []
    if not (case.title or "").strip():
        problems.append("Le titre du projet est obligatoire.")
    if not (case.description or "").strip():
        problems.append("Décrivez le projet.")
    if case.starts_on is None:
        problems.append("Indiquez la date de début du projet.")
    if not case.eligible_cost:
        problems.append("Indiquez le coût éligible du projet.")
    if not case.lines:
        problems.append("Ajoutez au moins une demande de financement au plan de financement.")
    for number, line in enumerate(case.lines, start=1):
        if line.state != "requested":
            # Filed in time and already in review: a dossier sent back as incomplete must not be
            # stuck there because a scheme closed since (nobody could then withdraw or dismiss it
            # once a line is granted).
            continue
        reasons = scheme_refusals(line.scheme, case.company, case, line.requested_amount, today)
        if reasons:  # one message per failing line, every reason in it
            text = " ".join(reasons)
            problems.append(f"Demande {number} : {text[0].lower()}{text[1:]}")
    present = {document.kind for document in case.documents}
    missing = []
    for line in case.lines:
        for kind in line.scheme.required_documents:
            if kind not in present and kind not in missing:
                missing.append(kind)
    for kind in missing:
        problems.append(f"Pièce manquante : {DOCUMENT_KINDS.get(kind, kind)}.")
    if any(line.scheme.is_de_minimis for line in case.lines) and not case.minimis_declared:
        problems.append("Déclarez les aides de minimis reçues ces trois dernières années "
                        "(ou l'absence de telles aides).")
    problems.extend(missing_answers(case))  # each scheme's questionnaire, required visible answers
    problems.extend(plan_problems(case))  # the full financing plan balances, or the gap is explained
    return problems


def _check_submittable(case: Case) -> None:
    problems = submission_problems(case, paris_today())
    if problems:
        raise ActionRefused("Le dossier ne peut pas encore être déposé : " + " ".join(problems))


def submit_case(actor: User, case: Case, *, expected_version=None) -> Event:
    lead_line = None

    def check():
        nonlocal lead_line
        _check_submittable(case)
        lead_line = max(case.lines, key=lambda line: (line.requested_amount, -line.position))

    event = _case_event(actor, case, "submit", expected_version=expected_version, check=check,
                        data=lambda: {"lead_agency": lead_line.agency.short_name})
    case.lead_agency_id = lead_line.agency_id
    case.submitted_at = utcnow()
    _grant_access_to_line_agencies(case)
    db.session.flush()
    return event


def _grant_access_to_line_agencies(case: Case) -> None:
    """Every agency holding a line sees the case (the lead holds one too). Called on resubmission
    as well: a dossier sent back as incomplete may come back with lines to new agencies."""
    for agency_id in {line.agency_id for line in case.lines}:
        _grant_access(case, agency_id)


def request_info(actor: User, case: Case, *, message: str, expected_version=None) -> Event:
    check = lambda: _required_text(message, "message", "Écrivez au demandeur ce qui manque au dossier.")  # noqa: E731
    event = _case_event(actor, case, "request_info", expected_version=expected_version, reason=message,
                        check=check)
    body = message.strip()
    db.session.add(Message(case=case, author=actor, agency_id=actor.agency_id, body=body, internal=False))
    case.clock_paused_at = utcnow()
    db.session.flush()
    return event


def resubmit_case(actor: User, case: Case, *, expected_version=None) -> Event:
    event = _case_event(actor, case, "resubmit", expected_version=expected_version,
                        check=lambda: _check_submittable(case))
    if case.clock_paused_at is not None:
        case.paused_seconds += int((utcnow() - case.clock_paused_at).total_seconds())
        case.clock_paused_at = None
    _grant_access_to_line_agencies(case)
    db.session.flush()
    return event


def accept_case(actor: User, case: Case, *, expected_version=None) -> Event:
    event = _case_event(actor, case, "accept", expected_version=expected_version)
    case.completed_at = utcnow()
    for line in case.lines:
        if line.state == "requested":
            _line_event(None, line, "start_review")
    # Lines may all have become final while the applicant was completing the dossier.
    _close_case_if_done(case)
    db.session.flush()
    return event


def transfer_lead(actor: User, case: Case, *, agency: Agency | None, reason: str,
                  expected_version=None) -> Event:
    def check():
        if agency is None:
            raise ActionRefused("Choisissez l'organisme qui pilotera le dossier.", "agency")
        if agency.id == case.lead_agency_id:
            raise ActionRefused("Cet organisme pilote déjà le dossier : choisissez-en un autre.", "agency")
        _required_text(reason, "reason", "Indiquez le motif du transfert.")

    former = case.lead_agency
    event = _case_event(actor, case, "transfer_lead", expected_version=expected_version, reason=reason,
                        check=check,
                        data=lambda: {"from_agency": former.short_name, "to_agency": agency.short_name})
    case.lead_agency_id = agency.id
    _grant_access(case, agency.id)
    db.session.flush()
    return event


def _no_line_granted(case: Case, verb: str) -> None:
    if any(line.state in LINE_GRANTED_STATES for line in case.lines):
        raise ActionRefused(f"Une aide a déjà été accordée sur ce dossier : il ne peut plus être {verb}. "
                            "Chaque demande encore ouverte peut être traitée séparément.")


def dismiss_case(actor: User, case: Case, *, reason: str, expected_version=None) -> Event:
    def check():
        _no_line_granted(case, "classé sans suite")
        _required_text(reason, "reason", "Indiquez le motif du classement sans suite.")

    event = _case_event(actor, case, "dismiss", expected_version=expected_version, reason=reason,
                        check=check)
    reason = reason.strip()
    for line in case.lines:
        if line.state in LINE_OPEN_STATES:
            _cascade_line(line, "dismiss", reason)
    case.closed_at = utcnow()
    db.session.flush()
    return event


def withdraw_case(actor: User, case: Case, *, reason: str | None = None, expected_version=None) -> Event:
    event = _case_event(actor, case, "withdraw", expected_version=expected_version, reason=reason,
                        check=lambda: _no_line_granted(case, "retiré"))
    for line in case.lines:
        if line.state in LINE_OPEN_STATES:
            _cascade_line(line, "withdraw", None)
    case.closed_at = utcnow()
    db.session.flush()
    return event


def _cascade_line(line: FundingLine, event: str, reason: str | None) -> None:
    """A line follows its case (withdraw/dismiss): through the machine, as the system."""
    from_state = line.state
    fire(LINE_MACHINE, line, event)
    line.updated_at = utcnow()
    _withdraw_from_agenda(line)
    record_event(line.case, None, "line", event, from_state=from_state, to_state=line.state,
                 line=line, reason=reason)


def _withdraw_from_agenda(line: FundingLine) -> None:
    item = line.current_agenda_item
    if item is not None:
        item.outcome = "withdrawn"


# --------------------------------------------------------------------------- line events

def transfer_line(actor: User, line: FundingLine, *, agency: Agency | None, reason: str,
                  scheme: Scheme | None = None, expected_version=None) -> Event:
    def check():
        if agency is None:
            raise ActionRefused("Choisissez l'organisme partenaire à qui confier la demande.", "agency")
        if agency.id == line.agency_id:
            raise ActionRefused("Cette demande est déjà instruite par cet organisme.", "agency")
        if scheme is not None and scheme.agency_id != agency.id:
            raise ActionRefused("Le nouveau dispositif doit être un dispositif de l'organisme choisi.",
                                "scheme")
        _required_text(reason, "reason", "Indiquez le motif du transfert.")

    data = {"from_agency": line.agency.short_name,
            "to_agency": agency.short_name if agency else None}
    if scheme is not None:
        data.update(from_scheme=line.scheme.code, to_scheme=scheme.code)
    event = _line_event(actor, line, "transfer", expected_version=expected_version,
                        reason=(reason or "").strip(), data=data, check=check)
    line.agency_id = agency.id
    line.agency = agency
    if scheme is not None:
        line.scheme_id = scheme.id
        line.scheme = scheme
    line.assigned_agent_id = None
    _grant_access(line.case, agency.id)
    db.session.flush()
    return event


def propose_line(actor: User, line: FundingLine, *, meeting: Meeting | None, proposed_amount,
                 expected_version=None) -> Event:
    amount = None

    def check():
        nonlocal amount
        if meeting is None:
            raise ActionRefused("Choisissez la séance du comité.", "meeting")
        if meeting.committee_id != line.scheme.committee_id:
            raise ActionRefused("Cette séance n'est pas une séance du comité qui décide ce dispositif.",
                                "meeting")
        if not meeting.is_planned(paris_today()):
            raise ActionRefused("Cette séance est passée : choisissez une séance à venir.", "meeting")
        amount = parse_amount(proposed_amount, "proposed_amount", label="Le montant proposé")
        if amount > line.requested_amount:
            raise ActionRefused(f"Le montant proposé ne peut pas dépasser le montant demandé "
                                f"({money(line.requested_amount)}).", "proposed_amount")
        _check_line_amount(line.scheme, amount, eligible_cost_for(line.case, line.scheme), "proposed_amount",
                           "Le montant proposé")

    event = _line_event(actor, line, "propose", expected_version=expected_version, check=check,
                        data=lambda: {"meeting_id": meeting.id, "meeting_date": meeting.meets_on,
                                      "proposed_amount": amount})
    line.proposed_amount = amount
    db.session.add(AgendaItem(meeting=meeting, line=line, proposed_amount=amount,
                              proposed_by=actor, presented=_presented(line, amount)))
    db.session.flush()
    return event


def _presented(line: FundingLine, proposed: Decimal) -> dict:
    """The line as put before the committee, frozen: later edits don't change the agenda."""
    case, company, scheme = line.case, line.case.company, line.scheme
    return _jsonable({
        "reference": case.reference, "company": company.name, "siret": company.siret,
        "commune": company.commune, "departement": company.departement, "naf": company.naf_code,
        "size": company.size, "project": case.title, "scheme": scheme.name,
        "instrument": scheme.instrument, "eligible_cost": case.eligible_cost,
        "requested": line.requested_amount, "proposed": proposed,
    })


def approve_line(actor: User, line: FundingLine, *, granted_amount, gross_grant_equivalent=None,
                 expected_version=None, over_envelope_confirmed=False) -> Event:
    """Grant ``granted_amount`` on ``line``. Beyond what remains of the scheme's annual envelope this
    year it is refused unless ``over_envelope_confirmed``; then the figures go into the event."""
    today = paris_today()
    scheme = line.scheme
    amount = gge = None
    gge_estimated = False
    over_envelope = None

    def check():
        nonlocal amount, gge, gge_estimated, over_envelope
        amount = parse_amount(granted_amount, "granted_amount", label="Le montant accordé")
        if amount > line.proposed_amount:
            raise ActionRefused(f"Le montant accordé ne peut pas dépasser le montant proposé "
                                f"({money(line.proposed_amount)}).", "granted_amount")
        _check_line_amount(scheme, amount, eligible_cost_for(line.case, scheme), "granted_amount",
                           "Le montant accordé")
        check_intensity(line, amount)  # cumulated public aid on the project, per the company's size
        if scheme.annual_budget is not None:
            envelope, committed, remaining = envelope_positions([scheme], today.year)[scheme.id]
            if committed + amount > envelope:
                if not over_envelope_confirmed:
                    raise ActionRefused(
                        f"Enveloppe annuelle {today.year} dépassée : l'enveloppe du dispositif est de "
                        f"{money(envelope)}, {money(committed)} sont déjà engagés, cette aide représente "
                        f"{money(amount)}, "
                        + (f"il reste {money(remaining)}" if remaining >= 0
                           else f"elle est déjà dépassée de {money(-remaining)}")
                        + ". Cochez la confirmation pour "
                        "accorder l'aide au-delà de l'enveloppe.", "granted_amount")
                over_envelope = {"over_envelope": True, "envelope_year": today.year, "envelope": envelope,
                                 "envelope_committed": committed, "envelope_remaining": remaining}
        if not scheme.is_de_minimis:
            return
        if scheme.instrument == "grant":
            gge = amount
        elif gross_grant_equivalent in (None, ""):
            gge, gge_estimated = estimated_gge(amount), True
        else:
            gge = parse_amount(gross_grant_equivalent, "gross_grant_equivalent", allow_zero=True,
                               label="L'équivalent-subvention brut")
            if gge > amount:
                raise ActionRefused("L'équivalent-subvention brut ne peut pas dépasser le montant "
                                    "accordé.", "gross_grant_equivalent")
        siren = line.case.company.siren
        lock_company_minimis(siren)  # before summing: see its docstring
        excess = minimis_excess(siren, scheme.regime, gge, today, case_id=line.case_id)
        if excess is not None:
            received, ceiling = excess.received, excess.limit.ceiling
            raise ActionRefused(
                f"Plafond {excess.limit.label} dépassé : l'entreprise a déjà reçu {money(received)} "
                f"sur trois ans, cette aide représente {money(gge)}, le plafond est de {money(ceiling)}. "
                f"Marge disponible : {money(excess.headroom)}.", "granted_amount")

    event = _line_event(actor, line, "approve", expected_version=expected_version, check=check,
                        data=lambda: {"granted_amount": amount, "gross_grant_equivalent": gge,
                                      **({"gross_grant_equivalent_estimated": True} if gge_estimated else {}),
                                      **(over_envelope or {})})
    now = utcnow()
    line.granted_amount, line.gross_grant_equivalent, line.decided_at = amount, gge, now
    _decide_agenda_item(line, "approved", granted=amount, decided_at=now)
    if scheme.is_de_minimis and gge:
        db.session.add(MinimisAid(siren=line.case.company.siren, granted_on=today, amount=gge,
                                  regime=scheme.regime, source="granted", case_id=line.case_id,
                                  line_id=line.id, granting_body=line.agency.name,
                                  description=scheme.name))
    db.session.flush()
    return event


def _decide_agenda_item(line: FundingLine, outcome: str, *, granted=None, reason=None,
                        decided_at=None) -> None:
    item = line.current_agenda_item
    if item is not None:
        item.outcome, item.granted_amount, item.decision_reason = outcome, granted, reason
        item.decided_at = decided_at or utcnow()


def reject_line(actor: User, line: FundingLine, *, reason: str, expected_version=None) -> Event:
    check = lambda: _required_text(reason, "reason", "Indiquez le motif du refus.")  # noqa: E731
    event = _line_event(actor, line, "reject", expected_version=expected_version, reason=reason,
                        check=check)
    line.decided_at = utcnow()
    _decide_agenda_item(line, "rejected", reason=reason.strip(), decided_at=line.decided_at)
    db.session.flush()
    return event


def adjourn_line(actor: User, line: FundingLine, *, reason: str, expected_version=None) -> Event:
    check = lambda: _required_text(reason, "reason", "Indiquez le motif de l'ajournement.")  # noqa: E731
    event = _line_event(actor, line, "adjourn", expected_version=expected_version, reason=reason,
                        check=check)
    _decide_agenda_item(line, "adjourned", reason=reason.strip())
    db.session.flush()
    return event


def _parse_count(value, field: str, label: str, *, low: int, high: int, default: int | None = None) -> int:
    text = "" if value is None else str(value).strip()
    if not text:
        if default is not None:
            return default
        raise ActionRefused(f"Indiquez {label}.", field)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ActionRefused(f"{label[0].upper()}{label[1:]} doit être un nombre entier de {low} à {high}.", field)
    return int(text)


def _parse_schedule(line: FundingLine, signed_on: date, *, instalment_count, frequency_months,
                    deferral_months, first_due_on) -> dict:
    """The repayment schedule typed with the agreement of an advance or a loan, checked."""
    count = _parse_count(instalment_count, "instalment_count", "le nombre d'échéances",
                         low=1, high=MAX_INSTALMENTS)
    if line.granted_amount < count * Decimal("0.01"):
        raise ActionRefused(f"Trop d'échéances pour {money(line.granted_amount)} : chacune doit être d'au "
                            f"moins un centime.", "instalment_count")
    frequency = optional_int(frequency_months)
    if frequency not in REPAYMENT_FREQUENCIES:
        raise ActionRefused("Choisissez la périodicité des échéances.", "frequency_months")
    deferral = _parse_count(deferral_months, "deferral_months", "le différé (en mois)",
                            low=0, high=MAX_DEFERRAL_MONTHS, default=0)
    earliest = add_months(signed_on, deferral)
    if first_due_on:
        first = _parse_date(first_due_on, "first_due_on", "La date de la première échéance")
        if first <= signed_on:
            raise ActionRefused("La première échéance doit venir après la signature de la convention.",
                                "first_due_on")
        if first < earliest:
            raise ActionRefused(f"La première échéance ne peut pas tomber pendant le différé "
                                f"(pas avant le {day(earliest)}).", "first_due_on")
    else:
        first = first_due_date(signed_on, deferral_months=deferral, frequency_months=frequency)
    return {"count": count, "frequency": frequency, "deferral": deferral, "first": first,
            "instalments": schedule(line.granted_amount, count=count, frequency_months=frequency,
                                    first_due_on=first)}


def sign_agreement(actor: User, line: FundingLine, *, signed_on, instalment_count=None, frequency_months=None,
                   deferral_months=None, first_due_on=None, expected_version=None) -> Event:
    """The agreement is signed. For an advance or a zero-rate loan it sets the repayment schedule
    (``repayments.py``): number of instalments, frequency in months, deferral in months, and the
    first due date (by default the signature plus the deferral plus one period)."""
    signed = plan = None

    def check():
        nonlocal signed, plan
        if not signed_on:
            raise ActionRefused("Indiquez la date de signature de la convention.", "signed_on")
        signed = _parse_date(signed_on, "signed_on", "La date de signature")
        if signed > paris_today():
            raise ActionRefused("La date de signature ne peut pas être dans le futur.", "signed_on")
        if line.decided_at is not None and signed < line.decided_at.date() - timedelta(days=1):
            raise ActionRefused("La convention ne peut pas être signée avant la décision.", "signed_on")
        if line.is_repayable:
            plan = _parse_schedule(line, signed, instalment_count=instalment_count,
                                   frequency_months=frequency_months, deferral_months=deferral_months,
                                   first_due_on=first_due_on)

    def data():
        if plan is None:
            return {"signed_on": signed}
        return {"signed_on": signed, "instalment_count": plan["count"], "frequency_months": plan["frequency"],
                "deferral_months": plan["deferral"], "first_due_on": plan["first"],
                "last_due_on": plan["instalments"][-1][0]}

    event = _line_event(actor, line, "sign_agreement", expected_version=expected_version, check=check,
                        data=data)
    line.agreement_signed_on = signed
    if plan is not None:
        line.repayment_frequency_months, line.repayment_deferral_months = plan["frequency"], plan["deferral"]
        line.instalments = [RepaymentInstalment(number=number, due_on=due_on, amount=amount)
                            for number, (due_on, amount) in enumerate(plan["instalments"], start=1)]
    db.session.flush()
    return event


def _parse_money_day(value, field: str, label: str, *, not_before: date | None, before_label: str) -> date:
    if not value:
        raise ActionRefused(f"Indiquez {label[0].lower()}{label[1:]}.", field)
    result = _parse_date(value, field, label)
    if result > paris_today():
        raise ActionRefused(f"{label} ne peut pas être dans le futur.", field)
    if not_before is not None and result < not_before:
        raise ActionRefused(f"{label} ne peut pas précéder {before_label} ({day(not_before)}).", field)
    return result


def record_payment(actor: User, line: FundingLine, *, amount, paid_on, expected_version=None) -> Event:
    value = when = None

    def check():
        nonlocal value, when
        value = parse_amount(amount, "amount", label="Le montant versé")
        when = _parse_money_day(paid_on, "paid_on", "La date du versement", not_before=None, before_label="")
        if line.paid_total + value > line.granted_amount:
            raise ActionRefused(f"Ce versement dépasserait le montant accordé : il reste "
                                f"{money(line.remaining_to_pay)} à verser.", "amount")
        check_payment_leaves_balance(line, value)

    event = _line_event(actor, line, "record_payment", expected_version=expected_version, check=check,
                        data=lambda: {"amount": value, "paid_on": when})
    db.session.add(Payment(line=line, amount=value, paid_on=when, recorded_by_id=actor.id))
    db.session.flush()
    return event


def record_repayment(actor: User, line: FundingLine, *, amount, repaid_on, expected_version=None) -> Event:
    """The company paid back ``amount`` of an advance or a loan; never more than it owes (what was
    paid to it and not yet repaid)."""
    value = when = None

    def check():
        nonlocal value, when
        if not line.is_repayable:
            raise ActionRefused("Cette aide n'est pas remboursable : seules les avances remboursables et "
                                "les prêts à taux zéro ont un échéancier.")
        value = parse_amount(amount, "amount", label="Le montant remboursé")
        when = _parse_money_day(repaid_on, "repaid_on", "La date du remboursement",
                                not_before=line.agreement_signed_on, before_label="la signature de la convention")
        if value > line.owed:
            raise ActionRefused(f"Ce remboursement dépasserait ce que l'entreprise doit : "
                                f"{money(line.owed)} (versé {money(line.paid_total)}, déjà remboursé "
                                f"{money(line.repaid_total)}).", "amount")

    event = _line_event(actor, line, "record_repayment", expected_version=expected_version, check=check,
                        data=lambda: {"amount": value, "repaid_on": when, "owed_after": line.owed - value})
    line.repayments.append(Repayment(amount=value, repaid_on=when, recorded_by_id=actor.id))
    db.session.flush()
    return event


def settle_line(actor: User, line: FundingLine, *, reason: str | None = None, balance_amount=None,
                balance_paid_on=None, expected_version=None) -> Event:
    """Close the line: what was granted and not paid is released (reliquat). An advance or a loan is
    settled only once all that was paid is repaid, or with the rest written off for ``reason``.
    A grant on a dossier with a financing plan is settled by paying its balance, pro rata of the
    eligible expenses really made (``plans.operations.settle_balance``; another amount needs ``reason``)."""
    released, written_off = line.remaining_to_pay, Decimal("0.00")
    reason = (reason or "").strip() or None
    balance = None

    def check():
        nonlocal written_off, balance, released
        if line.is_repayable and line.owed > 0:
            if not reason:
                raise ActionRefused(
                    f"Il reste {money(line.owed)} à rembourser : la demande ne peut être soldée qu'une "
                    f"fois remboursée en totalité, ou en abandonnant ce reste dû avec un motif.", "reason")
            written_off = line.owed
        balance = settle_balance(line, amount=balance_amount, paid_on=balance_paid_on, reason=reason)
        if balance is not None:
            released = line.remaining_to_pay - balance.amount

    def data():
        paid = line.paid_total + (balance.amount if balance is not None else Decimal("0.00"))
        if not line.is_repayable:
            return {"paid_total": paid, "released_amount": released,
                    **(balance.event_data() if balance is not None else {})}
        return {"paid_total": paid, "released_amount": released,
                "repaid_total": line.repaid_total, "written_off_amount": written_off}

    event = _line_event(actor, line, "settle", expected_version=expected_version, reason=reason, check=check,
                        data=data)
    if balance is not None and balance.amount > 0:
        line.payments.append(Payment(amount=balance.amount, paid_on=balance.paid_on, recorded_by_id=actor.id))
    if line.is_repayable:
        line.written_off_amount = written_off
    line.released_amount = released
    line.settled_at = utcnow()
    db.session.flush()
    return event


def dismiss_line(actor: User, line: FundingLine, *, reason: str, expected_version=None) -> Event:
    check = lambda: _required_text(reason, "reason", "Indiquez le motif du classement.")  # noqa: E731
    event = _line_event(actor, line, "dismiss", expected_version=expected_version, reason=reason,
                        check=check)
    _withdraw_from_agenda(line)
    db.session.flush()
    return event


CASE_STATES_ENDING_LINES = frozenset({"dismissed", "withdrawn"})  # a closed case reopens with its line


def lines_may_reopen(case: Case) -> bool:
    """Whether a refused or dismissed line of ``case`` may be reopened (recours gracieux): not once
    the whole dossier is dismissed or withdrawn, whatever else it is doing (even incomplete)."""
    return case.state not in CASE_STATES_ENDING_LINES


def reopen_line(actor: User, line: FundingLine, *, reason: str, expected_version=None) -> Event:
    case = line.case

    def check():
        _required_text(reason, "reason", "Indiquez le motif de la réouverture (recours gracieux).")
        if not lines_may_reopen(case):
            raise ActionRefused("Le dossier a été " + CASE_STATES[case.state].lower()
                                + " : ses demandes ne peuvent plus être rouvertes.")

    event = _line_event(actor, line, "reopen", expected_version=expected_version, reason=reason,
                        check=check)
    line.decided_at = None
    if case.state == "closed":
        _case_event(None, case, "reopen")
        case.closed_at = None
    db.session.flush()
    return event


# --------------------------------------------------------------------------- opinions

OPINION_LINE_STATES = frozenset({"under_review", "on_agenda"})  # a line on which an opinion may be asked


def ask_opinion(actor: User, line: FundingLine, *, agency: Agency | None, due_on, question: str = "",
                expected_version=None) -> Opinion:
    _check_version(line, expected_version)
    if "line_agent" not in roles_on(actor, line.case, line):
        raise ActionRefused(f"Seul {WHO_LABELS['line_agent']} peut demander un avis.")
    if line.state not in OPINION_LINE_STATES:
        raise ActionRefused("Un avis ne peut être demandé que sur une demande en instruction.")
    if agency is None:
        raise ActionRefused("Choisissez l'organisme à consulter.", "agency")
    if agency.id == line.agency_id:
        raise ActionRefused("On ne demande pas l'avis de l'organisme qui instruit la demande.", "agency")
    if any(o.agency_id == agency.id and o.verdict is None for o in line.opinions):
        raise ActionRefused("Un avis de cet organisme est déjà attendu sur cette demande.", "agency")
    if not due_on:
        raise ActionRefused("Indiquez la date à laquelle l'avis est attendu.", "due_on")
    due = _parse_date(due_on, "due_on", "La date d'échéance")
    if due < paris_today():
        raise ActionRefused("La date d'échéance ne peut pas être passée.", "due_on")
    opinion = Opinion(line=line, agency=agency, requested_by=actor, due_on=due,
                      question=(question or "").strip())
    db.session.add(opinion)
    _grant_access(line.case, agency.id)
    db.session.flush()
    record_event(line.case, actor, "opinion", "ask_opinion", line=line, reason=opinion.question or None,
                 data={"opinion_id": opinion.id, "agency": agency.short_name, "due_on": due})
    db.session.flush()
    return opinion


def give_opinion(actor: User, opinion: Opinion, *, verdict: str, intended_amount=None,
                 comment: str = "") -> Event:
    if not (actor.is_agent and actor.agency_id == opinion.agency_id):
        raise ActionRefused("Seul un agent de l'organisme consulté peut donner cet avis.")
    if opinion.verdict is not None:
        raise ActionRefused("Cet avis a déjà été donné.")
    if opinion.line.is_final or opinion.line.case.is_final:
        raise ActionRefused("La demande est close : cet avis n'est plus attendu.")
    from .models import OPINION_VERDICTS

    if verdict not in OPINION_VERDICTS:
        raise ActionRefused("Choisissez un avis : favorable, réservé ou défavorable.", "verdict")
    amount = (None if intended_amount in (None, "") else
              parse_amount(intended_amount, "intended_amount", allow_zero=True,
                           label="Le montant de cofinancement envisagé"))
    opinion.verdict, opinion.intended_amount = verdict, amount
    opinion.comment = (comment or "").strip()
    opinion.answered_by, opinion.answered_at = actor, utcnow()
    event = record_event(opinion.line.case, actor, "opinion", "give_opinion", line=opinion.line,
                         reason=opinion.comment or None,
                         data={"opinion_id": opinion.id, "verdict": verdict, "intended_amount": amount})
    db.session.flush()
    return event


# --------------------------------------------------------------------------- messages

def post_message(actor: User, case: Case, *, body: str, internal: bool = False) -> Message:
    text = _required_text(body, "body", "Le message est vide.")
    if actor.is_applicant:
        if not may_post_messages(actor, case):
            raise ActionRefused("Seul un membre de l'entreprise peut écrire sur ce dossier.")
        if internal:
            raise ActionRefused("Les notes internes sont réservées aux agents.")
    elif not actor.is_agent:
        raise ActionRefused("Les administrateurs n'interviennent pas sur les dossiers.")
    elif not may_post_messages(actor, case):
        raise ActionRefused("Votre organisme consulte ce dossier en lecture seule : seuls l'organisme "
                            "pilote et ceux qui instruisent une demande y écrivent.")
    message = Message(case=case, author=actor, agency_id=actor.agency_id, body=text,
                      internal=bool(internal) and actor.is_agent)
    db.session.add(message)
    # A message changes nothing that a concurrent decision relies on: refresh the "last update" of
    # the dossier without bumping its version, so that two messages at once both go through.
    db.session.execute(update(Case).where(Case.id == case.id).values(updated_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.flush()
    return message
