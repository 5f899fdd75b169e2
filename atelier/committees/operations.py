"""Committees: the meetings their secretaries plan, and what the committee pages read.

Decisions on the agenda (approve, reject, adjourn) are line events: they live in
``atelier/cases/operations.py`` like every other change of state.
"""
from datetime import date

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import joinedload

from ..auth.models import User
from ..cases.models import FundingLine
from ..common import ActionRefused
from ..extensions import db
from ..formatting import day, paris_today
from .models import AgendaItem, Committee, Meeting

PLACE_MAX_LENGTH = 200


def can_plan_meetings(user: User, committee: Committee) -> bool:
    return user.is_agent and user.is_secretary and user.agency_id == committee.agency_id


def create_meeting(actor: User, committee: Committee, meets_on: date | None, place: str | None) -> Meeting:
    """Plan a meeting of ``committee``: a secretary of its agency, a date not past, one per day."""
    if not can_plan_meetings(actor, committee):
        raise ActionRefused("Seul un secrétaire de comité de l'organisme peut programmer une séance "
                            "de ce comité.")
    if meets_on is None:
        raise ActionRefused("Indiquez la date de la séance.", "meets_on")
    if meets_on < paris_today():
        raise ActionRefused("La date de la séance ne peut pas être passée.", "meets_on")
    taken = db.session.scalar(select(Meeting.id).where(Meeting.committee_id == committee.id,
                                                       Meeting.meets_on == meets_on))
    if taken is not None:
        raise ActionRefused(f"Une séance de ce comité est déjà prévue le {day(meets_on)}.", "meets_on")
    place = (place or "").strip()
    if len(place) > PLACE_MAX_LENGTH:
        raise ActionRefused(f"Le lieu ne peut pas dépasser {PLACE_MAX_LENGTH} caractères.", "place")
    meeting = Meeting(committee=committee, meets_on=meets_on, place=place)
    db.session.add(meeting)
    db.session.flush()
    return meeting


# --------------------------------------------------------------------------- reading

def agency_committees(agency_id: int) -> list[Committee]:
    return list(db.session.scalars(select(Committee).where(Committee.agency_id == agency_id)
                                   .order_by(Committee.name, Committee.id)))


def agency_meetings(agency_id: int, today: date) -> Select:
    """The meetings of the agency's committees: upcoming first (soonest first), then past (latest first)."""
    upcoming = Meeting.meets_on >= today
    return (select(Meeting)
            .where(Meeting.committee_id.in_(select(Committee.id).where(Committee.agency_id == agency_id)))
            .order_by(case((upcoming, 0), else_=1), case((upcoming, Meeting.meets_on)),
                      Meeting.meets_on.desc(), Meeting.id))


def agenda_counts(meeting_ids: list[int]) -> dict[int, tuple[int, int]]:
    """``{meeting id: (items on the agenda, items still to decide)}`` in one statement."""
    rows = db.session.execute(
        select(AgendaItem.meeting_id, func.count(AgendaItem.id),
               func.coalesce(func.sum(case((AgendaItem.outcome == "pending", 1), else_=0)), 0))
        .where(AgendaItem.meeting_id.in_(meeting_ids))
        .group_by(AgendaItem.meeting_id)
    )
    return {meeting_id: (int(total), int(pending)) for meeting_id, total, pending in rows}


def meeting_of_agency(meeting_id: int, agency_id: int | None) -> Meeting | None:
    """The meeting if it belongs to a committee of ``agency_id``; else ``None`` (answered 404)."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or agency_id is None or meeting.committee.agency_id != agency_id:
        return None
    return meeting


def agenda_items(meeting: Meeting) -> list[AgendaItem]:
    """The agenda with each item's line, scheme and case, in one statement."""
    return list(db.session.scalars(
        select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .options(joinedload(AgendaItem.line).joinedload(FundingLine.case))
        .order_by(AgendaItem.id)
    ).unique())
