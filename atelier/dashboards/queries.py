"""The figures of an agency's dashboard, in a fixed number of statements whatever the volume.

Scope: the dossiers the agency leads (``Case.lead_agency_id``) and the lines it holds
(``FundingLine.agency_id``) — all of them visible to its agents (``access.visible_cases``: the
agency has a ``CaseAgency`` row on each). Amounts are per scheme of the agency for the current
calendar year (Paris): *requested* on the lines of dossiers submitted this year, *granted* as the
envelope counts it (``schemes.envelopes``: decided this year, still granted), *paid* the payments
dated this year. Processing times: the last 12 months (``processing.scheme_times``).
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..cases.models import Case, FundingLine, Opinion, Payment
from ..common import utcnow
from ..extensions import db
from ..formatting import PARIS
from ..schemes.envelopes import envelope_positions, year_bounds
from ..schemes.models import Scheme
from ..workflow import CASE_STATES, LINE_STATES
from .processing import SchemeTimes, scheme_times

TIMES_WINDOW = timedelta(days=365)
OVERDUE_SHOWN = 50


@dataclass
class SchemeAmounts:
    scheme: Scheme
    requested: Decimal
    granted: Decimal
    paid: Decimal
    envelope: Decimal | None


@dataclass
class Dashboard:
    cases_by_state: dict[str, int]
    lines_by_state: dict[str, int]
    new_cases: int
    new_lines: int
    month_start: date
    schemes: list[Scheme]
    times: dict[int, SchemeTimes]
    amounts: list[SchemeAmounts]
    overdue_opinions: list[Opinion]
    overdue_count: int
    overdue_asked_count: int
    year: int


def _money(value) -> Decimal:
    return Decimal(str(value or 0))


def agency_dashboard(agency_id: int, today: date) -> Dashboard:
    month_start = today.replace(day=1)
    month_from = datetime.combine(month_start, time(0), tzinfo=PARIS)
    year_from, year_to = year_bounds(today.year)

    cases_by_state = dict(db.session.execute(
        select(Case.state, func.count()).where(Case.lead_agency_id == agency_id).group_by(Case.state)).all())
    lines_by_state = dict(db.session.execute(
        select(FundingLine.state, func.count()).where(FundingLine.agency_id == agency_id)
        .group_by(FundingLine.state)).all())
    new_cases = db.session.scalar(select(func.count()).select_from(Case).where(
        Case.lead_agency_id == agency_id, Case.submitted_at >= month_from))
    new_lines = db.session.scalar(select(func.count()).select_from(FundingLine).join(Case).where(
        FundingLine.agency_id == agency_id, Case.submitted_at >= month_from))

    schemes = list(db.session.scalars(
        select(Scheme).where(Scheme.agency_id == agency_id).order_by(Scheme.name, Scheme.id)))
    scheme_ids = [scheme.id for scheme in schemes]
    now = utcnow()
    times = scheme_times(scheme_ids, now - TIMES_WINDOW, now)

    requested, paid = {}, {}
    if scheme_ids:
        requested = dict(db.session.execute(
            select(FundingLine.scheme_id, func.sum(FundingLine.requested_amount)).join(Case)
            .where(FundingLine.scheme_id.in_(scheme_ids), Case.submitted_at >= year_from,
                   Case.submitted_at < year_to)
            .group_by(FundingLine.scheme_id)).all())
        paid = dict(db.session.execute(
            select(FundingLine.scheme_id, func.sum(Payment.amount)).join(Payment.line)
            .where(FundingLine.scheme_id.in_(scheme_ids), Payment.paid_on >= date(today.year, 1, 1),
                   Payment.paid_on <= date(today.year, 12, 31))
            .group_by(FundingLine.scheme_id)).all())
    envelopes = envelope_positions(schemes, today.year)
    amounts = [SchemeAmounts(scheme, _money(requested.get(scheme.id)), envelopes[scheme.id].committed,
                             _money(paid.get(scheme.id)), envelopes[scheme.id].envelope)
               for scheme in schemes]

    overdue = (select(Opinion).join(Opinion.line)
               .where(Opinion.agency_id == agency_id, Opinion.verdict.is_(None), Opinion.due_on < today))
    overdue_opinions = list(db.session.scalars(
        overdue.options(joinedload(Opinion.line).joinedload(FundingLine.case))
        .order_by(Opinion.due_on, Opinion.id).limit(OVERDUE_SHOWN)))
    overdue_count = db.session.scalar(select(func.count()).select_from(overdue.subquery()))
    overdue_asked_count = db.session.scalar(
        select(func.count()).select_from(Opinion).join(Opinion.line)
        .where(FundingLine.agency_id == agency_id, Opinion.agency_id != agency_id,
               Opinion.verdict.is_(None), Opinion.due_on < today))

    return Dashboard(
        cases_by_state={state: cases_by_state.get(state, 0) for state in CASE_STATES if state != "draft"},
        lines_by_state={state: lines_by_state.get(state, 0) for state in LINE_STATES},
        new_cases=new_cases or 0, new_lines=new_lines or 0, month_start=month_start,
        schemes=schemes, times=times, amounts=amounts, overdue_opinions=overdue_opinions,
        overdue_count=overdue_count or 0, overdue_asked_count=overdue_asked_count or 0, year=today.year)
