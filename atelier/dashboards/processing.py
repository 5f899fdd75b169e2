"""Processing times, read from the audit trail (``Event`` rows), per scheme.

For each funding line:

- **intake** (dépôt → complet): from the case's first ``submit`` to its first ``accept``;
- **decision** (complet → décision): from that ``accept`` to the line's first ``approve`` or
  ``reject`` (a later decision after an appeal, ``reopen``, is a new procedure and does not count);
- **total** (dépôt → décision): intake + decision.

Time spent *incomplete* does NOT count: from each ``request_info`` to the next ``resubmit`` (or the
``withdraw``/``dismiss`` that ended the wait) the dossier waits for the applicant, not for the
agency — the review clock is paused, as ``Case.clock_paused_at`` / ``paused_seconds`` record it
and as French administrative law suspends the time limit while pieces are missing. We read it from
the events rather than from those columns because the columns keep only the total, not when it was.

A figure counts in a period when its end falls in it (the ``accept`` for intake, the decision for
decision and total). Median: the usual one (the mean of the two middle values for an even count).
90th percentile: nearest rank, the value at rank ⌈0.9 n⌉ of the sorted values, so it is always a
time some dossier really took.

Everything here costs two statements whatever the number of lines.
"""
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..cases.models import Event, FundingLine
from ..extensions import db

DECISIONS = ("approve", "reject")
CASE_EVENT_NAMES = ("submit", "request_info", "resubmit", "accept", "withdraw", "dismiss")
PAUSE_ENDS = ("resubmit", "withdraw", "dismiss")
ENOUGH_HISTORY = 5  # decided dossiers before an applicant is told a usual time
PUBLIC_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class LineTimes:
    intake: timedelta | None
    decision: timedelta | None
    completed_at: datetime | None
    decided_at: datetime | None

    @property
    def total(self) -> timedelta | None:
        if self.intake is None or self.decision is None:
            return None
        return self.intake + self.decision


def paused_intervals(case_events, until: datetime) -> list[tuple[datetime, datetime]]:
    """The periods the dossier spent incomplete, from ``(name, at)`` pairs in order."""
    intervals, started = [], None
    for name, at in case_events:
        if name == "request_info" and started is None:
            started = at
        elif name in PAUSE_ENDS and started is not None:
            intervals.append((started, at))
            started = None
    if started is not None:
        intervals.append((started, max(until, started)))
    return intervals


def _active(start: datetime, end: datetime, paused) -> timedelta:
    """``end - start`` less the paused time within it."""
    elapsed = end - start
    for pause_start, pause_end in paused:
        overlap = min(end, pause_end) - max(start, pause_start)
        if overlap > timedelta(0):
            elapsed -= overlap
    return max(elapsed, timedelta(0))


def line_times(case_events, line_events, now: datetime) -> LineTimes:
    """The times of one line from its case's events and its own, each a list of ``(name, at)``."""
    submitted = next((at for name, at in case_events if name == "submit"), None)
    completed = next((at for name, at in case_events if name == "accept"
                      and submitted is not None and at >= submitted), None)
    decided = next((at for name, at in line_events if name in DECISIONS), None)
    paused = paused_intervals(case_events, now)
    intake = _active(submitted, completed, paused) if submitted and completed else None
    decision = _active(completed, decided, paused) if completed and decided and decided >= completed else None
    return LineTimes(intake, decision, completed, decided if decision is not None else None)


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def percentile90(values: list[timedelta]) -> timedelta | None:
    """Nearest rank: the value at rank ⌈0.9 n⌉ of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass
class Figures:
    values: list[timedelta] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def median(self) -> timedelta | None:
        return median(self.values)

    @property
    def p90(self) -> timedelta | None:
        return percentile90(self.values)


@dataclass
class SchemeTimes:
    intake: Figures = field(default_factory=Figures)
    decision: Figures = field(default_factory=Figures)
    total: Figures = field(default_factory=Figures)


def scheme_times(scheme_ids, since: datetime, until: datetime) -> dict[int, SchemeTimes]:
    """``{scheme id: SchemeTimes}`` of the lines whose intake or decision ended in ``[since, until)``."""
    scheme_ids = sorted(set(scheme_ids))
    result = {scheme_id: SchemeTimes() for scheme_id in scheme_ids}
    if not scheme_ids:
        return result
    accepted_cases = select(Event.case_id).where(Event.entity == "case", Event.name == "accept",
                                                 Event.created_at >= since, Event.created_at < until)
    decided_lines = select(Event.line_id).where(Event.entity == "line", Event.name.in_(DECISIONS),
                                                Event.created_at >= since, Event.created_at < until)
    lines = db.session.execute(
        select(FundingLine.id, FundingLine.case_id, FundingLine.scheme_id)
        .where(FundingLine.scheme_id.in_(scheme_ids),
               or_(FundingLine.case_id.in_(accepted_cases), FundingLine.id.in_(decided_lines)))
    ).all()
    if not lines:
        return result
    case_ids = select(FundingLine.case_id).where(
        FundingLine.scheme_id.in_(scheme_ids),
        or_(FundingLine.case_id.in_(accepted_cases), FundingLine.id.in_(decided_lines)))
    case_events: dict[int, list] = {}
    line_events: dict[int, list] = {}
    rows = db.session.execute(
        select(Event.case_id, Event.line_id, Event.entity, Event.name, Event.created_at)
        .where(Event.case_id.in_(case_ids),
               or_(Event.entity == "case", Event.name.in_(DECISIONS)),
               Event.name.in_(CASE_EVENT_NAMES + DECISIONS))
        .order_by(Event.id))
    for case_id, line_id, entity, name, at in rows:
        if entity == "case":
            case_events.setdefault(case_id, []).append((name, at))
        elif line_id is not None:
            line_events.setdefault(line_id, []).append((name, at))
    for line_id, case_id, scheme_id in lines:
        times = line_times(case_events.get(case_id, []), line_events.get(line_id, []), until)
        figures = result[scheme_id]
        if times.intake is not None and since <= times.completed_at < until:
            figures.intake.values.append(times.intake)
        if times.decision is not None and since <= times.decided_at < until:
            figures.decision.values.append(times.decision)
            figures.total.values.append(times.total)
    return result


def usual_days(scheme_ids, now: datetime) -> dict[int, int]:
    """``{scheme id: N}``: most dossiers (90 %) of the scheme decided in the last 12 months were decided
    within N days of their submission (time incomplete not counted). Schemes with fewer than
    ``ENOUGH_HISTORY`` decided dossiers are absent: nothing is said of them."""
    times = scheme_times(scheme_ids, now - PUBLIC_WINDOW, now)
    usual = {}
    for scheme_id, figures in times.items():
        if figures.total.count >= ENOUGH_HISTORY:
            usual[scheme_id] = max(1, math.ceil(figures.total.p90.total_seconds() / 86400))
    return usual


def in_days(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 86400
