"""Dashboards: processing times on a known history (pure and from the Event rows), the agency page
(figures, charts with their tables, fixed query count), and the applicant's « usual time » line."""
import html
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import update

from atelier.cases import operations as ops
from atelier.cases.models import Event
from atelier.common import utcnow
from atelier.dashboards.processing import (line_times, median, paused_intervals, percentile90, scheme_times,
                                           usual_days)
from atelier.extensions import db
from atelier.formatting import paris_today
from conftest import login
from tampering import rewriting_history

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


# --------------------------------------------------------------------------- the rules, on paper

def test_times_without_a_pause():
    times = line_times([("submit", at(0)), ("accept", at(4))], [("start_review", at(4)), ("approve", at(30))],
                       now=at(100))
    assert times.intake == timedelta(days=4)
    assert times.decision == timedelta(days=26)
    assert times.total == timedelta(days=30)


def test_time_spent_incomplete_does_not_count():
    # submitted day 0, incomplete days 2 → 12 (10 days waiting for the applicant), complete day 15,
    # back to incomplete days 20 → 23 from in_review, decided day 40.
    case_events = [("submit", at(0)), ("request_info", at(2)), ("resubmit", at(12)), ("accept", at(15)),
                   ("request_info", at(20)), ("resubmit", at(23)), ("accept", at(24))]
    times = line_times(case_events, [("approve", at(40))], now=at(100))
    assert paused_intervals(case_events, at(100)) == [(at(2), at(12)), (at(20), at(23))]
    assert times.intake == timedelta(days=5)  # 15 days less 10 paused
    assert times.decision == timedelta(days=22)  # 25 days (first accept → decision) less 3 paused
    assert times.total == timedelta(days=27)


def test_the_first_decision_counts_and_undecided_lines_have_no_decision_time():
    case_events = [("submit", at(0)), ("accept", at(1))]
    appealed = line_times(case_events, [("reject", at(10)), ("reopen", at(20)), ("approve", at(50))], now=at(99))
    assert appealed.decision == timedelta(days=9)
    waiting = line_times(case_events, [("start_review", at(1))], now=at(99))
    assert waiting.intake == timedelta(days=1) and waiting.decision is None and waiting.total is None
    never_complete = line_times([("submit", at(0)), ("request_info", at(1))], [], now=at(99))
    assert never_complete.intake is None


def test_median_and_nearest_rank_90th_percentile():
    days = [timedelta(days=n) for n in (10, 1, 9, 2, 8, 3, 7, 4, 6, 5)]
    assert median(days) == timedelta(days=5.5)
    assert percentile90(days) == timedelta(days=9)  # rank ⌈0.9 × 10⌉ = 9
    assert percentile90(days[:5]) == timedelta(days=10)  # rank ⌈4.5⌉ = 5: the slowest of five
    assert percentile90([timedelta(days=3)]) == timedelta(days=3)
    assert median([]) is None and percentile90([]) is None


# --------------------------------------------------------------------------- from the Event rows

def _shift_events(case, days_by_name: dict[str, float], line=None):
    """Move the events of ``case`` (or of ``line``) named in ``days_by_name`` to known instants."""
    with rewriting_history() as connection:  # events are append-only: only a test moves them
        for name, days in days_by_name.items():
            query = update(Event).where(Event.case_id == case.id, Event.name == name)
            query = (query.where(Event.line_id == line.id) if line is not None
                     else query.where(Event.entity == "case"))
            connection.execute(query.values(created_at=days))
    db.session.commit()


def _decided_case(world, create_case, *, submit, request=None, resubmit=None, accept, decide, approve=True):
    case = create_case("submitted", lines=[(world.region_scheme, "60000")])
    if request is not None:
        ops.request_info(world.region_agent, case, message="Il manque le Kbis.")
        ops.resubmit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    if approve:
        ops.approve_line(world.region_secretary, line, granted_amount="40000")
    else:
        ops.reject_line(world.region_secretary, line, reason="Hors critères.")
    db.session.commit()
    moves = {"submit": submit, "accept": accept}
    if request is not None:
        moves.update(request_info=request, resubmit=resubmit)
    _shift_events(case, moves)
    _shift_events(case, {"approve" if approve else "reject": decide}, line=line)
    return case


def test_scheme_times_from_a_known_history(world, create_case):
    now = utcnow()
    start = now - timedelta(days=200)
    day = lambda n: start + timedelta(days=n)  # noqa: E731
    # (intake, decision) in days: (3, 20), (5, 30) with 10 days incomplete, (1, 10), (8, 45) rejected
    _decided_case(world, create_case, submit=day(0), accept=day(3), decide=day(23))
    _decided_case(world, create_case, submit=day(0), request=day(1), resubmit=day(11), accept=day(15),
                  decide=day(45))
    _decided_case(world, create_case, submit=day(10), accept=day(11), decide=day(21))
    _decided_case(world, create_case, submit=day(10), accept=day(18), decide=day(63), approve=False)
    # a dossier complete but undecided: counts for intake only (2 days)
    waiting = create_case("in_review", lines=[(world.region_scheme, "1000")])
    _shift_events(waiting, {"submit": day(50), "accept": day(52)})
    # another scheme's dossier is not mixed in
    other = create_case("in_review", lines=[(world.bpi_scheme, "1000")])
    _shift_events(other, {"submit": day(0), "accept": day(90)})

    figures = scheme_times([world.region_scheme.id, world.bpi_scheme.id], now - timedelta(days=365), now)
    region = figures[world.region_scheme.id]
    assert sorted(v.days for v in region.intake.values) == [1, 2, 3, 5, 8]
    assert region.intake.median == timedelta(days=3)
    assert region.intake.p90 == timedelta(days=8)
    assert sorted(v.days for v in region.decision.values) == [10, 20, 30, 45]
    assert region.decision.median == timedelta(days=25)
    assert region.decision.p90 == timedelta(days=45)
    assert sorted(v.days for v in region.total.values) == [11, 23, 35, 53]
    assert [v.days for v in figures[world.bpi_scheme.id].intake.values] == [90]
    assert figures[world.bpi_scheme.id].decision.count == 0
    # the period: nothing ended in the last 10 days
    assert scheme_times([world.region_scheme.id], now - timedelta(days=10), now)[world.region_scheme.id].intake.count == 0


def test_the_usual_time_needs_five_decided_dossiers(world, create_case):
    now = utcnow()
    start = now - timedelta(days=100)
    day = lambda n: start + timedelta(days=n)  # noqa: E731
    for total in (10, 12, 14, 16):
        _decided_case(world, create_case, submit=day(0), accept=day(2), decide=day(total))
    assert usual_days([world.region_scheme.id], now) == {}
    _decided_case(world, create_case, submit=day(0), accept=day(2), decide=day(30.5))
    assert usual_days([world.region_scheme.id], now) == {world.region_scheme.id: 31}  # p90 of 5 = slowest, rounded up
    # dossiers decided more than 12 months ago are forgotten
    assert usual_days([world.region_scheme.id], now + timedelta(days=300)) == {}


def test_applicant_sees_the_usual_time_on_the_scheme_and_dossier_pages(client, world, create_case):
    now = utcnow()
    start = now - timedelta(days=100)
    for n in range(5):
        _decided_case(world, create_case, submit=start, accept=start + timedelta(days=1),
                      decide=start + timedelta(days=20 + n))
    sentence = "la plupart des dossiers sont traités en moins de 24 jours"
    page = html.unescape(client.get(f"/dispositifs/{world.region_scheme.code}").get_data(as_text=True))
    assert sentence in page.lower()
    page = html.unescape(client.get(f"/dispositifs/{world.bpi_scheme.code}").get_data(as_text=True))
    assert "la plupart des dossiers" not in page.lower()  # no history: nothing said
    mine = create_case("in_review")
    login(client, world.applicant)
    page = html.unescape(client.get(f"/dossiers/{mine.reference}").get_data(as_text=True))
    assert sentence in page.lower()
    assert page.lower().count("la plupart des dossiers") == 1  # the Bpifrance line: nothing said


# --------------------------------------------------------------------------- the agency page

@contextmanager
def counting_queries():
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)


def _page(client, url="/organisme/tableau-de-bord"):
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_agency_dashboard_figures(client, world, create_case):
    create_case("submitted")  # Region leads (60 000 > 40 000), a Bpifrance line
    create_case("incomplete")
    case = create_case("in_review")
    line = case.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="45000")
    ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
    ops.record_payment(world.region_agent, line, amount="10000", paid_on=paris_today())
    db.session.commit()
    login(client, world.region_agent)
    page = _page(client)
    assert "<h1>Tableau de bord de Région Bourgogne-Franche-Comté</h1>" in page
    cases_table = page[page.index('id="tableau-tdb-dossiers"'):]
    cases_table = cases_table[:cases_table.index("</table>")]
    assert re.search(r"Déposé</th><td class=\"number\">1<", cases_table)
    assert re.search(r"Incomplet — informations demandées</th><td class=\"number\">1<", cases_table)
    assert re.search(r"En instruction</th><td class=\"number\">1<", cases_table)
    lines_table = page[page.index('id="tableau-tdb-demandes"'):]
    lines_table = lines_table[:lines_table.index("</table>")]
    assert re.search(r"Demandée</th><td class=\"number\">2<", lines_table)
    assert re.search(r"Convention signée</th><td class=\"number\">1<", lines_table)
    amounts = page[page.index('id="tableau-tdb-montants"'):]
    amounts = amounts[:amounts.index("</table>")]
    row = amounts[amounts.index("Aide à l'investissement"):]
    row = row[:row.index("</tr>")]
    from atelier.formatting import money
    for value in ("5000000", "180000", "45000", "10000", "4955000"):
        assert money(Decimal(value)) in row, (value, row)
    # charts: inline SVG, no script, each followed by its table
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 5
    assert "<script" not in page
    assert 'pattern id="graphe-montants-hatched"' in page
    # new this month: three dossiers led by the Region
    assert re.search(r"est pilote</dt>\s*<dd>3</dd>", page)


def test_agency_dashboard_lists_overdue_opinions(client, world, create_case):
    case = create_case("in_review")
    line = case.lines[1]  # Bpifrance's line asks the Region's opinion
    ops.ask_opinion(world.bpi_agent, line, agency=world.region, question="Votre avis ?",
                              due_on=paris_today() + timedelta(days=2))
    db.session.commit()
    login(client, world.region_agent)
    assert case.reference not in _page(client).split('id="tdb-avis"')[1]
    from atelier.cases.models import Opinion
    db.session.execute(update(Opinion).values(due_on=paris_today() - timedelta(days=4)))
    db.session.commit()
    page = " ".join(_page(client).split('id="tdb-avis"')[1].split())
    assert case.reference in page and "1 avis demandé à Région est en retard" in page
    login(client, world.bpi_agent)
    page = " ".join(_page(client).split('id="tdb-avis"')[1].split())
    assert "1 avis demandé par Bpifrance à des partenaires est en retard" in page


def test_agency_dashboard_query_count_is_fixed(client, world, create_case, create_scheme):
    login(client, world.region_agent)
    create_case("in_review")
    db.session.expire_all()
    with counting_queries() as few:
        _page(client)
    for _ in range(3):
        create_scheme(world.region)
    for _ in range(4):
        case = create_case("in_review")
        ops.propose_line(world.region_agent, case.lines[0], meeting=world.region_meeting, proposed_amount="50000")
        ops.approve_line(world.region_secretary, case.lines[0], granted_amount="45000")
    create_case("incomplete")
    db.session.commit()
    db.session.expire_all()
    with counting_queries() as many:
        _page(client)
    assert len(many) == len(few), "\n\n".join(many)


def test_agency_dashboard_is_for_agents_and_linked_from_the_inbox(client, world):
    for person in (world.applicant, world.admin):
        login(client, person)
        assert client.get("/organisme/tableau-de-bord").status_code == 404
    login(client, world.region_agent)
    assert 'href="/organisme/tableau-de-bord"' in client.get("/organisme/").get_data(as_text=True)
