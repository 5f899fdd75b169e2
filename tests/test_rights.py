"""Who may fire what: every event of both machines, and the opinions, by every kind of person.

The dossier is that of ``create_case``: the Region leads it (its line asks 60 000 €), Bpifrance holds
the other line (40 000 €), and the line events are fired on the Bpifrance line so that "agent of the
lead agency" and "agent of the line's agency" are different people. Each event is fired with the
dossier already in a state the event may leave, and with valid data, so the only thing left to
decide is the person: allowed exactly as the "who" column of domain.md says, refused otherwise
(ActionRefused in French, nothing changed, no Event written).
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.cases.access import visible_cases
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Case, Event, FundingLine, Opinion
from atelier.workflow import CASE_EVENTS, LINE_EVENTS
from test_workflow_table import case_in_state, line_in_state

# domain.md, the "who" column (written out again here, not read from workflow.py)
DOMAIN_CASE_WHO = {
    "submit": "applicant", "request_info": "lead_agent", "resubmit": "applicant", "accept": "lead_agent",
    "transfer_lead": "lead_agent", "dismiss": "lead_agent", "withdraw": "applicant",
    "close": "system", "reopen": "system",
}
DOMAIN_LINE_WHO = {
    "start_review": "system", "transfer": "line_agent", "propose": "line_agent", "approve": "secretary",
    "reject": "secretary", "adjourn": "secretary", "sign_agreement": "line_agent",
    "record_payment": "line_agent", "record_repayment": "line_agent", "settle": "line_agent", "withdraw": "system", "dismiss": "line_agent",
    "reopen": "line_agent",
}
# domain.md, "Opinions": the agent holding a line asks; agents of the consulted agency answer.
OPINION_WHO = {"ask_opinion": "line_agent", "give_opinion": "consulted_agent"}

# The kinds of person, and who they are in the dossier.
ACTORS = {
    "applicant": "applicant of the company",
    "other_applicant": "applicant of another company",
    "lead_agent": "agent of the lead agency (Region)",
    "lead_secretary": "committee secretary of the lead agency (Region), not deciding the Bpifrance line",
    "other_agent": "agent of an agency that has no part in the dossier",
    "line_agent": "agent of the line's agency (Bpifrance)",
    "secretary": "committee secretary of the agency deciding the line (Bpifrance)",
    "consulted_agent": "agent of the agency asked for an opinion on the line (AER)",
    "admin": "platform admin",
}
CASE_ACTORS = [kind for kind in ACTORS if kind != "consulted_agent"]  # nobody is consulted on a bare case

# Which kinds each "who" lets through. A committee secretary is an agent with a flag (domain.md, "Who
# sees what": "the above, plus…"): a secretary of the Region is an agent of the lead agency, a secretary
# of Bpifrance an agent of the line's agency.
ALLOWED_KINDS = {
    "applicant": {"applicant"},
    "lead_agent": {"lead_agent", "lead_secretary"},
    "line_agent": {"line_agent", "secretary"},
    "secretary": {"secretary"},
    "consulted_agent": {"consulted_agent"},
    "system": set(),
}

# The state each event is fired from (one of its sources).
CASE_FROM = {
    "submit": "draft", "resubmit": "incomplete", "withdraw": "submitted", "request_info": "submitted",
    "accept": "submitted", "transfer_lead": "submitted", "dismiss": "submitted", "close": "in_review",
    "reopen": "closed",
}
LINE_FROM = {
    "start_review": "requested", "transfer": "under_review", "propose": "under_review",
    "approve": "on_agenda", "reject": "on_agenda", "adjourn": "on_agenda", "sign_agreement": "approved",
    "record_payment": "agreement_signed", "record_repayment": "agreement_signed", "settle": "agreement_signed", "withdraw": "under_review",
    "dismiss": "under_review", "reopen": "rejected", "ask_opinion": "under_review",
    "give_opinion": "under_review",
}

CASE_FIRE = {
    "submit": lambda w, who, case: ops.submit_case(who, case),
    "resubmit": lambda w, who, case: ops.resubmit_case(who, case),
    "withdraw": lambda w, who, case: ops.withdraw_case(who, case, reason="Projet abandonné."),
    "request_info": lambda w, who, case: ops.request_info(who, case, message="Merci de joindre le bilan."),
    "accept": lambda w, who, case: ops.accept_case(who, case),
    "transfer_lead": lambda w, who, case: ops.transfer_lead(who, case, agency=w.aer,
                                                            reason="L'AER suit déjà l'entreprise."),
    "dismiss": lambda w, who, case: ops.dismiss_case(who, case, reason="Hors périmètre régional."),
    "close": lambda w, who, case: ops.case_event(who, case, "close"),
    "reopen": lambda w, who, case: ops.case_event(who, case, "reopen"),
}

LINE_FIRE = {
    "start_review": lambda w, who, line, opinion: ops.line_event(who, line, "start_review"),
    "transfer": lambda w, who, line, opinion: ops.transfer_line(who, line, agency=w.aer, scheme=w.aer_scheme,
                                                                reason="Relève de l'avance remboursable."),
    "propose": lambda w, who, line, opinion: ops.propose_line(who, line, meeting=w.bpi_meeting,
                                                              proposed_amount="30000"),
    "approve": lambda w, who, line, opinion: ops.approve_line(who, line, granted_amount="30000",
                                                              gross_grant_equivalent="3000"),
    "reject": lambda w, who, line, opinion: ops.reject_line(who, line, reason="Fonds propres insuffisants."),
    "adjourn": lambda w, who, line, opinion: ops.adjourn_line(who, line, reason="Devis à actualiser."),
    "sign_agreement": lambda w, who, line, opinion: ops.sign_agreement(who, line, signed_on=paris_today(),
                                                                       instalment_count="4", frequency_months="3"),
    "record_payment": lambda w, who, line, opinion: ops.record_payment(who, line, amount="10000",
                                                                       paid_on=paris_today()),
    "record_repayment": lambda w, who, line, opinion: (
        ops.record_payment(w.bpi_agent, line, amount="10000", paid_on=paris_today()),
        ops.record_repayment(who, line, amount="2500", repaid_on=paris_today())),
    "settle": lambda w, who, line, opinion: ops.settle_line(who, line),
    "withdraw": lambda w, who, line, opinion: ops.line_event(who, line, "withdraw"),
    "dismiss": lambda w, who, line, opinion: ops.dismiss_line(who, line, reason="Projet hors champ."),
    "reopen": lambda w, who, line, opinion: ops.reopen_line(who, line, reason="Recours gracieux reçu."),
    "ask_opinion": lambda w, who, line, opinion: ops.ask_opinion(
        who, line, agency=w.region, due_on=paris_today() + timedelta(days=10), question="Cofinancez-vous ?"),
    "give_opinion": lambda w, who, line, opinion: ops.give_opinion(
        who, opinion, verdict="favourable", intended_amount="10000", comment="Projet solide."),
}
ENTITY = {name: "line" for name in DOMAIN_LINE_WHO} | {"ask_opinion": "opinion", "give_opinion": "opinion"}


@pytest.fixture
def actors(world, create_agency, create_user):
    outsider = create_agency("cci", name="CCI Bourgogne-Franche-Comté", short_name="CCI", kind="chamber")
    people = {
        "applicant": world.applicant, "other_applicant": world.other_applicant,
        "lead_agent": world.region_agent, "lead_secretary": world.region_secretary,
        "other_agent": create_user("agent", agency=outsider), "line_agent": world.bpi_agent,
        "secretary": world.bpi_secretary, "consulted_agent": world.aer_agent, "admin": world.admin,
    }
    db.session.commit()
    return people


def snapshot(case_id: int) -> tuple:
    """Everything an event may change, read through the session (reloaded after a rollback)."""
    case = db.session.get(Case, case_id)
    opinions = db.session.scalars(select(Opinion).join(Opinion.line).where(FundingLine.case_id == case_id)
                                  .order_by(Opinion.id)).all()
    return (case.state, case.lead_agency_id, [(line.state, line.agency_id, line.scheme_id)
                                              for line in case.lines],
            [(opinion.agency_id, opinion.verdict) for opinion in opinions])


def count_events(case_id: int, **where) -> int:
    query = select(func.count(Event.id)).where(Event.case_id == case_id)
    for column, value in where.items():
        query = query.where(getattr(Event, column) == value)
    return db.session.scalar(query)


def check(fire_it, case_id: int, event: str, entity: str, allowed: bool) -> None:
    before = snapshot(case_id)
    events_before = count_events(case_id)
    named_before = count_events(case_id, entity=entity, name=event)
    if allowed:
        fire_it()
        db.session.commit()
        assert count_events(case_id, entity=entity, name=event) == named_before + 1
        return
    with pytest.raises(ActionRefused) as refused:
        fire_it()
    message = refused.value.message
    assert "n'est pas possible dans l'état actuel" not in message  # the state was right: it is about who
    assert message.startswith(("Seul", "Cette étape est automatique")), message
    assert snapshot(case_id) == before
    assert not [obj for obj in db.session.new if isinstance(obj, Event)]
    db.session.rollback()
    assert snapshot(case_id) == before
    assert count_events(case_id) == events_before


def test_the_who_column_is_that_of_domain_md():
    assert {rule.name: rule.who for rule in CASE_EVENTS} == DOMAIN_CASE_WHO
    assert {rule.name: rule.who for rule in LINE_EVENTS} == DOMAIN_LINE_WHO


CASE_CASES = [(event, kind, kind in ALLOWED_KINDS[who])
              for event, who in DOMAIN_CASE_WHO.items() for kind in CASE_ACTORS]
LINE_CASES = [(event, kind, kind in ALLOWED_KINDS[who])
              for event, who in (DOMAIN_LINE_WHO | OPINION_WHO).items() for kind in ACTORS]


def _ids(cases):
    return [f"{event}-by-{kind}-{'allowed' if allowed else 'refused'}" for event, kind, allowed in cases]


@pytest.mark.parametrize("event, kind, allowed", CASE_CASES, ids=_ids(CASE_CASES))
def test_case_event_by(world, create_case, actors, event, kind, allowed):
    case = case_in_state(world, create_case, CASE_FROM[event])
    check(lambda: CASE_FIRE[event](world, actors[kind], case), case.id, event, "case", allowed)


@pytest.mark.parametrize("event, kind, allowed", LINE_CASES, ids=_ids(LINE_CASES))
def test_line_event_by(world, create_case, actors, event, kind, allowed):
    asked = []

    def consult_aer(line):
        asked.append(ops.ask_opinion(world.bpi_agent, line, agency=world.aer,
                                     due_on=paris_today() + timedelta(days=7), question="Cofinancez-vous ?"))

    line = line_in_state(world, create_case, LINE_FROM[event], which="bpi", on_the_way=consult_aer)
    opinion = asked[0] if asked else None
    if kind == "consulted_agent" and event != "start_review":
        assert opinion is not None and opinion.agency_id == world.aer.id  # AER really is consulted
    check(lambda: LINE_FIRE[event](world, actors[kind], line, opinion), line.case_id, event,
          ENTITY[event], allowed)


# --------------------------------------------------------------------------- rights that move with the dossier

def test_the_former_lead_agency_loses_the_lead_events(world, create_case, actors):
    case = case_in_state(world, create_case, "in_review")
    ops.transfer_lead(world.region_agent, case, agency=world.aer, reason="L'AER suit déjà l'entreprise.")
    db.session.commit()
    check(lambda: ops.request_info(world.region_agent, case, message="Le bilan ?"), case.id, "request_info",
          "case", allowed=False)
    check(lambda: ops.request_info(world.aer_agent, case, message="Le bilan ?"), case.id, "request_info",
          "case", allowed=True)


def test_the_agency_a_line_was_transferred_from_loses_the_line_events(world, create_case, actors):
    line = line_in_state(world, create_case, "under_review", which="bpi")
    ops.transfer_line(world.bpi_agent, line, agency=world.aer, scheme=world.aer_scheme,
                      reason="Relève de l'avance remboursable.")
    db.session.commit()
    dismiss = lambda who: lambda: ops.dismiss_line(who, line, reason="Hors champ.")  # noqa: E731
    check(dismiss(world.bpi_agent), line.case_id, "dismiss", "line", allowed=False)
    check(dismiss(world.aer_agent), line.case_id, "dismiss", "line", allowed=True)


def test_the_secretary_of_the_committee_the_line_is_before_decides_it(world, create_case, actors):
    """After a transfer the line sits on the new agency's committee: its secretary decides, not the old one."""
    line = line_in_state(world, create_case, "under_review", which="bpi")
    ops.transfer_line(world.bpi_agent, line, agency=world.aer, scheme=world.aer_scheme,
                      reason="Relève de l'avance remboursable.")
    ops.propose_line(world.aer_agent, line, meeting=world.aer_meeting, proposed_amount="30000")
    db.session.commit()
    adjourn = lambda who: lambda: ops.adjourn_line(who, line, reason="Devis à actualiser.")  # noqa: E731
    check(adjourn(world.bpi_secretary), line.case_id, "adjourn", "line", allowed=False)
    check(adjourn(world.aer_secretary), line.case_id, "adjourn", "line", allowed=True)


def test_an_opinion_is_given_once(world, create_case, actors):
    line = line_in_state(world, create_case, "under_review", which="bpi")
    opinion = ops.ask_opinion(world.bpi_agent, line, agency=world.aer, due_on=paris_today() + timedelta(days=7))
    ops.give_opinion(world.aer_agent, opinion, verdict="reserved", comment="À revoir.")
    db.session.commit()
    with pytest.raises(ActionRefused, match="déjà été donné"):
        ops.give_opinion(world.aer_secretary, opinion, verdict="favourable")
    db.session.rollback()
    assert db.session.get(Opinion, opinion.id).verdict == "reserved"


# --------------------------------------------------------------------------- who sees the dossier at all

SEES_IN_REVIEW = {"applicant", "lead_agent", "lead_secretary", "line_agent", "secretary", "consulted_agent",
                  "admin"}
SEES_DRAFT = {"applicant", "admin"}  # agencies get their access when the dossier is submitted


@pytest.mark.parametrize("state", ["draft", "in_review"])
@pytest.mark.parametrize("kind", list(ACTORS))
def test_who_sees_the_dossier(world, create_case, actors, kind, state):
    case = create_case(state)
    if state == "in_review":
        ops.ask_opinion(world.bpi_agent, case.lines[1], agency=world.aer, due_on=paris_today() + timedelta(days=7))
        db.session.commit()
    seen = db.session.scalars(visible_cases(actors[kind]).where(Case.id == case.id)).all()
    assert bool(seen) == (kind in (SEES_DRAFT if state == "draft" else SEES_IN_REVIEW))
