"""Every (event, state) pair of both machines, fired through the operations.

For each pair the dossier (or the funding line) is brought to the state by the
operations themselves, then the event is fired by the person the "who" column
names, with valid data. Pairs the domain table allows succeed, land in the
destination state and write exactly one ``Event`` of that name for that entity;
every other pair is refused in French, changes nothing and writes nothing.

The expected transitions are written out again here from domain.md (not read
from workflow.py), so a drift of the machines from the design fails too.
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import AgendaItem, Case, Event, FundingLine
from atelier.workflow import CASE_EVENTS, CASE_STATES, LINE_EVENTS, LINE_STATES

NOT_NOW = "n'est pas possible dans l'état actuel"

# domain.md, "Case": event -> (sources, destination); None = the state does not change
DOMAIN_CASE = {
    "submit": ({"draft"}, "submitted"),
    "request_info": ({"submitted", "in_review"}, "incomplete"),
    "resubmit": ({"incomplete"}, "submitted"),
    "accept": ({"submitted"}, "in_review"),
    "transfer_lead": ({"submitted", "in_review"}, None),
    "dismiss": ({"submitted", "incomplete", "in_review"}, "dismissed"),
    "withdraw": ({"draft", "submitted", "incomplete", "in_review"}, "withdrawn"),
    "close": ({"in_review"}, "closed"),
    "reopen": ({"closed"}, "in_review"),
}

# domain.md, "Funding line"
DOMAIN_LINE = {
    "start_review": ({"requested"}, "under_review"),
    "transfer": ({"under_review"}, None),
    "propose": ({"under_review"}, "on_agenda"),
    "approve": ({"on_agenda"}, "approved"),
    "reject": ({"on_agenda"}, "rejected"),
    "adjourn": ({"on_agenda"}, "under_review"),
    "sign_agreement": ({"approved"}, "agreement_signed"),
    "record_payment": ({"agreement_signed"}, None),
    # added by issue 4 (repayments of advances and loans), not in domain.md's table
    "record_repayment": ({"agreement_signed"}, None),
    "settle": ({"agreement_signed"}, "settled"),
    "withdraw": ({"requested", "under_review", "on_agenda"}, "withdrawn"),
    "dismiss": ({"requested", "under_review", "on_agenda"}, "dismissed"),
    "reopen": ({"rejected", "dismissed"}, "under_review"),
}

CASE_PAIRS = [(rule.name, state) for rule in CASE_EVENTS for state in CASE_STATES]
LINE_PAIRS = [(rule.name, state) for rule in LINE_EVENTS for state in LINE_STATES]
CASE_WHO = {rule.name: rule.who for rule in CASE_EVENTS}


# --------------------------------------------------------------------------- bringing things to a state

def case_in_state(world, create_case, state: str) -> Case:
    """A case of ``world.company`` (Region line 60 000 €, Bpifrance line 40 000 €; the Region leads)."""
    if state == "closed":
        case = create_case("in_review")
        region_line, bpi_line = case.lines
        ops.dismiss_line(world.region_agent, region_line, reason="Projet hors du champ du dispositif.")
        ops.dismiss_line(world.bpi_agent, bpi_line, reason="Projet hors du champ du dispositif.")
        db.session.commit()
    else:
        case = create_case(state)
    assert case.state == state
    return case


def line_in_state(world, create_case, state: str, *, which: str = "region", on_the_way=None) -> FundingLine:
    """The Region (or Bpifrance) line of a fresh case, brought to ``state`` through the operations.

    The other line stays open, so the case stays ``in_review`` (no automatic close) except where the
    state itself needs another case state: ``requested`` (case submitted), ``withdrawn`` (the case is
    withdrawn and its lines follow). ``on_the_way(line)`` is called once the line is ``under_review``.
    """
    if state == "requested":
        case = create_case("submitted")
    elif state == "withdrawn":
        case = create_case("withdrawn")
    else:
        case = create_case("in_review")
    line = case.lines[0] if which == "region" else case.lines[1]
    agent = world.region_agent if which == "region" else world.bpi_agent
    secretary = world.region_secretary if which == "region" else world.bpi_secretary
    meeting = world.region_meeting if which == "region" else world.bpi_meeting
    if line.state == "under_review" and on_the_way is not None:
        on_the_way(line)
    if state == "dismissed":
        ops.dismiss_line(agent, line, reason="Projet hors du champ du dispositif.")
    elif state in ("on_agenda", "approved", "rejected", "agreement_signed", "settled"):
        ops.propose_line(agent, line, meeting=meeting, proposed_amount="30000")
        if state == "rejected":
            ops.reject_line(secretary, line, reason="Fonds propres insuffisants.")
        elif state != "on_agenda":
            # the Bpifrance scheme is a de minimis zero-rate loan: its gross grant equivalent is entered
            ops.approve_line(secretary, line, granted_amount="30000", gross_grant_equivalent="3000")
            if state != "approved":
                # the schedule is only read for an advance or a loan (the Bpifrance line)
                ops.sign_agreement(agent, line, signed_on=paris_today(), instalment_count="4", frequency_months="3")
                if state == "settled":
                    ops.record_payment(agent, line, amount="10000", paid_on=paris_today())
                    if line.is_repayable:  # a loan is settled once repaid
                        ops.record_repayment(agent, line, amount="10000", repaid_on=paris_today())
                    ops.settle_line(agent, line)
    db.session.commit()
    assert line.state == state
    return line


# --------------------------------------------------------------------------- firing each event

CASE_FIRE = {
    "submit": lambda w, case: ops.submit_case(w.applicant, case),
    "request_info": lambda w, case: ops.request_info(w.region_agent, case,
                                                     message="Merci de joindre le dernier bilan."),
    "resubmit": lambda w, case: ops.resubmit_case(w.applicant, case),
    "accept": lambda w, case: ops.accept_case(w.region_agent, case),
    "transfer_lead": lambda w, case: ops.transfer_lead(w.region_agent, case, agency=w.aer,
                                                       reason="L'AER suit déjà l'entreprise."),
    "dismiss": lambda w, case: ops.dismiss_case(w.region_agent, case, reason="Hors périmètre régional."),
    "withdraw": lambda w, case: ops.withdraw_case(w.applicant, case, reason="Projet abandonné."),
    # system events: fired the way the application fires them, with no actor
    "close": lambda w, case: ops.case_event(None, case, "close"),
    "reopen": lambda w, case: ops.case_event(None, case, "reopen"),
}

LINE_FIRE = {
    "start_review": lambda w, line: ops.line_event(None, line, "start_review"),
    "transfer": lambda w, line: ops.transfer_line(w.region_agent, line, agency=w.aer, scheme=w.aer_scheme,
                                                  reason="Relève de l'avance remboursable."),
    "propose": lambda w, line: ops.propose_line(w.region_agent, line, meeting=w.region_meeting,
                                                proposed_amount="50000"),
    "approve": lambda w, line: ops.approve_line(w.region_secretary, line, granted_amount="30000"),
    "reject": lambda w, line: ops.reject_line(w.region_secretary, line, reason="Fonds propres insuffisants."),
    "adjourn": lambda w, line: ops.adjourn_line(w.region_secretary, line, reason="Devis à actualiser."),
    "sign_agreement": lambda w, line: ops.sign_agreement(w.region_agent, line, signed_on=paris_today()),
    "record_payment": lambda w, line: ops.record_payment(w.region_agent, line, amount="10000",
                                                         paid_on=paris_today()),
    # on the Bpifrance zero-rate loan (LINE_WHICH): money paid to the company, then some of it repaid
    "record_repayment": lambda w, line: (
        ops.record_payment(w.bpi_agent, line, amount="10000", paid_on=paris_today()),
        ops.record_repayment(w.bpi_agent, line, amount="2500", repaid_on=paris_today())),
    "settle": lambda w, line: ops.settle_line(w.region_agent, line),
    "withdraw": lambda w, line: ops.line_event(None, line, "withdraw"),
    "dismiss": lambda w, line: ops.dismiss_line(w.region_agent, line, reason="Projet hors champ."),
    "reopen": lambda w, line: ops.reopen_line(w.region_agent, line, reason="Recours gracieux reçu."),
}


LINE_WHICH = {"record_repayment": "bpi"}  # events that need an advance or a loan


def count_events(**where) -> int:
    query = select(func.count(Event.id))
    for column, value in where.items():
        query = query.where(getattr(Event, column) == value)
    return db.session.scalar(query)


def assert_refused_without_trace(fire_it, state_of, expected_message: str) -> ActionRefused:
    """``fire_it()`` is refused with ``expected_message``; no state moved and no Event was written."""
    before_state = state_of()
    before_events = count_events()
    with pytest.raises(ActionRefused) as refused:
        fire_it()
    assert expected_message in refused.value.message
    assert state_of() == before_state  # refused before the machine moved anything
    assert not [obj for obj in db.session.new if isinstance(obj, Event)]
    db.session.rollback()
    assert state_of() == before_state
    assert count_events() == before_events
    return refused.value


# --------------------------------------------------------------------------- the tables themselves

def test_the_machines_are_the_tables_of_domain_md():
    assert {rule.name: (set(rule.sources), rule.dest) for rule in CASE_EVENTS} == DOMAIN_CASE
    assert {rule.name: (set(rule.sources), rule.dest) for rule in LINE_EVENTS} == DOMAIN_LINE
    assert set(CASE_STATES) == {"draft", "submitted", "incomplete", "in_review", "closed", "dismissed",
                                "withdrawn"}
    assert set(LINE_STATES) == {"requested", "under_review", "on_agenda", "approved", "rejected",
                                "agreement_signed", "settled", "withdrawn", "dismissed"}


def _expected_case_refusal(event: str, state: str) -> str:
    # In a draft nobody is the lead agent yet (agents do not even see drafts): the refusal is about who.
    if state == "draft" and CASE_WHO[event] == "lead_agent":
        return "Seul un agent de l'organisme pilote"
    return NOT_NOW


@pytest.mark.parametrize("event, state", CASE_PAIRS, ids=[f"{e}-from-{s}" for e, s in CASE_PAIRS])
def test_case_event_from_state(world, create_case, event, state):
    case = case_in_state(world, create_case, state)
    sources, dest = DOMAIN_CASE[event]
    fire_it = lambda: CASE_FIRE[event](world, case)  # noqa: E731

    if state in sources:
        before = count_events(case_id=case.id, entity="case", name=event)
        fire_it()
        db.session.commit()
        assert case.state == (dest or state)
        assert count_events(case_id=case.id, entity="case", name=event) == before + 1
        recorded = db.session.scalars(select(Event).where(Event.case_id == case.id, Event.entity == "case",
                                                          Event.name == event)
                                      .order_by(Event.id.desc())).first()
        assert (recorded.from_state, recorded.to_state) == (state, dest or state)
    else:
        assert_refused_without_trace(fire_it, lambda: db.session.get(Case, case.id).state,
                                     _expected_case_refusal(event, state))


@pytest.mark.parametrize("event, state", LINE_PAIRS, ids=[f"{e}-from-{s}" for e, s in LINE_PAIRS])
def test_line_event_from_state(world, create_case, event, state):
    line = line_in_state(world, create_case, state, which=LINE_WHICH.get(event, "region"))
    sources, dest = DOMAIN_LINE[event]
    fire_it = lambda: LINE_FIRE[event](world, line)  # noqa: E731

    if state in sources:
        before = count_events(line_id=line.id, entity="line", name=event)
        fire_it()
        db.session.commit()
        assert line.state == (dest or state)
        assert count_events(line_id=line.id, entity="line", name=event) == before + 1
        recorded = db.session.scalars(select(Event).where(Event.line_id == line.id, Event.entity == "line",
                                                          Event.name == event)
                                      .order_by(Event.id.desc())).first()
        assert (recorded.from_state, recorded.to_state) == (state, dest or state)
    else:
        assert_refused_without_trace(fire_it, lambda: db.session.get(FundingLine, line.id).state, NOT_NOW)


# --------------------------------------------------------------------------- system events

SYSTEM_CASE_EVENTS = [("close", "in_review"), ("reopen", "closed")]
SYSTEM_LINE_EVENTS = [("start_review", "requested"), ("withdraw", "under_review")]


def test_the_system_events_are_exactly_those_of_domain_md():
    assert {r.name for r in CASE_EVENTS if r.who == "system"} == {e for e, _ in SYSTEM_CASE_EVENTS}
    assert {r.name for r in LINE_EVENTS if r.who == "system"} == {e for e, _ in SYSTEM_LINE_EVENTS}


@pytest.mark.parametrize("person", ["applicant", "region_agent", "region_secretary", "admin"])
@pytest.mark.parametrize("event, state", SYSTEM_CASE_EVENTS)
def test_nobody_fires_an_automatic_case_event(world, create_case, event, state, person):
    case = case_in_state(world, create_case, state)
    refused = assert_refused_without_trace(
        lambda: ops.case_event(getattr(world, person), case, event),
        lambda: db.session.get(Case, case.id).state, "automatique")
    assert refused.message.startswith("Cette étape est automatique")


@pytest.mark.parametrize("person", ["applicant", "region_agent", "region_secretary", "admin"])
@pytest.mark.parametrize("event, state", SYSTEM_LINE_EVENTS)
def test_nobody_fires_an_automatic_line_event(world, create_case, event, state, person):
    line = line_in_state(world, create_case, state)
    assert_refused_without_trace(lambda: ops.line_event(getattr(world, person), line, event),
                                 lambda: db.session.get(FundingLine, line.id).state, "automatique")


def _system_events(case, name, entity):
    return db.session.scalars(select(Event).where(Event.case_id == case.id, Event.name == name,
                                                  Event.entity == entity).order_by(Event.id)).all()


def test_accept_starts_the_review_of_every_requested_line(world, create_case):
    case = create_case("submitted")
    ops.accept_case(world.region_agent, case)
    db.session.commit()
    assert [line.state for line in case.lines] == ["under_review", "under_review"]
    started = _system_events(case, "start_review", "line")
    assert sorted(event.line_id for event in started) == sorted(line.id for line in case.lines)
    assert all(event.actor_id is None and event.from_state == "requested" for event in started)


def test_accept_leaves_a_line_already_final_alone(world, create_case):
    case = create_case("submitted")
    region_line, bpi_line = case.lines
    ops.dismiss_line(world.bpi_agent, bpi_line, reason="Hors champ.")
    ops.accept_case(world.region_agent, case)
    db.session.commit()
    assert (region_line.state, bpi_line.state) == ("under_review", "dismissed")
    assert [event.line_id for event in _system_events(case, "start_review", "line")] == [region_line.id]


def test_the_case_closes_when_its_last_open_line_becomes_final(world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.dismiss_line(world.region_agent, region_line, reason="Hors champ.")
    db.session.commit()
    assert case.state == "in_review" and case.closed_at is None
    assert _system_events(case, "close", "case") == []

    ops.propose_line(world.bpi_agent, bpi_line, meeting=world.bpi_meeting, proposed_amount="30000")
    ops.reject_line(world.bpi_secretary, bpi_line, reason="Fonds propres insuffisants.")
    db.session.commit()
    assert case.state == "closed" and case.closed_at is not None
    closes = _system_events(case, "close", "case")
    assert len(closes) == 1
    assert (closes[0].actor_id, closes[0].from_state, closes[0].to_state) == (None, "in_review", "closed")


def test_a_settled_line_closes_the_case_too(world, create_case):
    line = line_in_state(world, create_case, "agreement_signed")
    other = line.case.lines[1]
    ops.dismiss_line(world.bpi_agent, other, reason="Hors champ.")
    assert line.case.state == "in_review"
    ops.settle_line(world.region_agent, line)
    db.session.commit()
    assert line.case.state == "closed"
    assert len(_system_events(line.case, "close", "case")) == 1


def test_the_automatic_withdraw_of_the_last_line_closes_the_case(world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.dismiss_line(world.region_agent, region_line, reason="Hors champ.")
    ops.line_event(None, bpi_line, "withdraw")
    db.session.commit()
    assert case.state == "closed"


def test_a_case_does_not_close_outside_review(world, create_case):
    """``close`` is allowed from in_review only: lines of a submitted case all dismissed leave it submitted…"""
    case = create_case("submitted")
    for line, agent in zip(case.lines, (world.region_agent, world.bpi_agent)):
        ops.dismiss_line(agent, line, reason="Hors champ.")
    db.session.commit()
    assert case.state == "submitted"
    assert _system_events(case, "close", "case") == []

    # … until the lead agency accepts it: then it closes at once rather than stay in review with nothing open
    ops.accept_case(world.region_agent, case)
    db.session.commit()
    assert case.state == "closed" and case.closed_at is not None
    assert [(e.from_state, e.to_state) for e in _system_events(case, "close", "case")] == [("in_review",
                                                                                            "closed")]
    assert _system_events(case, "start_review", "line") == []


def test_reopening_a_line_of_a_closed_case_reopens_the_case(world, create_case):
    case = case_in_state(world, create_case, "closed")
    assert case.closed_at is not None
    region_line = case.lines[0]
    ops.reopen_line(world.region_agent, region_line, reason="Recours gracieux du dirigeant.")
    db.session.commit()
    assert region_line.state == "under_review"
    assert case.state == "in_review" and case.closed_at is None
    reopened = _system_events(case, "reopen", "case")
    assert len(reopened) == 1
    assert (reopened[0].actor_id, reopened[0].from_state, reopened[0].to_state) == (None, "closed",
                                                                                      "in_review")
    assert len(_system_events(case, "reopen", "line")) == 1


def test_reopening_a_line_of_a_case_in_review_leaves_the_case_alone(world, create_case):
    line = line_in_state(world, create_case, "rejected")
    ops.reopen_line(world.region_agent, line, reason="Recours gracieux du dirigeant.")
    db.session.commit()
    assert line.state == "under_review" and line.case.state == "in_review"
    assert _system_events(line.case, "reopen", "case") == []


@pytest.mark.parametrize("case_state", ["dismissed", "withdrawn"])
def test_a_line_of_a_case_dismissed_or_withdrawn_cannot_be_reopened(world, create_case, case_state):
    """The line is final (dismissed/withdrawn) but its case is over: the recourse goes nowhere."""
    case = create_case("in_review")
    region_line = case.lines[0]
    ops.dismiss_line(world.region_agent, region_line, reason="Hors champ.")
    if case_state == "dismissed":
        ops.dismiss_case(world.region_agent, case, reason="Entreprise en liquidation.")
    else:
        ops.withdraw_case(world.applicant, case)
    db.session.commit()
    assert region_line.state == "dismissed"
    assert_refused_without_trace(
        lambda: ops.reopen_line(world.region_agent, region_line, reason="Recours gracieux."),
        lambda: db.session.get(FundingLine, region_line.id).state, "ne peuvent plus être rouvertes")


@pytest.mark.parametrize("case_event, line_event", [("withdraw", "withdraw"), ("dismiss", "dismiss")])
def test_the_open_lines_follow_their_case(world, create_case, case_event, line_event):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="30000")
    db.session.commit()
    CASE_FIRE[case_event](world, case)
    db.session.commit()
    final = "withdrawn" if line_event == "withdraw" else "dismissed"
    assert case.state == final
    assert (region_line.state, bpi_line.state) == (final, final)
    cascaded = _system_events(case, line_event, "line")
    assert sorted(event.line_id for event in cascaded) == sorted([region_line.id, bpi_line.id])
    assert all(event.actor_id is None for event in cascaded)
    assert {event.from_state for event in cascaded} == {"on_agenda", "under_review"}
    item = db.session.scalars(select(AgendaItem).where(AgendaItem.line_id == region_line.id)).one()
    assert item.outcome == "withdrawn"  # no longer on the committee's agenda
    assert _system_events(case, "close", "case") == []  # a withdrawn/dismissed case does not also close


def test_a_final_line_does_not_follow_its_case(world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.propose_line(world.region_agent, region_line, meeting=world.region_meeting, proposed_amount="30000")
    ops.reject_line(world.region_secretary, region_line, reason="Fonds propres insuffisants.")
    ops.withdraw_case(world.applicant, case)
    db.session.commit()
    assert (region_line.state, bpi_line.state) == ("rejected", "withdrawn")
    assert [event.line_id for event in _system_events(case, "withdraw", "line")] == [bpi_line.id]


def test_withdrawing_a_draft_withdraws_its_lines_too(world, create_case):
    case = create_case("draft")
    ops.withdraw_case(world.applicant, case)
    db.session.commit()
    assert case.state == "withdrawn" and case.closed_at is not None
    assert [line.state for line in case.lines] == ["withdrawn", "withdrawn"]
    assert len(_system_events(case, "withdraw", "line")) == 2


@pytest.mark.parametrize("case_event", ["withdraw", "dismiss"])
def test_a_case_with_an_aid_granted_can_neither_be_withdrawn_nor_dismissed(world, create_case, case_event):
    line = line_in_state(world, create_case, "approved")
    case = line.case
    assert_refused_without_trace(lambda: CASE_FIRE[case_event](world, case),
                                 lambda: db.session.get(Case, case.id).state, "Une aide a déjà été accordée")


def test_an_opinion_asked_on_the_way_does_not_change_the_line(world, create_case):
    """The helper ``on_the_way`` used by test_rights.py: an opinion is an event, not a transition."""
    asked = []
    line = line_in_state(world, create_case, "on_agenda", which="bpi", on_the_way=lambda line: asked.append(
        ops.ask_opinion(world.bpi_agent, line, agency=world.aer, due_on=paris_today() + timedelta(days=7))))
    assert line.state == "on_agenda" and len(asked) == 1
    assert count_events(line_id=line.id, name="ask_opinion", entity="opinion") == 1


def test_every_state_has_its_badge_style():
    """``state_badge`` writes ``badge-<state>``: each state of both machines (and each agenda outcome)
    has its colour family in the stylesheet, beside the label the badge always carries."""
    import re
    from pathlib import Path

    from atelier.committees.models import AGENDA_OUTCOMES

    css = (Path(__file__).resolve().parent.parent / "static" / "atelier.css").read_text(encoding="utf-8")
    styled = set(re.findall(r"\.badge-([a-z_]+)\b", css))
    missing = (set(CASE_STATES) | set(LINE_STATES) | set(AGENDA_OUTCOMES)) - styled
    assert not missing, f"no .badge-<state> rule for {sorted(missing)}"
