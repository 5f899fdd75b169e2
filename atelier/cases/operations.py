"""Every change of a dossier's state: one function per event of workflow.py.

Draft editing lives in ``drafts.py``, opinions and messages in ``opinions.py``, the guards and
the writing of events every operation shares in ``events.py``; this module gives them all under
one name (``operations.create_case``…).

Each operation checks the actor's right (the ``who`` column), checks the event's
guards, fires the event through the shared machine, writes its ``Event`` and
flushes. None commits: the request (or the CLI command) commits once, or rolls
back everything on any error. Automatic steps (review start on accept, close
when the last line is final, cascades) go through the machines too and write
their own events, with no actor.

An event is append-only (``audit.py``): everything it carries is computed before
it is created, from what the guards parsed, never written onto it afterwards.
"""
from datetime import date, timedelta
from decimal import Decimal

from ..agencies.models import Agency
from ..auth.models import User
from ..common import ActionRefused, parse_amount, utcnow
from ..committees.models import AgendaItem, Meeting
from ..companies.models import MinimisAid
from ..extensions import db
from ..formatting import money, paris_today
from ..questionnaires.answers import missing_answers
from ..plans.operations import (check_intensity, check_payment_leaves_balance, eligible_cost_for,
                                plan_problems, settle_balance)
from ..schemes.envelopes import envelope_positions
from ..schemes.models import DOCUMENT_KINDS, Scheme
from ..schemes.rules import check_amount, scheme_refusals
from ..workflow import LINE_GRANTED_STATES, LINE_MACHINE, LINE_OPEN_STATES, CASE_STATES, fire
from .minimis import estimated_gge, lock_company_minimis, minimis_excess
from .models import Case, Event, FundingLine, Message, Payment, Repayment, RepaymentInstalment
from .repayments import parse_schedule
from .events import (case_event, close_case_if_done, grant_access, jsonable, line_event, parse_iso_date,
                     parse_money_day, record_event, required_text)
# Draft editing, opinions and messages, and the shared guards, under this one name too.
from .drafts import (add_line, create_case, declare_minimis_aid, declare_no_minimis,  # noqa: F401
                     next_reference, remove_line, remove_minimis_aid, update_project)
from .events import WHO_LABELS, check_editable, check_version  # noqa: F401
from .opinions import ask_opinion, give_opinion, post_message  # noqa: F401


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

    event = case_event(actor, case, "submit", expected_version=expected_version, check=check,
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
        grant_access(case, agency_id)


def request_info(actor: User, case: Case, *, message: str, expected_version=None) -> Event:
    check = lambda: required_text(message, "message", "Écrivez au demandeur ce qui manque au dossier.")  # noqa: E731
    event = case_event(actor, case, "request_info", expected_version=expected_version, reason=message,
                        check=check)
    body = message.strip()
    db.session.add(Message(case=case, author=actor, agency_id=actor.agency_id, body=body, internal=False))
    case.clock_paused_at = utcnow()
    db.session.flush()
    return event


def resubmit_case(actor: User, case: Case, *, expected_version=None) -> Event:
    event = case_event(actor, case, "resubmit", expected_version=expected_version,
                        check=lambda: _check_submittable(case))
    if case.clock_paused_at is not None:
        case.paused_seconds += int((utcnow() - case.clock_paused_at).total_seconds())
        case.clock_paused_at = None
    _grant_access_to_line_agencies(case)
    db.session.flush()
    return event


def accept_case(actor: User, case: Case, *, expected_version=None) -> Event:
    event = case_event(actor, case, "accept", expected_version=expected_version)
    case.completed_at = utcnow()
    for line in case.lines:
        if line.state == "requested":
            line_event(None, line, "start_review")
    # Lines may all have become final while the applicant was completing the dossier.
    close_case_if_done(case)
    db.session.flush()
    return event


def transfer_lead(actor: User, case: Case, *, agency: Agency | None, reason: str,
                  expected_version=None) -> Event:
    def check():
        if agency is None:
            raise ActionRefused("Choisissez l'organisme qui pilotera le dossier.", "agency")
        if agency.id == case.lead_agency_id:
            raise ActionRefused("Cet organisme pilote déjà le dossier : choisissez-en un autre.", "agency")
        required_text(reason, "reason", "Indiquez le motif du transfert.")

    former = case.lead_agency
    event = case_event(actor, case, "transfer_lead", expected_version=expected_version, reason=reason,
                        check=check,
                        data=lambda: {"from_agency": former.short_name, "to_agency": agency.short_name})
    case.lead_agency_id = agency.id
    grant_access(case, agency.id)
    db.session.flush()
    return event


def _no_line_granted(case: Case, verb: str) -> None:
    if any(line.state in LINE_GRANTED_STATES for line in case.lines):
        raise ActionRefused(f"Une aide a déjà été accordée sur ce dossier : il ne peut plus être {verb}. "
                            "Chaque demande encore ouverte peut être traitée séparément.")


def dismiss_case(actor: User, case: Case, *, reason: str, expected_version=None) -> Event:
    def check():
        _no_line_granted(case, "classé sans suite")
        required_text(reason, "reason", "Indiquez le motif du classement sans suite.")

    event = case_event(actor, case, "dismiss", expected_version=expected_version, reason=reason,
                        check=check)
    reason = reason.strip()
    for line in case.lines:
        if line.state in LINE_OPEN_STATES:
            _cascade_line(line, "dismiss", reason)
    case.closed_at = utcnow()
    db.session.flush()
    return event


def withdraw_case(actor: User, case: Case, *, reason: str | None = None, expected_version=None) -> Event:
    event = case_event(actor, case, "withdraw", expected_version=expected_version, reason=reason,
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
        required_text(reason, "reason", "Indiquez le motif du transfert.")

    data = {"from_agency": line.agency.short_name,
            "to_agency": agency.short_name if agency else None}
    if scheme is not None:
        data.update(from_scheme=line.scheme.code, to_scheme=scheme.code)
    event = line_event(actor, line, "transfer", expected_version=expected_version,
                        reason=(reason or "").strip(), data=data, check=check)
    line.agency_id = agency.id
    line.agency = agency
    if scheme is not None:
        line.scheme_id = scheme.id
        line.scheme = scheme
    line.assigned_agent_id = None
    grant_access(line.case, agency.id)
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
        check_amount(line.scheme, amount, eligible_cost_for(line.case, line.scheme), "proposed_amount",
                           "Le montant proposé")

    event = line_event(actor, line, "propose", expected_version=expected_version, check=check,
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
    return jsonable({
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
        check_amount(scheme, amount, eligible_cost_for(line.case, scheme), "granted_amount",
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

    event = line_event(actor, line, "approve", expected_version=expected_version, check=check,
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
    check = lambda: required_text(reason, "reason", "Indiquez le motif du refus.")  # noqa: E731
    event = line_event(actor, line, "reject", expected_version=expected_version, reason=reason,
                        check=check)
    line.decided_at = utcnow()
    _decide_agenda_item(line, "rejected", reason=reason.strip(), decided_at=line.decided_at)
    db.session.flush()
    return event


def adjourn_line(actor: User, line: FundingLine, *, reason: str, expected_version=None) -> Event:
    check = lambda: required_text(reason, "reason", "Indiquez le motif de l'ajournement.")  # noqa: E731
    event = line_event(actor, line, "adjourn", expected_version=expected_version, reason=reason,
                        check=check)
    _decide_agenda_item(line, "adjourned", reason=reason.strip())
    db.session.flush()
    return event


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
        signed = parse_iso_date(signed_on, "signed_on", "La date de signature")
        if signed > paris_today():
            raise ActionRefused("La date de signature ne peut pas être dans le futur.", "signed_on")
        if line.decided_at is not None and signed < line.decided_at.date() - timedelta(days=1):
            raise ActionRefused("La convention ne peut pas être signée avant la décision.", "signed_on")
        if line.is_repayable:
            plan = parse_schedule(line, signed, instalment_count=instalment_count,
                                   frequency_months=frequency_months, deferral_months=deferral_months,
                                   first_due_on=first_due_on)

    def data():
        if plan is None:
            return {"signed_on": signed}
        return {"signed_on": signed, "instalment_count": plan["count"], "frequency_months": plan["frequency"],
                "deferral_months": plan["deferral"], "first_due_on": plan["first"],
                "last_due_on": plan["instalments"][-1][0]}

    event = line_event(actor, line, "sign_agreement", expected_version=expected_version, check=check,
                        data=data)
    line.agreement_signed_on = signed
    if plan is not None:
        line.repayment_frequency_months, line.repayment_deferral_months = plan["frequency"], plan["deferral"]
        line.instalments = [RepaymentInstalment(number=number, due_on=due_on, amount=amount)
                            for number, (due_on, amount) in enumerate(plan["instalments"], start=1)]
    db.session.flush()
    return event


def record_payment(actor: User, line: FundingLine, *, amount, paid_on, expected_version=None) -> Event:
    value = when = None

    def check():
        nonlocal value, when
        value = parse_amount(amount, "amount", label="Le montant versé")
        when = parse_money_day(paid_on, "paid_on", "La date du versement", not_before=None, before_label="")
        if line.paid_total + value > line.granted_amount:
            raise ActionRefused(f"Ce versement dépasserait le montant accordé : il reste "
                                f"{money(line.remaining_to_pay)} à verser.", "amount")
        check_payment_leaves_balance(line, value)

    event = line_event(actor, line, "record_payment", expected_version=expected_version, check=check,
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
        when = parse_money_day(repaid_on, "repaid_on", "La date du remboursement",
                                not_before=line.agreement_signed_on, before_label="la signature de la convention")
        if value > line.owed:
            raise ActionRefused(f"Ce remboursement dépasserait ce que l'entreprise doit : "
                                f"{money(line.owed)} (versé {money(line.paid_total)}, déjà remboursé "
                                f"{money(line.repaid_total)}).", "amount")

    event = line_event(actor, line, "record_repayment", expected_version=expected_version, check=check,
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

    event = line_event(actor, line, "settle", expected_version=expected_version, reason=reason, check=check,
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
    check = lambda: required_text(reason, "reason", "Indiquez le motif du classement.")  # noqa: E731
    event = line_event(actor, line, "dismiss", expected_version=expected_version, reason=reason,
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
        required_text(reason, "reason", "Indiquez le motif de la réouverture (recours gracieux).")
        if not lines_may_reopen(case):
            raise ActionRefused("Le dossier a été " + CASE_STATES[case.state].lower()
                                + " : ses demandes ne peuvent plus être rouvertes.")

    event = line_event(actor, line, "reopen", expected_version=expected_version, reason=reason,
                        check=check)
    line.decided_at = None
    if case.state == "closed":
        case_event(None, case, "reopen")
        case.closed_at = None
    db.session.flush()
    return event
