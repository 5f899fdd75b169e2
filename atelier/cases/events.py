"""How every operation of a dossier records what it does: the guards they share (version seen,
right, state, editable draft) and the one way an event is written.

An event is append-only (``audit.py``): everything it carries is computed before it is created,
from what the guards parsed, never written onto it afterwards.
"""
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from ..auth.models import User
from ..common import ActionRefused, ModifiedMeanwhile, utcnow
from ..extensions import db
from ..formatting import day, paris_today
from ..workflow import (CASE_EDITABLE_STATES, CASE_MACHINE, CASE_RULES, LINE_MACHINE, LINE_RULES,
                        NOT_ALLOWED_NOW, CASE_STATES, LINE_STATES, EventRule, fire)
from .access import is_member, roles_on
from .models import Case, CaseAgency, Event, FundingLine

WHO_LABELS = {
    "applicant": "un membre de l'entreprise qui porte le dossier",
    "lead_agent": "un agent de l'organisme pilote du dossier",
    "line_agent": "un agent de l'organisme qui instruit cette demande",
    "secretary": "un secrétaire du comité qui décide cette demande",
    "system": "l'application elle-même (étape automatique)",
}


def required_text(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ActionRefused(message, field)
    return text


def check_version(instance, expected_version: int | None) -> None:
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
                  reason=(reason or "").strip() or None, data=jsonable(data or {}))
    db.session.add(event)
    # Every change of a line touches its case: the case's version then serialises
    # concurrent changes to one dossier (the automatic close depends on all its lines).
    case.updated_at = utcnow()
    return event


def jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, (date, datetime)):
            value = value.isoformat()
        out[key] = value
    return out


EventData = dict | Callable[[], dict] | None


def event_data(data: EventData) -> dict | None:
    """The event's data: a function is called once the guards have passed (it reads what they parsed)."""
    return data() if callable(data) else data


def case_event(actor, case: Case, event: str, *, expected_version=None, reason=None,
                data: EventData = None, check=None) -> Event:
    """Version seen, rights, state, then ``check()`` (the event's own guards), then fire and record.

    Nothing is changed before every check has passed, so a refusal leaves the dossier untouched.
    ``data`` may be a function of what ``check()`` parsed: it is called after it, before the event
    exists (an event is never changed once created).
    """
    rule = CASE_RULES[event]
    check_version(case, expected_version)
    _check_right(actor, rule, case, None)
    _check_state(CASE_MACHINE, CASE_STATES, case, event)
    if check is not None:
        check()
    data = event_data(data)
    from_state = case.state
    fire(CASE_MACHINE, case, event)
    return record_event(case, actor, "case", event, from_state=from_state, to_state=case.state,
                        reason=reason, data=data)


def line_event(actor, line: FundingLine, event: str, *, expected_version=None, reason=None,
                data: EventData = None, check=None) -> Event:
    """Version seen, rights, state, then ``check()`` (the event's own guards), then fire and record
    (``data`` as in ``case_event``)."""
    rule = LINE_RULES[event]
    case = line.case
    check_version(line, expected_version)
    _check_right(actor, rule, case, line)
    _check_state(LINE_MACHINE, LINE_STATES, line, event)
    if check is not None:
        check()
    data = event_data(data)
    from_state = line.state
    fire(LINE_MACHINE, line, event)
    line.updated_at = utcnow()
    recorded = record_event(case, actor, "line", event, from_state=from_state, to_state=line.state,
                            line=line, reason=reason, data=data)
    if line.is_final:
        close_case_if_done(case)
    return recorded


def grant_access(case: Case, agency_id: int) -> None:
    exists = db.session.scalar(select(CaseAgency.id).where(CaseAgency.case_id == case.id,
                                                           CaseAgency.agency_id == agency_id))
    if exists is None:
        db.session.add(CaseAgency(case_id=case.id, agency_id=agency_id))


def close_case_if_done(case: Case) -> None:
    if case.state == "in_review" and all(line.is_final for line in case.lines):
        case_event(None, case, "close")
        case.closed_at = utcnow()


def parse_iso_date(value, field: str, label: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ActionRefused(f"{label} doit être une date valide (jj/mm/aaaa).", field) from None


def check_editable(actor: User, case: Case) -> None:
    if not is_member(actor, case.company_id):
        raise ActionRefused("Seul un membre de l'entreprise peut modifier ce dossier.")
    if case.state not in CASE_EDITABLE_STATES:
        raise ActionRefused("Ce dossier ne peut plus être modifié : il est "
                            f"{CASE_STATES[case.state].lower()}.")


def parse_money_day(value, field: str, label: str, *, not_before: date | None, before_label: str) -> date:
    if not value:
        raise ActionRefused(f"Indiquez {label[0].lower()}{label[1:]}.", field)
    result = parse_iso_date(value, field, label)
    if result > paris_today():
        raise ActionRefused(f"{label} ne peut pas être dans le futur.", field)
    if not_before is not None and result < not_before:
        raise ActionRefused(f"{label} ne peut pas précéder {before_label} ({day(not_before)}).", field)
    return result
