"""Two agencies approve a de minimis aid for the same company at the same moment, each fitting the
ceiling alone but not together: with real threads and separate connections, exactly one is approved,
the other is refused with the figures, and the register never goes over the ceiling.

Runs on the test database (SQLite file by default; PostgreSQL with ATELIER_TEST_DATABASE_URL,
where the ``postgres``-marked test checks that it really is PostgreSQL)."""
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused, ModifiedMeanwhile
from atelier.extensions import db
from atelier.models import FundingLine, MinimisAid

CEILING = Decimal("300000")


@pytest.fixture
def two_agenda_lines(world, create_case, create_scheme):
    """Two dossiers of the same company, one with a Région line and one with an AER line of
    200 000 € each (de minimis général), both on the agenda of their committee."""
    region_scheme = create_scheme(world.region, committee=world.region_committee, name="Grand projet Région",
                                  ceiling=Decimal("250000"), max_rate=Decimal("1"))
    aer_scheme = create_scheme(world.aer, committee=world.aer_committee, name="Grand projet AER",
                               ceiling=Decimal("250000"), max_rate=Decimal("1"))
    region_case = create_case("in_review", lines=[(region_scheme, "200000")])
    aer_case = create_case("in_review", lines=[(aer_scheme, "200000")])
    region_line, aer_line = region_case.lines[0], aer_case.lines[0]
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="200000")
    ops.propose_line(world.aer_agent, aer_line, meeting=world.aer_meeting, proposed_amount="200000")
    db.session.commit()
    return [(world.region_secretary.id, region_line.id), (world.aer_secretary.id, aer_line.id)]


def _approve_at_once(app, pairs):
    """Each (secretary id, line id) approved in its own thread, app context, session and connection;
    a barrier makes both load their line before either approves. Returns each thread's outcome."""
    from atelier.models import User

    barrier = threading.Barrier(len(pairs), timeout=30)
    outcomes: list = [None] * len(pairs)

    def run(index, user_id, line_id):
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                line = db.session.get(FundingLine, line_id)
                version = line.version
                _ = (line.case.company.siren, line.scheme.regime, line.agency.name, user.agency)
                barrier.wait()
                try:
                    ops.approve_line(user, line, granted_amount="200000", expected_version=version)
                    db.session.commit()
                    outcomes[index] = ("approved", None)
                except ModifiedMeanwhile as modified:  # a lock timeout or serialisation failure
                    db.session.rollback()
                    outcomes[index] = ("modified", modified.message)
                except ActionRefused as refused:
                    db.session.rollback()
                    outcomes[index] = ("refused", refused.message)
            except Exception as error:  # noqa: BLE001 (reported to the main thread)
                db.session.rollback()
                outcomes[index] = ("error", repr(error))
            finally:
                db.session.remove()  # the thread's session and connection go back to the pool

    threads = [threading.Thread(target=run, args=(i, user_id, line_id)) for i, (user_id, line_id) in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _check_one_approved_one_refused(app, pairs, outcomes, siren):
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds in (["approved", "refused"], ["approved", "modified"]), outcomes
    message = next(text for kind, text in outcomes if kind == "refused") if "refused" in kinds else None
    if message is not None:
        plain = message.replace("\u202f", " ").replace("\xa0", " ")
        assert plain.startswith("Plafond de minimis (général) dépassé")
        assert "déjà reçu 200 000,00 €" in plain  # the other agency's aid, committed meanwhile
        assert "cette aide représente 200 000,00 €" in plain
        assert "le plafond est de 300 000,00 €" in plain
        assert "Marge disponible : 100 000,00 €" in plain
    db.session.expire_all()
    total = db.session.scalar(select(func.sum(MinimisAid.amount)).where(
        MinimisAid.siren == siren, MinimisAid.source == "granted"))
    assert total == Decimal("200000")
    assert total <= CEILING
    states = sorted(db.session.get(FundingLine, line_id).state for _, line_id in pairs)
    assert states == ["approved", "on_agenda"]


def test_two_agencies_approve_for_the_same_company_at_once(app, world, two_agenda_lines):
    outcomes = _approve_at_once(app, two_agenda_lines)
    _check_one_approved_one_refused(app, two_agenda_lines, outcomes, world.company.siren)


@pytest.mark.postgres
def test_two_agencies_approve_at_once_on_postgresql(app, world, two_agenda_lines):
    assert db.engine.dialect.name == "postgresql"
    outcomes = _approve_at_once(app, two_agenda_lines)
    _check_one_approved_one_refused(app, two_agenda_lines, outcomes, world.company.siren)
