"""Annual budget envelopes of the schemes.

A scheme's envelope is its ``annual_budget``: the same amount for every calendar year. What is
committed on it in a year is the sum of the amounts granted on its lines that stand approved,
agreement signed or settled and were decided that year (Paris time), whichever meeting decided
them. ``envelope_positions`` reads it for any number of schemes in one grouped statement; the
committee pack, the agenda page, the inbox and ``approve_line`` all use it.
"""
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import func, select

from ..cases.models import FundingLine
from ..extensions import db
from ..formatting import PARIS
from ..workflow import LINE_GRANTED_STATES


class EnvelopePosition(NamedTuple):
    envelope: Decimal | None  # None: the scheme has no annual budget
    committed: Decimal
    remaining: Decimal | None  # negative when the envelope is overrun


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The first instant of ``year`` and of the next, Paris time."""
    return datetime(year, 1, 1, tzinfo=PARIS), datetime(year + 1, 1, 1, tzinfo=PARIS)


def committed_in_year(scheme_ids, year: int) -> dict[int, Decimal]:
    """``{scheme id: amount granted on it and decided in ``year``}`` (schemes with nothing: absent)."""
    scheme_ids = sorted(set(scheme_ids))
    if not scheme_ids:
        return {}
    starts, ends = year_bounds(year)
    rows = db.session.execute(
        select(FundingLine.scheme_id, func.sum(FundingLine.granted_amount))
        .where(FundingLine.scheme_id.in_(scheme_ids), FundingLine.state.in_(LINE_GRANTED_STATES),
               FundingLine.decided_at >= starts, FundingLine.decided_at < ends)
        .group_by(FundingLine.scheme_id)
    )
    return {scheme_id: Decimal(str(total or 0)) for scheme_id, total in rows}


def envelope_positions(schemes, year: int) -> dict[int, EnvelopePosition]:
    """``{scheme id: (envelope, committed, remaining)}`` of the loaded ``schemes`` for ``year``, in one
    grouped statement whatever their number."""
    schemes = {scheme.id: scheme for scheme in schemes}
    committed = committed_in_year(schemes, year)
    return {scheme_id: _position(scheme.annual_budget, committed.get(scheme_id, Decimal(0)))
            for scheme_id, scheme in schemes.items()}


def _position(envelope, committed: Decimal) -> EnvelopePosition:
    if envelope is None:
        return EnvelopePosition(None, committed, None)
    return EnvelopePosition(envelope, committed, envelope - committed)
