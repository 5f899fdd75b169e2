"""Two people acting at once: one wins, the other is told the dossier changed meanwhile."""
import re

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from atelier.cases import operations as ops
from atelier.common import ModifiedMeanwhile
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, FundingLine


def _bump_elsewhere(model, row_id):
    """Another request (its own connection and transaction) changes the row and commits."""
    with Session(db.engine) as other:
        other.execute(update(model).where(model.id == row_id).values(version=model.version + 1))
        other.commit()


def _events(case):
    return db.session.scalar(select(func.count(Event.id)).where(Event.case_id == case.id))


def test_a_write_based_on_a_stale_line_fails_at_flush(world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    _bump_elsewhere(FundingLine, line.id)
    with pytest.raises(StaleDataError):  # the operation flushes: the conflict surfaces inside it
        ops.dismiss_line(world.region_agent, line, reason="Doublon")
    db.session.rollback()
    assert db.session.get(FundingLine, line.id).state == "under_review"


def test_a_change_on_another_line_of_the_same_case_also_conflicts(world, create_case):
    """Line events touch their case, so the automatic close can never miss a concurrent change."""
    case = create_case("in_review")
    _bump_elsewhere(Case, case.id)
    with pytest.raises(StaleDataError):
        ops.dismiss_line(world.bpi_agent, case.lines[1], reason="Hors périmètre")


def test_expected_version_from_the_form_is_checked(world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    seen = line.version
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    db.session.commit()
    before = _events(case)
    with pytest.raises(ModifiedMeanwhile, match="modifié entre-temps"):
        ops.dismiss_line(world.region_agent, line, reason="Doublon", expected_version=seen)
    db.session.rollback()
    assert _events(case) == before


def test_references_are_sequential_per_year_and_unique(world, create_case):
    year = paris_today().year
    references = [create_case("draft").reference for _ in range(3)]
    assert all(re.fullmatch(rf"AP-{year}-\d{{5}}", ref) for ref in references)
    numbers = [int(ref[-5:]) for ref in references]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert ops.next_reference(year + 1) == f"AP-{year + 1}-00001"
