"""Who may see what, in one place: every list and every lookup goes through these scopes."""
import re

from flask import abort, has_request_context, request
from sqlalchemy import Select, exists, select

from ..auth.models import User
from ..companies.models import company_members
from ..extensions import db
from .models import Case, CaseAgency, Document, FundingLine

REFERENCE_SHAPE = re.compile(r"AP-[0-9]{4}-[0-9]{5}")  # what operations.next_reference gives


def visible_cases(user: User) -> Select:
    """``SELECT cases`` restricted to what ``user`` may see (domain.md, "Who sees what")."""
    query = select(Case)
    if user.is_admin:
        return query
    if user.is_agent:
        return query.where(
            exists().where(CaseAgency.case_id == Case.id, CaseAgency.agency_id == user.agency_id)
        )
    return query.where(
        exists().where(company_members.c.company_id == Case.company_id,
                       company_members.c.user_id == user.id)
    )


def case_or_404(user: User, reference: str) -> Case:
    if not REFERENCE_SHAPE.fullmatch(reference):  # PostgreSQL refuses some text (NUL) as a parameter
        abort(404)
    query = visible_cases(user).where(Case.reference == reference)
    case = db.session.scalars(query).first()
    if case is None:
        abort(404)
    return case


def line_or_404(user: User, case: Case, line_id: int) -> FundingLine:
    for line in case.lines:
        if line.id == line_id:
            return line
    abort(404)


def document_or_404(user: User, case: Case, document_id: int) -> Document:
    for document in case.documents:
        if document.id == document_id:
            return document
    abort(404)


def is_member(user: User, company_id: int) -> bool:
    """Whether ``user`` belongs to the company; asked once per request (pages ask it per line)."""
    if not user.is_applicant:
        return False
    cache = _request_cache()
    key = (user.id, company_id)
    if key not in cache:
        cache[key] = db.session.execute(
            select(company_members.c.user_id).where(company_members.c.user_id == user.id,
                                                    company_members.c.company_id == company_id)
        ).first() is not None
    return cache[key]


def may_post_messages(user: User, case: Case) -> bool:
    """Members of the company, and agents of the lead agency or of an agency holding a line.
    Agencies that were consulted or handed the dossier over only read it (domain.md)."""
    if user.is_applicant:
        return is_member(user, case.company_id)
    if user.is_agent and case.state != "draft":
        return case.lead_agency_id == user.agency_id or any(
            line.agency_id == user.agency_id for line in case.lines)
    return False


def _request_cache() -> dict:
    if not has_request_context():
        return {}
    if not hasattr(request, "_atelier_memberships"):
        request._atelier_memberships = {}
    return request._atelier_memberships


def roles_on(user: User, case: Case, line: FundingLine | None = None) -> set[str]:
    """The ``who`` values of workflow.py that ``user`` holds on this case (and line)."""
    roles: set[str] = set()
    if user.is_applicant and is_member(user, case.company_id):
        roles.add("applicant")
    if user.is_agent:
        if case.lead_agency_id == user.agency_id and case.state != "draft":
            roles.add("lead_agent")
        if line is not None and line.agency_id == user.agency_id and case.state != "draft":
            roles.add("line_agent")
        if line is not None and user.is_secretary and deciding_agency_id(line) == user.agency_id:
            roles.add("secretary")
    return roles


def deciding_agency_id(line: FundingLine) -> int:
    """The agency whose committee decides the line: that of the meeting it is on, else its scheme's."""
    item = line.current_agenda_item
    if item is not None:
        return item.meeting.committee.agency_id
    return line.scheme.committee.agency_id
