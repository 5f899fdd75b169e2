"""A scheme's rules, each at its boundary, and checked wherever they matter: when a line is added,
at submission (one message per failing line), at the proposal and at the approval."""
import html as html_lib
import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask import g
from sqlalchemy import func, select

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.companies.models import SIZE_LABELS, size_category
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import AgendaItem, Event, FundingLine, MinimisAid
from atelier.schemes.models import Scheme
from atelier.schemes.rules import (NAF_SECTIONS, naf_section, parse_departements, parse_excluded_naf,
                                   scheme_refusals)
from tests.conftest import login as _login

M = Decimal(1_000_000)
CENT = Decimal("0.01")


def login(client, user) -> None:
    _login(client, user)
    g.pop("_login_user", None)


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def error_beside(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{re.escape(field_id)}-error">(.*?)</p>', html, re.S)
    assert match, f"no error beside {field_id}"
    return html_lib.unescape(match.group(1))


def flashes(client, category: str) -> str:
    with client.session_transaction() as session:
        return " ".join(message for kind, message in session.pop("_flashes", []) if kind == category)


def count_events(case, name=None) -> int:
    query = select(func.count(Event.id)).where(Event.case_id == case.id)
    if name:
        query = query.where(Event.name == name)
    return db.session.scalar(query)


def project(eligible_cost="250000"):
    """What ``scheme_refusals`` reads of a dossier."""
    return SimpleNamespace(eligible_cost=Decimal(eligible_cost))


def company(headcount=12, turnover=Decimal("1500000"), balance_sheet=Decimal("900000"), departement="21",
            naf_code="62.01Z"):
    return SimpleNamespace(headcount=headcount, turnover=turnover, balance_sheet=balance_sheet,
                           departement=departement, naf_code=naf_code,
                           size=size_category(headcount, turnover, balance_sheet),
                           size_label=SIZE_LABELS[size_category(headcount, turnover, balance_sheet)])


def scheme(**fields):
    values = dict(name="Aide test", ceiling=Decimal("200000"), max_rate=Decimal("1"),
                  opens_on=date(2026, 1, 1), closes_on=date(2026, 6, 30), eligible_sizes=[],
                  eligible_departements=[], excluded_naf=[])
    values.update(fields)
    return Scheme(**values)


OPEN_DAY = date(2026, 3, 1)


def plain(message: str) -> str:
    """Money is formatted with narrow no-break spaces: read them as spaces."""
    return message.replace("\u202f", " ").replace("\u00a0", " ")


def refusals(the_scheme, amount="1000", *, who=None, cost="250000", today=OPEN_DAY):
    return [plain(reason) for reason in
            scheme_refusals(the_scheme, who or company(), project(cost), Decimal(amount), today)]


# --------------------------------------------------------------------------- each rule at its boundary

def test_a_line_that_fits_every_rule_has_no_refusal():
    assert refusals(scheme()) == []


def test_exactly_the_ceiling_fits_one_cent_more_does_not():
    assert refusals(scheme(), "200000") == []
    assert refusals(scheme(), "200000.01") == [
        "Le montant demandé dépasse le plafond du dispositif « Aide test » (200 000,00 €)."]


def test_exactly_the_maximum_rate_fits_one_cent_more_does_not():
    capped = scheme(max_rate=Decimal("0.4"))  # 40 % of 250 000 € = 100 000 €
    assert refusals(capped, "100000") == []
    [reason] = refusals(capped, "100000.01")
    assert reason.startswith("Le montant demandé dépasse le taux maximal du dispositif « Aide test »")
    assert "100 000,00 €" in reason and "250 000,00 €" in reason
    odd = scheme(max_rate=Decimal("0.3333"))  # 0.3333 × 1 000,01 = 333,3033… → 333,30 €
    assert refusals(odd, "333.30", cost="1000.01") == []
    assert refusals(odd, "333.31", cost="1000.01") != []


def test_over_both_ceiling_and_rate_gives_both_reasons():
    assert len(refusals(scheme(ceiling=Decimal("1000"), max_rate=Decimal("0.001")), "1000.01")) == 2


@pytest.mark.parametrize("day, fits", [
    (date(2025, 12, 31), False), (date(2026, 1, 1), True),  # the first open day is open
    (date(2026, 6, 30), True), (date(2026, 7, 1), False),  # and so is the last one
])
def test_the_first_and_last_open_days_are_open_the_days_around_are_not(day, fits):
    reasons = refusals(scheme(), today=day)
    assert reasons == ([] if fits else ["Le dispositif « Aide test » n'est pas ouvert aux demandes à cette date."])


def test_a_scheme_without_closing_date_stays_open():
    assert refusals(scheme(closes_on=None), today=date(2099, 1, 1)) == []


SIZE_THRESHOLDS = [
    # headcount, turnover, balance sheet → category (EU 2003/361 and the French ETI band)
    (9, 2 * M, 2 * M, "micro"),
    (9, 2 * M + CENT, 2 * M, "micro"),  # one of the two financial limits is enough
    (9, 2 * M + CENT, 2 * M + CENT, "small"),
    (10, 2 * M, 2 * M, "small"),
    (49, 10 * M, 10 * M, "small"),
    (49, 10 * M + CENT, 10 * M + CENT, "medium"),
    (50, 10 * M, 10 * M, "medium"),
    (249, 50 * M, 43 * M, "medium"),
    (249, 50 * M + CENT, 43 * M, "medium"),
    (249, 50 * M + CENT, 43 * M + CENT, "eti"),
    (250, 50 * M, 43 * M, "eti"),
    (4999, 1500 * M, 2000 * M, "eti"),
    (4999, 1500 * M + CENT, 2000 * M + CENT, "large"),
    (5000, 1500 * M, 2000 * M, "large"),
]


@pytest.mark.parametrize("headcount, turnover, balance_sheet, category", SIZE_THRESHOLDS)
def test_each_size_category_at_its_thresholds(headcount, turnover, balance_sheet, category):
    who = company(headcount=headcount, turnover=turnover, balance_sheet=balance_sheet)
    assert who.size == category
    assert refusals(scheme(eligible_sizes=[category]), who=who) == []
    others = [size for size in SIZE_LABELS if size != category]
    [reason] = refusals(scheme(eligible_sizes=others), who=who)
    assert reason.startswith("Le dispositif « Aide test » est réservé aux entreprises de ces tailles")
    assert SIZE_LABELS[category].lower() in reason


@pytest.mark.parametrize("departement, allowed, fits", [
    ("21", ["21", "25"], True), ("25", ["21", "25"], True), ("39", ["21", "25"], False),
    ("2A", ["2A"], True), ("2B", ["2A"], False), ("971", ["971", "2A"], True), ("21", [], True),
])
def test_eligible_departements(departement, allowed, fits):
    reasons = refusals(scheme(eligible_departements=allowed), who=company(departement=departement))
    if fits:
        assert reasons == []
    else:
        assert reasons == [f"Le dispositif « Aide test » est réservé aux départements {', '.join(allowed)} ; "
                           f"l'établissement est situé dans le département {departement}."]


@pytest.mark.parametrize("naf_code, excluded, fits", [
    ("01.11Z", ["A"], False), ("03.22Z", ["A"], False), ("05.10Z", ["A"], True),  # A = divisions 01–03
    ("62.01Z", ["J"], False), ("64.19Z", ["J"], True), ("6201Z", ["J"], False),
    ("62.01Z", ["62"], False), ("62.02A", ["62.01Z"], True), ("62.01Z", ["62.01Z"], False),
    ("62.01Z", ["62.0"], False), ("01.11Z", ["10"], True), ("62.01Z", [], True),
    ("99.00Z", ["U"], False), ("35.11Z", ["D"], False), ("68.10Z", ["L"], False),
])
def test_excluded_naf_sections_and_prefixes(naf_code, excluded, fits):
    reasons = refusals(scheme(excluded_naf=excluded), who=company(naf_code=naf_code))
    if fits:
        assert reasons == []
    else:
        assert reasons == [f"Le dispositif « Aide test » exclut l'activité de l'entreprise (code NAF {naf_code})."]


def test_the_naf_sections_cover_every_division_by_the_insee_table():
    assert len(NAF_SECTIONS) == 21 and list(NAF_SECTIONS) == [chr(c) for c in range(ord("A"), ord("U") + 1)]
    expected = {"01": "A", "03": "A", "05": "B", "09": "B", "10": "C", "33": "C", "35": "D", "36": "E",
                "39": "E", "41": "F", "43": "F", "45": "G", "47": "G", "49": "H", "53": "H", "55": "I",
                "56": "I", "58": "J", "63": "J", "64": "K", "66": "K", "68": "L", "69": "M", "75": "M",
                "77": "N", "82": "N", "84": "O", "85": "P", "86": "Q", "88": "Q", "90": "R", "93": "R",
                "94": "S", "96": "S", "97": "T", "98": "T", "99": "U"}
    for division, section in expected.items():
        assert naf_section(f"{division}.10Z") == section, division
    assert naf_section("") is None and naf_section("xx") is None


def test_every_failing_rule_is_told():
    reasons = refusals(scheme(eligible_sizes=["micro"], eligible_departements=["25"], excluded_naf=["J"],
                              ceiling=Decimal("500")), "600", today=date(2027, 1, 1))
    assert len(reasons) == 5


# --------------------------------------------------------------------------- parsing the admin's rules

@pytest.mark.parametrize("typed, stored", [
    ("21, 25 2a;971", ["21", "25", "2A", "971"]), ("  ", []), ("1", ["01"]), ("95 976 2B", ["95", "2B", "976"]),
    ("21, 21", ["21"]),
])
def test_departements_typed(typed, stored):
    assert parse_departements(typed) == stored


@pytest.mark.parametrize("typed", ["20", "96", "00", "977", "970", "2C", "dijon", "021"])
def test_departements_that_do_not_exist_are_refused(typed):
    with pytest.raises(ActionRefused, match="Département inconnu"):
        parse_departements(f"21, {typed}")


@pytest.mark.parametrize("typed, stored", [
    ("a, 62.01z 01", ["A", "62.01Z", "01"]), ("6201Z", ["62.01Z"]), ("011", ["01.1"]), ("", []),
    ("U", ["U"]),
])
def test_excluded_naf_typed(typed, stored):
    assert parse_excluded_naf(typed) == stored


@pytest.mark.parametrize("typed", ["V", "04", "6", "62.0123", "AB", "62.01ZZ", "1", "00"])
def test_excluded_naf_that_cannot_be_one_is_refused(typed):
    with pytest.raises(ActionRefused, match="Code NAF non reconnu"):
        parse_excluded_naf(typed)


# --------------------------------------------------------------------------- at submission

def test_submission_gives_one_message_per_failing_line_and_changes_nothing(world, create_case, create_scheme):
    today = paris_today()
    restricted = create_scheme(world.aer, name="Aide aux micro", ceiling=Decimal("10000"))
    restricted.eligible_sizes = ["micro"]  # world.company has 12 people: a small company
    restricted.eligible_departements = ["25", "39"]  # and it is in Côte-d'Or (21)
    case = create_case("draft", lines=[(world.region_scheme, "60000"), (world.bpi_scheme, "40000"),
                                       (restricted, "10000")])
    world.bpi_scheme.closes_on = today - timedelta(days=1)
    world.region_scheme.excluded_naf = ["J"]  # 62.01Z
    db.session.commit()

    problems = [plain(p) for p in ops.submission_problems(case, today) if p.startswith("Demande")]
    assert len(problems) == 3
    assert problems[0] == ("Demande 1 : le dispositif « Aide à l'investissement » exclut l'activité de "
                           "l'entreprise (code NAF 62.01Z).")
    assert problems[1] == "Demande 2 : le dispositif « Prêt d'amorçage » n'est pas ouvert aux demandes à cette date."
    assert problems[2].startswith("Demande 3 : le dispositif « Aide aux micro » est réservé aux entreprises")
    assert "réservé aux départements 25, 39" in problems[2]  # both reasons in the line's one message

    before = count_events(case)
    with pytest.raises(ActionRefused) as refused:
        ops.submit_case(world.applicant, case)
    assert all(problem in plain(refused.value.message) for problem in problems)
    db.session.rollback()
    assert case.state == "draft" and case.submitted_at is None and count_events(case) == before


def test_submission_on_the_last_open_day_with_amounts_at_their_limits(world, create_case):
    case = create_case("draft", lines=[(world.region_scheme, "100000")])  # 40 % of 250 000 €
    world.region_scheme.closes_on = paris_today()
    world.region_scheme.ceiling = Decimal("100000")
    world.region_scheme.eligible_sizes = ["small"]
    world.region_scheme.eligible_departements = ["21"]
    world.region_scheme.excluded_naf = ["A", "62.02"]
    db.session.commit()
    assert ops.submission_problems(case, paris_today()) == []
    ops.submit_case(world.applicant, case)
    assert case.state == "submitted"


def test_submission_the_day_after_closing_or_the_day_before_opening(world, create_case):
    case = create_case("draft", lines=[(world.region_scheme, "60000")])
    today = paris_today()
    world.region_scheme.opens_on, world.region_scheme.closes_on = today - timedelta(days=10), today
    assert ops.submission_problems(case, today + timedelta(days=1)) != []
    world.region_scheme.opens_on = today
    assert ops.submission_problems(case, today) == []
    assert ops.submission_problems(case, today - timedelta(days=1)) != []


def test_submission_catches_a_ceiling_lowered_since_the_line_was_added(world, create_case):
    case = create_case("draft", lines=[(world.region_scheme, "60000")])
    world.region_scheme.ceiling = Decimal("59999.99")
    assert [plain(p) for p in ops.submission_problems(case, paris_today())] == [
        "Demande 1 : le montant demandé dépasse le plafond du dispositif « Aide à l'investissement » "
        "(59 999,99 €)."]
    world.region_scheme.ceiling = Decimal("60000")
    assert ops.submission_problems(case, paris_today()) == []


# --------------------------------------------------------------------------- at the proposal

@pytest.fixture
def review_line(world, create_case):
    case = create_case("in_review")
    return case.lines[0]  # Région, 60 000 € asked on 250 000 € of eligible cost, 40 % at most


@pytest.mark.parametrize("change, over, limit, message", [
    ({"ceiling": Decimal("50000")}, "50000.01", "50000", "dépasse le plafond du dispositif"),
    ({"max_rate": Decimal("0.2")}, "50000.01", "50000", "dépasse le taux maximal du dispositif"),
])
def test_proposal_within_ceiling_and_rate(world, review_line, change, over, limit, message):
    for name, value in change.items():
        setattr(world.region_scheme, name, value)
    before = count_events(review_line.case)
    with pytest.raises(ActionRefused) as refused:
        ops.propose_line(world.region_agent, review_line, meeting=world.region_meeting, proposed_amount=over)
    assert refused.value.message.startswith("Le montant proposé " + message)
    assert refused.value.field == "proposed_amount"
    assert review_line.state == "under_review" and review_line.proposed_amount is None
    assert count_events(review_line.case) == before
    assert db.session.scalar(select(func.count(AgendaItem.id))) == 0

    ops.propose_line(world.region_agent, review_line, meeting=world.region_meeting, proposed_amount=limit)
    assert review_line.state == "on_agenda" and review_line.proposed_amount == Decimal(limit)


# --------------------------------------------------------------------------- at the approval

@pytest.fixture
def agenda_line(world, review_line):
    ops.propose_line(world.region_agent, review_line, meeting=world.region_meeting, proposed_amount="60000")
    db.session.commit()
    return review_line


@pytest.mark.parametrize("change, over, limit, message", [
    ({"ceiling": Decimal("59999.99")}, "60000", "59999.99", "dépasse le plafond du dispositif"),
    ({"max_rate": Decimal("0.2")}, "50000.01", "50000", "dépasse le taux maximal du dispositif"),
])
def test_approval_within_ceiling_and_rate(world, agenda_line, change, over, limit, message):
    for name, value in change.items():
        setattr(world.region_scheme, name, value)
    before = count_events(agenda_line.case)
    with pytest.raises(ActionRefused) as refused:
        ops.approve_line(world.region_secretary, agenda_line, granted_amount=over)
    assert refused.value.message.startswith("Le montant accordé " + message)
    assert refused.value.field == "granted_amount"
    assert agenda_line.state == "on_agenda" and agenda_line.granted_amount is None
    assert count_events(agenda_line.case) == before
    assert db.session.scalar(select(func.count(MinimisAid.id)).where(MinimisAid.source == "granted")) == 0

    ops.approve_line(world.region_secretary, agenda_line, granted_amount=limit)
    assert agenda_line.state == "approved" and agenda_line.granted_amount == Decimal(limit)


def test_approval_over_the_ceiling_through_the_form_is_refused_in_french(client, world, agenda_line):
    world.region_scheme.ceiling = Decimal("59999.99")
    db.session.commit()
    before = count_events(agenda_line.case)
    login(client, world.region_secretary)
    response = client.post(f"/dossiers/{agenda_line.case.reference}/demandes/{agenda_line.id}/actions/approve",
                           data={"version": agenda_line.version, "granted_amount": "60 000"})
    assert response.status_code == 303
    assert "dépasse le plafond du dispositif « Aide à l'investissement » (59 999,99 €)" in plain(flashes(client, "error"))
    assert agenda_line.state == "on_agenda" and count_events(agenda_line.case) == before


# --------------------------------------------------------------------------- amounts typed the French way

FRENCH_AMOUNTS = [("12 345,67", Decimal("12345.67")), ("12345.67", Decimal("12345.67")),
                  ("12 345 €", Decimal("12345")), ("12\u202f345,67\u00a0€", Decimal("12345.67"))]


@pytest.mark.parametrize("typed, amount", FRENCH_AMOUNTS)
def test_the_applicant_line_form_understands_french_amounts(client, world, typed, amount):
    case = ops.create_case(world.applicant, world.company, title="Atelier", description="Une machine.",
                           starts_on=paris_today(), eligible_cost="250000")
    db.session.commit()
    login(client, world.applicant)
    response = client.post(f"/dossiers/{case.reference}/demandes",
                           data={"line-scheme": world.region_scheme.id, "line-requested_amount": typed})
    assert response.status_code == 302
    assert db.session.scalar(select(FundingLine.requested_amount).where(FundingLine.case_id == case.id)) == amount


@pytest.mark.parametrize("typed, amount", FRENCH_AMOUNTS)
def test_the_proposal_and_approval_forms_understand_french_amounts(client, world, review_line, typed, amount):
    url = f"/dossiers/{review_line.case.reference}/demandes/{review_line.id}/actions"
    login(client, world.region_agent)
    response = client.post(f"{url}/propose", data={"version": review_line.version, "proposed_amount": typed,
                                                   "meeting_id": world.region_meeting.id})
    assert response.status_code == 303, flashes(client, "error")
    assert review_line.proposed_amount == amount
    login(client, world.region_secretary)
    response = client.post(f"{url}/approve", data={"version": review_line.version, "granted_amount": typed})
    assert response.status_code == 303
    assert review_line.state == "approved" and review_line.granted_amount == amount, flashes(client, "error")


@pytest.mark.parametrize("typed", ["12,345,67", "douze mille", "12 345,678", "12.345,67", "€"])
def test_other_amounts_get_a_clear_message(client, world, review_line, typed):
    login(client, world.region_agent)
    client.post(f"/dossiers/{review_line.case.reference}/demandes/{review_line.id}/actions/propose",
                data={"version": review_line.version, "proposed_amount": typed,
                      "meeting_id": world.region_meeting.id})
    message = flashes(client, "error")
    assert "Montant proposé" in message and ("nombre" in message or "décimales" in message
                                             or "obligatoire" in message), message
    assert review_line.state == "under_review"


# --------------------------------------------------------------------------- the admin's form, the public page

def scheme_form(world, **changes) -> dict:
    data = {"code": "JURA-EXPORT", "name": "Aide à l'export", "agency_id": str(world.region.id),
            "committee_id": str(world.region_committee.id), "instrument": "grant", "regime": "gber",
            "ceiling": "150 000", "max_rate": "40", "annual_budget": "", "opens_on": "2026-01-15",
            "closes_on": "", "description": "Pour exporter.", "eligible_sizes": ["small", "micro"],
            "eligible_departements": "25, 2a 971", "excluded_naf": "a, 62.01z 01"}
    data.update(changes)
    return data


def test_admin_sets_the_rules_and_the_public_page_shows_them(client, world):
    login(client, world.admin)
    response = client.post("/admin/dispositifs/nouveau", data=scheme_form(world))
    assert response.status_code == 302
    created = db.session.scalar(select(Scheme).where(Scheme.code == "JURA-EXPORT"))
    assert created.eligible_sizes == ["micro", "small"]
    assert created.eligible_departements == ["25", "2A", "971"]
    assert created.excluded_naf == ["A", "62.01Z", "01"]

    form = text(client.get(f"/admin/dispositifs/{created.id}/modifier"))
    assert 'value="25, 2A, 971"' in form and 'value="A, 62.01Z, 01"' in form
    assert "Microentreprise" in form and "Entreprise de taille intermédiaire" in form

    page = text(client.get("/dispositifs/JURA-EXPORT"))
    assert "Microentreprise, Petite entreprise" in page
    assert "25, 2A, 971" in page
    assert "section A (Agriculture, sylviculture et pêche)" in page and "codes commençant par 62.01Z" in page

    data = scheme_form(world, eligible_departements="", excluded_naf="")
    del data["eligible_sizes"]  # no box ticked: every size
    assert client.post(f"/admin/dispositifs/{created.id}/modifier", data=data).status_code == 302
    assert (created.eligible_sizes, created.eligible_departements, created.excluded_naf) == ([], [], [])
    page = text(client.get("/dispositifs/JURA-EXPORT"))
    assert "Toutes les tailles" in page and "Tous les départements" in page and "Aucune activité exclue" in page


@pytest.mark.parametrize("field, typed, message", [
    ("eligible_departements", "21, 20", "Département inconnu : 20."),
    ("eligible_departements", "977", "Département inconnu : 977."),
    ("excluded_naf", "V", "Code NAF non reconnu : V."),
    ("excluded_naf", "04.1", "Code NAF non reconnu : 04.1."),
    ("eligible_sizes", ["tiny"], "Choisissez les tailles d'entreprise dans la liste proposée."),
])
def test_admin_wrong_rules_are_refused_beside_their_field(client, world, field, typed, message):
    login(client, world.admin)
    response = client.post("/admin/dispositifs/nouveau", data=scheme_form(world, **{field: typed}))
    assert response.status_code == 422
    assert message in error_beside(text(response), field)
    assert db.session.scalar(select(Scheme).where(Scheme.code == "JURA-EXPORT")) is None
