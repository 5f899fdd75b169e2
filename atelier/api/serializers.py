"""What the API says of each thing, as JSON-ready dicts. Money is a decimal string ("12500.00"),
dates ISO 8601, timestamps ISO 8601 in UTC. Applicants see what the pages show them: no opinions
and no opinion details (what agencies tell each other stays between them)."""
from datetime import date, datetime
from decimal import Decimal

from flask import url_for

from ..workflow import CASE_MACHINE, CASE_RULES, LINE_MACHINE, LINE_RULES

from ..cases.access import roles_on
from ..cases.repayments import repayment_position
from ..questionnaires.exchange import answers_json


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def agency(agency) -> dict | None:
    if agency is None:
        return None
    return {"id": agency.id, "name": agency.name, "short_name": agency.short_name, "kind": agency.kind}


def scheme(scheme) -> dict:
    return {
        "id": scheme.id, "code": scheme.code, "name": scheme.name, "agency_id": scheme.agency_id,
        "committee_id": scheme.committee_id, "instrument": scheme.instrument,
        "instrument_label": scheme.instrument_label, "regime": scheme.regime,
        "ceiling": money(scheme.ceiling), "max_rate": f"{scheme.max_rate:.4f}",
        "annual_budget": money(scheme.annual_budget), "opens_on": iso(scheme.opens_on),
        "closes_on": iso(scheme.closes_on), "required_documents": list(scheme.required_documents or []),
        "eligible_sizes": list(scheme.eligible_sizes or []),
        "eligible_departements": list(scheme.eligible_departements or []),
        "excluded_naf": list(scheme.excluded_naf or []), "description": scheme.description or "",
    }


def company(company) -> dict:
    return {
        "id": company.id, "siret": company.siret, "siren": company.siren, "name": company.name,
        "legal_form": company.legal_form, "naf_code": company.naf_code, "headcount": company.headcount,
        "size": company.size, "address": company.address, "postcode": company.postcode,
        "commune": company.commune, "departement": company.departement,
    }


def opinion(opinion, today: date) -> dict:
    return {
        "id": opinion.id, "line_id": opinion.line_id, "agency": agency(opinion.agency),
        "question": opinion.question or "", "due_on": iso(opinion.due_on), "verdict": opinion.verdict,
        "intended_amount": money(opinion.intended_amount), "comment": opinion.comment,
        "answered_at": iso(opinion.answered_at), "created_at": iso(opinion.created_at),
        "overdue": opinion.is_overdue(today),
    }


def line(line, user, today: date, *, with_actions: bool = False) -> dict:
    sees_opinions = user.is_agent or user.is_admin
    data = {
        "id": line.id, "case_reference": line.case.reference, "position": line.position,
        "state": line.state, "state_label": line.state_label, "version": line.version,
        "scheme": {"id": line.scheme.id, "code": line.scheme.code, "name": line.scheme.name,
                   "instrument": line.scheme.instrument},
        "agency": agency(line.agency),
        "requested_amount": money(line.requested_amount), "proposed_amount": money(line.proposed_amount),
        "granted_amount": money(line.granted_amount),
        "gross_grant_equivalent": money(line.gross_grant_equivalent),
        "released_amount": money(line.released_amount), "paid_total": money(line.paid_total),
        "remaining_to_pay": money(line.remaining_to_pay), "decided_at": iso(line.decided_at),
        "agreement_signed_on": iso(line.agreement_signed_on), "settled_at": iso(line.settled_at),
        "payments": [{"id": p.id, "amount": money(p.amount), "paid_on": iso(p.paid_on)} for p in line.payments],
        "repayment": repayment(line, today),
        "opinions": [opinion(o, today) for o in line.opinions] if sees_opinions else [],
        "updated_at": iso(line.updated_at),
    }
    if with_actions:
        data["allowed_events"] = line_events_for(user, line)
    return data


def repayment(line, today: date) -> dict | None:
    """The repayment schedule of an advance or a loan and where the company stands (None otherwise)."""
    if not line.instalments:
        return None
    position = repayment_position(line, today)
    return {
        "frequency_months": line.repayment_frequency_months, "deferral_months": line.repayment_deferral_months,
        "repaid_total": money(position.repaid), "owed": money(position.owed),
        "written_off_amount": money(line.written_off_amount), "late_total": money(position.late_total),
        "instalments": [{"number": each.number, "due_on": iso(each.due_on), "amount": money(each.amount),
                         "repaid": money(each.repaid), "late_amount": money(each.late_amount)}
                        for each in position.instalments],
        "repayments": [{"id": r.id, "amount": money(r.amount), "repaid_on": iso(r.repaid_on)}
                       for r in line.repayments],
    }


def line_events_for(user, line) -> list[str]:
    """The line events ``user`` holds the right to fire from the line's state (the guards may still refuse)."""
    if user.is_admin:
        return []
    roles = roles_on(user, line.case, line)
    allowed = LINE_MACHINE.get_triggers(line.state)
    return [name for name, rule in LINE_RULES.items() if name in allowed and rule.who in roles]


def case_events_for(user, case) -> list[str]:
    if user.is_admin:
        return []
    roles = roles_on(user, case)
    allowed = CASE_MACHINE.get_triggers(case.state)
    return [name for name, rule in CASE_RULES.items() if name in allowed and rule.who in roles]


def case_summary(case) -> dict:
    return {
        "reference": case.reference, "state": case.state, "state_label": case.state_label,
        "version": case.version, "title": case.title, "company": {"id": case.company.id,
                                                                 "siret": case.company.siret,
                                                                 "name": case.company.name},
        "lead_agency_id": case.lead_agency_id, "eligible_cost": money(case.eligible_cost),
        "requested_total": money(case.requested_total),
        "lines": [{"id": l.id, "state": l.state, "scheme_code": l.scheme.code, "agency_id": l.agency_id,
                   "requested_amount": money(l.requested_amount)} for l in case.lines],
        "submitted_at": iso(case.submitted_at), "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
    }


def document(document) -> dict:
    return {
        "id": document.id, "kind": document.kind, "filename": document.filename,
        "content_type": document.content_type, "size_bytes": document.size_bytes,
        "created_at": iso(document.created_at),
        "download_url": url_for("api.download_document", reference=document.case.reference,
                                document_id=document.id),
    }


def event(event, user) -> dict:
    hidden = event.entity == "opinion" and not (user.is_agent or user.is_admin)
    return {
        "id": event.id, "entity": event.entity, "name": event.name, "line_id": event.line_id,
        "from_state": event.from_state, "to_state": event.to_state,
        "actor": None if event.actor is None else event.actor.name,
        "agency_id": event.agency_id, "reason": None if hidden else event.reason,
        "data": {} if hidden else dict(event.data or {}), "created_at": iso(event.created_at),
    }


def case_detail(case, user, events, today: date) -> dict:
    data = case_summary(case)
    data.update({
        "description": case.description or "", "starts_on": iso(case.starts_on), "ends_on": iso(case.ends_on),
        "company": company(case.company), "lead_agency": agency(case.lead_agency),
        "minimis_declared": case.minimis_declared,
        "declared_minimis": [{"id": aid.id, "granted_on": iso(aid.granted_on), "granting_body": aid.granting_body,
                              "amount": money(aid.amount), "regime": aid.regime}
                             for aid in case.declared_minimis],
        "completed_at": iso(case.completed_at), "closed_at": iso(case.closed_at),
        "lines": [line(l, user, today, with_actions=True) for l in case.lines],
        "documents": [document(d) for d in case.documents],
        "answers": answers_json(case),
        "events": [event(e, user) for e in events],
        "allowed_events": case_events_for(user, case),
    })
    return data


def meeting(meeting, counts: tuple[int, int] | None = None) -> dict:
    total, pending = counts or (0, 0)
    return {
        "id": meeting.id, "committee": {"id": meeting.committee.id, "name": meeting.committee.name,
                                        "agency_id": meeting.committee.agency_id},
        "meets_on": iso(meeting.meets_on), "place": meeting.place or "", "items": total, "pending": pending,
        "pack_url": url_for("api.meeting_pack", meeting_id=meeting.id),
    }


def agenda_item(item) -> dict:
    return {
        "id": item.id, "line_id": item.line_id, "case_reference": item.line.case.reference,
        "proposed_amount": money(item.proposed_amount), "outcome": item.outcome,
        "granted_amount": money(item.granted_amount), "decision_reason": item.decision_reason,
        "decided_at": iso(item.decided_at), "presented": dict(item.presented or {}),
    }


def token(row) -> dict:
    return {"id": row.id, "name": row.name, "scope": row.scope, "prefix": row.prefix,
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at)}
