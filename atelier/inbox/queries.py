"""The agency inbox: what waits for an agent's agency, section by section.

Every query starts from ``access.visible_cases`` (the one place that says who sees what) and
loads what its page shows with eager loading, so a page costs the same number of statements
whatever the number of dossiers.
"""
from dataclasses import dataclass

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..auth.models import User
from ..cases.access import visible_cases
from ..cases.models import Case, FundingLine, Opinion
from ..committees.models import AgendaItem
from ..extensions import db
from ..formatting import paris_today
from ..schemes.models import Scheme
from ..workflow import CASE_STATES, LINE_STATES


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    kind: str  # "case", "line" or "opinion": what one row is
    states: dict[str, str]  # the states shown, and the state filter's options
    empty: str


OPINION_FILTERS = {"overdue": "En retard", "waiting": "Dans les délais"}

SECTIONS: dict[str, Section] = {section.key: section for section in (
    Section("a-verifier", "Dossiers à vérifier", "case",
            {state: CASE_STATES[state] for state in ("submitted", "incomplete")},
            "Aucun dossier déposé n'attend votre organisme."),
    Section("en-instruction", "Demandes en instruction", "line",
            {"under_review": LINE_STATES["under_review"]},
            "Aucune demande en instruction dans votre organisme."),
    Section("en-comite", "Inscrites en comité", "line",
            {"on_agenda": LINE_STATES["on_agenda"]},
            "Aucune demande inscrite en comité."),
    Section("avis", "Avis demandés à mon organisme", "opinion", OPINION_FILTERS,
            "Aucun avis n'est attendu de votre organisme."),
    Section("decidees", "Décidées", "line",
            {state: LINE_STATES[state] for state in ("approved", "agreement_signed")},
            "Aucune aide accordée à suivre."),
)}
DEFAULT_SECTION = "a-verifier"


def _visible_case_ids(user: User) -> Select:
    return visible_cases(user).with_only_columns(Case.id).scalar_subquery()


def section_query(user: User, section: Section, *, state: str | None = None,
                  scheme_id: int | None = None) -> Select:
    """``SELECT`` of the rows of ``section`` for ``user``'s agency, filtered, in reading order."""
    states = [state] if state in section.states else list(section.states)
    agency_id = user.agency_id
    if section.kind == "case":
        query = (visible_cases(user)
                 .where(Case.lead_agency_id == agency_id, Case.state.in_(states))
                 .options(joinedload(Case.lead_agency),
                          selectinload(Case.lines).joinedload(FundingLine.scheme))
                 .order_by(Case.submitted_at, Case.id))
        if scheme_id:
            query = query.where(exists().where(FundingLine.case_id == Case.id,
                                               FundingLine.scheme_id == scheme_id))
        return query
    if section.kind == "line":
        query = (select(FundingLine)
                 .where(FundingLine.case_id.in_(_visible_case_ids(user)),
                        FundingLine.agency_id == agency_id, FundingLine.state.in_(states))
                 .options(joinedload(FundingLine.case),
                          joinedload(FundingLine.assigned_agent),
                          selectinload(FundingLine.agenda_items).joinedload(AgendaItem.meeting),
                          selectinload(FundingLine.payments),
                          selectinload(FundingLine.opinions))
                 .order_by(FundingLine.updated_at, FundingLine.id))
        if scheme_id:
            query = query.where(FundingLine.scheme_id == scheme_id)
        return query
    today = paris_today()
    query = (select(Opinion)
             .join(Opinion.line)
             .where(FundingLine.case_id.in_(_visible_case_ids(user)),
                    Opinion.agency_id == agency_id, Opinion.verdict.is_(None))
             .options(joinedload(Opinion.line).joinedload(FundingLine.case),
                      joinedload(Opinion.requested_by))
             .order_by(Opinion.due_on, Opinion.id))
    if state == "overdue":
        query = query.where(Opinion.due_on < today)
    elif state == "waiting":
        query = query.where(Opinion.due_on >= today)
    if scheme_id:
        query = query.where(FundingLine.scheme_id == scheme_id)
    return query


def section_counts(user: User) -> dict[str, int]:
    """How many rows each section holds, unfiltered: one statement per section."""
    counts = {}
    for key, section in SECTIONS.items():
        query = section_query(user, section).options(lazyload("*")).order_by(None)
        counts[key] = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return counts


def scheme_choices() -> list[Scheme]:
    """Every scheme, grouped by agency, for the filter (an inbox shows other agencies' lines too)."""
    return list(db.session.scalars(
        select(Scheme).options(joinedload(Scheme.agency)).order_by(Scheme.agency_id, Scheme.name)))
