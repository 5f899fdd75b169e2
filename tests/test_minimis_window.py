"""The de minimis window, property-based (hypothesis).

The window of a decision taken on day D is (three years before D, D], by grant date: an aid granted
exactly three years before is out, one day later is in, the decision day itself is in. It counts every
aid granted here to the SIREN (any agency, any dossier) and the aid declared on the dossier decided.
After any sequence of approvals the counted total per SIREN and regime never exceeds its ceiling.

Each example works in one transaction that is rolled back at its end (nothing is committed).
"""
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from atelier.cases import minimis
from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.companies.models import MINIMIS_CEILINGS, MINIMIS_REGIMES
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import MinimisAid

REGIMES = sorted(MINIMIS_REGIMES)
# The limits an approval must fit, written out here from the regulations (not from the code):
# each regime's own ceiling; general + agriculture + fisheries under 300 000 €; everything under 750 000 €.
LIMITS = [({regime}, MINIMIS_CEILINGS[regime]) for regime in REGIMES] + [
    ({"de_minimis", "de_minimis_agri", "de_minimis_fish"}, Decimal("300000")),
    (set(REGIMES), Decimal("750000")),
]
# database=None: no .hypothesis folder left in the working tree.
EXAMPLES = settings(max_examples=50, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def reference_start(day: date) -> date:
    """Three years before ``day``, written independently: 29 February goes back to 28 February."""
    if (day.month, day.day) == (2, 29):
        return date(day.year - 3, 2, 28)
    return date(day.year - 3, day.month, day.day)


def in_window(granted_on: date, decision: date) -> bool:
    return reference_start(decision) < granted_on <= decision


days = st.dates(min_value=date(2004, 1, 1), max_value=date(2096, 12, 31))


# --------------------------------------------------------------------------- three_years_before

@EXAMPLES
@given(day=days)
def test_three_years_before_is_the_same_day_three_years_earlier(day):
    assert minimis.three_years_before(day) == reference_start(day)
    assert minimis.three_years_before(day) < day


@pytest.mark.parametrize("decision, start", [
    (date(2028, 2, 29), date(2025, 2, 28)),  # a leap day has no twin three years before
    (date(2028, 3, 1), date(2025, 3, 1)),
    (date(2027, 2, 28), date(2024, 2, 28)),  # ... and 29 February 2024 is then inside
    (date(2027, 3, 1), date(2024, 3, 1)),
    (date(2026, 1, 1), date(2023, 1, 1)),
])
def test_leap_days(decision, start):
    assert minimis.three_years_before(decision) == start


# --------------------------------------------------------------------------- minimis_received

@pytest.fixture
def dossiers(world, create_case):
    """The dossier decided and another dossier of the same company (its declarations don't count)."""
    return create_case("draft").id, create_case("draft").id


AID_OFFSETS = st.sampled_from(["start", "start+1", "decision", "decision+1", "start-1", "inside"])


def _granted_on(kind: str, decision: date, inside: int) -> date:
    start = minimis.three_years_before(decision)
    return {"start": start, "start+1": start + timedelta(days=1), "start-1": start - timedelta(days=1),
            "decision": decision, "decision+1": decision + timedelta(days=1),
            "inside": start + timedelta(days=1 + inside % (decision - start).days)}[kind]


@EXAMPLES
@given(decision=days, aids=st.lists(st.tuples(
    AID_OFFSETS, st.integers(0, 2000),
    st.sampled_from(["granted", "declared here", "declared elsewhere"]),
    st.sampled_from(["Région Bourgogne-Franche-Comté", "Bpifrance", "AER BFC", "Département du Doubs"]),
    st.sampled_from(REGIMES), st.integers(1, 5_000_000)), max_size=8))
def test_received_counts_exactly_the_window(world, dossiers, decision, aids):
    case_id, other_case_id = dossiers
    siren = world.company.siren
    expected = {regime: Decimal(0) for regime in REGIMES}
    try:
        for kind, inside, source, body, regime, cents in aids:
            granted_on = _granted_on(kind, decision, inside)
            amount = Decimal(cents) / 100
            db.session.add(MinimisAid(
                siren=siren, granted_on=granted_on, granting_body=body, amount=amount, regime=regime,
                source="granted" if source == "granted" else "declared",
                case_id={"granted": other_case_id, "declared here": case_id,
                         "declared elsewhere": other_case_id}[source]))
            if in_window(granted_on, decision) and source != "declared elsewhere":
                expected[regime] += amount
        # another company's aid never counts
        db.session.add(MinimisAid(siren=world.other_company.siren, granted_on=decision, granting_body="Région",
                                  amount=Decimal("1000"), regime="de_minimis", source="granted"))
        db.session.flush()
        for regime in REGIMES:
            assert minimis.minimis_received(siren, regime, decision, case_id=case_id) == expected[regime]
    finally:
        db.session.rollback()


@pytest.mark.parametrize("granted_on, counted", [
    (date(2025, 2, 28), False),  # exactly three years before 29 February 2028 (no 29 Feb 2025)
    (date(2025, 3, 1), True),
    (date(2028, 2, 29), True),  # the decision day itself
    (date(2028, 3, 1), False),  # after the decision
])
def test_window_around_a_leap_day_decision(world, dossiers, granted_on, counted):
    case_id, _ = dossiers
    db.session.add(MinimisAid(siren=world.company.siren, granted_on=granted_on, granting_body="Région",
                              amount=Decimal("12345.67"), regime="de_minimis", source="granted"))
    db.session.flush()
    expected = Decimal("12345.67") if counted else Decimal("0.00")
    assert minimis.minimis_received(world.company.siren, "de_minimis", date(2028, 2, 29), case_id=case_id) == expected


def test_several_agencies_declared_and_granted_together(world, dossiers):
    case_id, other_case_id = dossiers
    decision = date(2026, 6, 15)
    for body, amount, source, on_case, granted_on in [
        ("Région", "100000", "granted", other_case_id, date(2023, 6, 16)),       # first day in
        ("Bpifrance", "50000", "granted", other_case_id, date(2026, 6, 15)),     # decision day
        ("AER BFC", "25000", "declared", case_id, date(2024, 1, 1)),             # declared here
        ("Département", "7000", "declared", other_case_id, date(2025, 1, 1)),    # another dossier's
        ("Europe", "90000", "granted", other_case_id, date(2023, 6, 15)),        # dropped out
    ]:
        db.session.add(MinimisAid(siren=world.company.siren, granted_on=granted_on, granting_body=body,
                                  amount=Decimal(amount), regime="de_minimis", source=source, case_id=on_case))
    db.session.flush()
    assert minimis.minimis_received(world.company.siren, "de_minimis", decision, case_id=case_id) == Decimal("175000")
    assert minimis.minimis_received(world.company.siren, "de_minimis_agri", decision, case_id=case_id) == 0


# --------------------------------------------------------------------------- any sequence of approvals

@pytest.fixture
def regime_schemes(world, create_scheme):
    """A grant scheme per (agency, regime), generous enough that only de minimis can refuse."""
    schemes = {}
    for key in ("region", "bpi", "aer"):
        agency = getattr(world, key)
        for regime in REGIMES:
            schemes[key, regime] = create_scheme(agency, committee=getattr(world, f"{key}_committee"),
                                                 regime=regime, ceiling=Decimal("1000000"), max_rate=Decimal("1"),
                                                 name=f"Dispositif {key} {regime}")
    db.session.commit()
    return schemes


TODAY = paris_today()
approvals = st.lists(st.tuples(
    st.sampled_from(["region", "bpi", "aer"]), st.sampled_from(REGIMES),
    st.integers(1, 90), st.integers(0, 1200)), min_size=1, max_size=5,
    unique_by=lambda approval: (approval[0], approval[1]))
declarations = st.lists(st.tuples(st.sampled_from(REGIMES), st.integers(1, 33), st.integers(0, 1500)),
                        max_size=3)


@EXAMPLES
@given(steps=approvals, declared=declarations)
def test_no_sequence_of_approvals_goes_over_the_ceiling(world, regime_schemes, steps, declared):
    """Approvals at increasing decision dates (from today to four years on), each of a random share
    (1 to 90 %) of its regime's ceiling, after random declarations (each at most a third of it):
    each is approved exactly when it fits, and the counted total never exceeds the ceiling."""
    siren = world.company.siren
    try:
        case = ops.create_case(world.applicant, world.company, title="Projet", description="Une machine.",
                               starts_on=TODAY,
                               eligible_cost=Decimal("1000000"))
        lines = [ops.add_line(world.applicant, case, scheme=regime_schemes[key, regime],
                              requested_amount=MINIMIS_CEILINGS[regime] * share / 100)
                 for key, regime, share, _ in steps]
        register = []  # (granted_on, amount, regime) counted for this dossier
        for regime, share, days_ago in declared:
            granted_on, amount = TODAY - timedelta(days=days_ago), MINIMIS_CEILINGS[regime] * share / 100
            ops.declare_minimis_aid(world.applicant, case, granted_on=granted_on, granting_body="Ailleurs",
                                    amount=amount, regime=regime)
            register.append((granted_on, amount.quantize(Decimal("0.01")), regime))
        if not declared:
            ops.declare_no_minimis(world.applicant, case)
        ops.submit_case(world.applicant, case)
        ops.accept_case(getattr(world, f"{_key_of(world, case.lead_agency)}_agent"), case)
        for line, (key, _, _, _) in zip(lines, steps):
            ops.propose_line(getattr(world, f"{key}_agent"), line, meeting=getattr(world, f"{key}_meeting"),
                             proposed_amount=line.requested_amount)

        decisions = sorted(TODAY + timedelta(days=offset) for _, _, _, offset in steps)
        for line, (key, regime, _, _), decision in zip(lines, steps, decisions):
            fits = all(sum((a for on, a, r in register if r in group and in_window(on, decision)), Decimal(0))
                       + line.proposed_amount <= ceiling
                       for group, ceiling in LIMITS if regime in group)
            with mock.patch.object(ops, "paris_today", return_value=decision):
                try:
                    ops.approve_line(getattr(world, f"{key}_secretary"), line, granted_amount=line.proposed_amount)
                    approved = True
                except ActionRefused as refused:
                    approved = False
                    assert refused.message.startswith("Plafond de ") and " dépassé : " in refused.message
            assert approved == fits, (register, regime, line.proposed_amount, decision)
            event("approved" if approved else "refused")
            if approved:
                register.append((decision, line.proposed_amount, regime))
            for day in decisions:
                for each in REGIMES:
                    counted = minimis.minimis_received(siren, each, day, case_id=case.id)
                    assert counted <= MINIMIS_CEILINGS[each]
                    assert counted == sum((a for on, a, r in register if r == each and in_window(on, day)),
                                          Decimal(0))
    finally:
        db.session.rollback()


def _key_of(world, agency):
    return next(key for key in ("region", "bpi", "aer") if getattr(world, key).id == agency.id)
