"""Findings of the code review of issue 2: each fix pinned by a test that failed before it, and the
rules of domain.md that had no test."""
import re
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from atelier.cases import minimis
from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.formatting import paris_today
from tests.conftest import login


@contextmanager
def statements():
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


# --------------------------------------------------------------------------- who sees what

def test_a_line_added_while_incomplete_is_seen_by_its_agency_once_resubmitted(client, world, create_case):
    case = create_case("in_review")  # Région and Bpifrance lines
    ops.request_info(world.region_agent, case, message="Ajoutez le cofinancement de l'AER.")
    ops.add_line(world.applicant, case, scheme=world.aer_scheme, requested_amount="10000")
    ops.resubmit_case(world.applicant, case)
    ops.accept_case(world.region_agent, case)
    db.session.commit()

    login(client, world.aer_agent)
    assert client.get(f"/dossiers/{case.reference}").status_code == 200
    inbox = client.get("/organisme/?section=en-instruction").get_data(as_text=True)
    assert case.reference in inbox


@pytest.mark.parametrize("reference", ["AP-2026-0000%00", "AP-2026-00001%00", "x" * 300,
                                       "AP-2026-１２３４５"])
def test_a_malformed_reference_is_a_404_without_asking_the_database(client, world, reference):
    """PostgreSQL refuses a NUL byte in a parameter: such a URL gave a 500 there (now refused, 400,
    by the input rule before any view)."""
    login(client, world.region_agent)
    status = 400 if "%00" in reference else 404
    with statements() as seen:
        assert client.get(f"/dossiers/{reference}").status_code == status
        assert client.post(f"/dossiers/{reference}/messages", data={"body": "x"}).status_code == status
    assert not [statement for statement in seen if "FROM cases" in statement]


def test_a_scheme_code_that_cannot_be_one_is_a_404_without_asking_the_database(client, world):
    with statements() as seen:
        assert client.get("/dispositifs/REG%00INVEST").status_code == 400  # the input rule (inputs.py)
        assert client.get("/dispositifs/REG%20INVEST").status_code == 404
    assert not [statement for statement in seen if "FROM schemes" in statement]
    assert client.get(f"/dispositifs/{world.region_scheme.code}").status_code == 200


def test_logging_in_with_a_nul_byte_is_a_plain_refusal_without_asking_the_database(client, world):
    with statements() as seen:
        response = client.post("/connexion", data={"email": "camille\x00@exemple.fr", "password": "x" * 12})
    assert response.status_code == 422
    assert "Ce champ contient un caractère nul" in response.get_data(as_text=True)  # beside the address
    assert not [statement for statement in seen if "FROM users" in statement]


# --------------------------------------------------------------------------- numbers too large for the base

HUGE = "99999999999999999999999"


def test_huge_page_numbers_and_filters_are_not_a_500(client, world, create_case):
    create_case("submitted")
    login(client, world.region_agent)
    assert client.get(f"/organisme/?scheme={HUGE}").status_code == 200
    assert client.get("/organisme/?scheme=2147483648").status_code == 200  # just past PostgreSQL's INTEGER
    assert client.get(f"/organisme/?page={HUGE}").status_code == 200
    login(client, world.applicant)
    assert client.get(f"/dossiers/?page={HUGE}").status_code == 200


def test_a_huge_id_in_a_form_is_a_choice_not_made(client, world, create_case):
    case = create_case("submitted")
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/actions/transfer_lead",
                           data={"version": case.version, "agency_id": HUGE, "reason": "Mieux placé."})
    assert response.status_code == 303
    with client.session_transaction() as session:
        assert "Choisissez l'organisme qui pilotera le dossier." in str(session["_flashes"])
    db.session.refresh(case)
    assert case.lead_agency_id == world.region.id


# --------------------------------------------------------------------------- rules of domain.md

def test_a_dossier_sent_back_after_review_began_can_come_back_once_its_scheme_has_closed(
        world, create_case, agent_of):
    case = create_case("in_review")
    world.region_scheme.opens_on = paris_today() - timedelta(days=60)
    world.region_scheme.closes_on = paris_today() - timedelta(days=1)  # the call for projects ended
    ops.request_info(agent_of(case.lead_agency), case, message="Joignez le dernier bilan.")
    assert ops.submission_problems(case, paris_today()) == []
    ops.resubmit_case(world.applicant, case)
    assert case.state == "submitted"


def test_a_new_line_to_a_closed_scheme_still_keeps_a_dossier_from_being_submitted(world, create_case):
    case = create_case("draft")
    world.bpi_scheme.closes_on = paris_today() - timedelta(days=1)
    assert any("n'est pas ouvert" in problem for problem in ops.submission_problems(case, paris_today()))


# --------------------------------------------------------------------------- fixed number of queries

def test_the_dossier_page_reads_the_meetings_to_propose_to_once(client, world, create_case, create_scheme,
                                                                  create_committee, create_meeting):
    def in_review_case(schemes):
        case = create_case("in_review", lines=[(scheme, "1000") for scheme in schemes])
        return case.reference

    one = in_review_case([world.region_scheme])
    committees = [create_committee(world.region) for _ in range(3)]
    for committee in committees:
        create_meeting(committee)
    many = in_review_case([world.region_scheme] + [create_scheme(world.region, committee=committee)
                                                   for committee in committees])
    login(client, world.region_agent)
    counts = []
    for reference in (one, one, many):  # the first request also loads the person
        db.session.expunge_all()
        with statements() as seen:
            page = client.get(f"/dossiers/{reference}").get_data(as_text=True)
        counts.append(len(seen))
    assert page.count("/actions/propose\"") == 4
    assert counts[2] == counts[1]


def _rejected_line(world, case):
    line = next(line for line in case.lines if line.agency_id == world.region.id)
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.reject_line(world.region_secretary, line, reason="Projet insuffisamment financé.")
    return line


def test_a_refused_line_may_be_reopened_while_its_dossier_waits_for_information(client, world, create_case):
    case = create_case("in_review")
    line = _rejected_line(world, case)
    ops.request_info(world.region_agent, case, message="Joignez le plan de financement révisé.")
    db.session.commit()

    login(client, world.region_agent)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert f"/demandes/{line.id}/actions/reopen" in page
    ops.reopen_line(world.region_agent, line, reason="Recours gracieux reçu.")
    assert line.state == "under_review"


def test_a_line_of_a_dismissed_dossier_stays_closed(world, create_case):
    case = create_case("in_review")
    line = _rejected_line(world, case)
    ops.dismiss_case(world.region_agent, case, reason="Entreprise en liquidation.")
    with pytest.raises(ActionRefused, match="classé sans suite : ses demandes ne peuvent plus être"):
        ops.reopen_line(world.region_agent, line, reason="Recours gracieux reçu.")


# --------------------------------------------------------------------------- garbage to every POST route

GARBAGE = ["", HUGE, "0001-01-01", "9999-12-31", "/é\x00\u202e\r\n" * 120]
LAST_EVENTS = ("dismiss", "withdraw")  # they end the dossier: fired last, the others still have a target


def _post_urls(app, world, cases):
    from atelier.cases.actions import CASE_HANDLERS, LINE_HANDLERS

    draft, in_review = cases
    opinion = ops.ask_opinion(world.region_agent, in_review.lines[0], agency=world.aer,
                              due_on=paris_today() + timedelta(days=5))
    aid = ops.declare_minimis_aid(world.applicant, draft, granted_on=paris_today(), granting_body="CCI",
                                  amount="1000", regime="de_minimis")
    db.session.commit()
    events = {*CASE_HANDLERS, *LINE_HANDLERS, "inconnu"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        for case in (cases if "reference" in rule.arguments else cases[:1]):
            for name in (events if "event" in rule.arguments else [None]):
                values = {"reference": case.reference, "line_id": case.lines[0].id, "opinion_id": opinion.id,
                          "aid_id": aid.id, "document_id": 1, "user_id": world.applicant.id,
                          "agency_id": world.aer.id, "scheme_id": world.aer_scheme.id,
                          "company_id": world.company.id, "event": name}
                # any other id (a webhook, a delivery, a token…): 1, which may not exist (a 404 is fine)
                urls.append(app.url_map.bind("atelier.test").build(
                    rule.endpoint, {key: values.get(key, 1) for key in rule.arguments}))
    return sorted(set(urls), key=lambda url: (url.rsplit("/", 1)[-1] in LAST_EVENTS, url))


def _version_seen(url: str) -> int | None:
    """The version a page would show for the target of ``url`` (a stale one is refused early)."""
    from atelier.models import Case, FundingLine

    line = re.search(r"/demandes/([0-9]+)/", url)
    if line:
        return db.session.scalar(db.select(FundingLine.version).where(FundingLine.id == int(line[1])))
    case = re.search(r"/dossiers/(AP-[0-9-]+)", url)
    if case:
        return db.session.scalar(db.select(Case.version).where(Case.reference == case[1]))
    return None


PREFIXES = {"LineForm": "line-", "MinimisForm": "minimis-", "NoMinimisForm": "nominimis-",
            "DocumentForm": "document-"}  # the prefixes the dossier pages give these forms


def _every_field_name() -> set[str]:
    """The names of the fields of every form of the application, as the pages post them."""
    from wtforms.fields.core import UnboundField

    from atelier.forms import FrenchForm

    names, forms = set(), [FrenchForm]
    while forms:
        form = forms.pop()
        forms.extend(form.__subclasses__())
        prefix = PREFIXES.get(form.__name__, "")
        for klass in form.__mro__:
            names.update(prefix + name for name, value in vars(klass).items()
                         if isinstance(value, UnboundField))
    return names


@pytest.mark.parametrize("person", ["applicant", "region_secretary", "admin"])  # a secretary leads too
def test_garbage_posted_to_every_post_route_is_never_a_500(app, client, world, create_case, person):
    urls = _post_urls(app, world, [create_case("draft"), create_case("in_review")])
    fields = _every_field_name() | {"next"}  # where to go back to, posted by some pages
    failures, statuses = [], set()
    for url in urls:
        login(client, getattr(world, person))  # again: one of the routes is the logout
        for value in GARBAGE:
            data = {field: value for field in fields}
            data["version"] = _version_seen(url)
            status = client.post(url, data=data).status_code
            statuses.add(status)
            if status >= 500:
                failures.append((url, value[:12], status))
        status = client.post(url, data={}, content_type="multipart/form-data").status_code
        if status >= 500:
            failures.append((url, "multipart vide", status))
    assert not failures
    assert {303, 422} & statuses  # the forms were read and answered, not only 404s and logins


# --------------------------------------------------------------------------- garbage in every GET query

QUERY_GARBAGE = ["-1", "abc", "0", HUGE, "%00", "é" * 300]
QUERY_NAMES = ("page", "section", "state", "scheme", "agency", "instrument", "role", "comite", "next")


@pytest.mark.parametrize("person", ["applicant", "region_secretary", "admin", None])
def test_garbage_in_the_query_of_every_get_route_is_never_a_500(app, client, world, create_case, person):
    case = create_case("in_review")
    values = {"reference": case.reference, "line_id": case.lines[0].id, "document_id": 1,
              "agency_id": world.aer.id, "scheme_id": world.aer_scheme.id, "company_id": world.company.id,
              "meeting_id": world.region_meeting.id, "code": world.region_scheme.code,
              "filename": "atelier.css"}
    adapter = app.url_map.bind("atelier.test")
    urls = [adapter.build(rule.endpoint, {key: values.get(key, 1) for key in rule.arguments})  # other ids: 1
            for rule in app.url_map.iter_rules() if "GET" in rule.methods]
    if person:
        login(client, getattr(world, person))
    failures = []
    for url in urls:
        for value in QUERY_GARBAGE:
            query = "&".join(f"{name}={value}" for name in QUERY_NAMES)
            status = client.get(f"{url}?{query}").status_code
            if status >= 500:
                failures.append((url, value[:12], status))
    assert not failures


# --------------------------------------------------------------------------- rules that had no test

def _approve(world, case, agency_key, amount, gge=None):
    line = next(line for line in case.lines if line.agency_id == getattr(world, agency_key).id)
    meeting = getattr(world, f"{agency_key}_meeting")
    ops.propose_line(getattr(world, f"{agency_key}_agent"), line, meeting=meeting, proposed_amount=amount)
    return ops.approve_line(getattr(world, f"{agency_key}_secretary"), line, granted_amount=amount,
                            gross_grant_equivalent=gge)


def _declare(world, case, *, days_ago: int, amount: str, regime: str = "de_minimis"):
    """An aid the applicant declared on ``case`` (laid down as data: the date may be any)."""
    from atelier.models import MinimisAid

    granted_on = paris_today() - timedelta(days=days_ago)
    db.session.add(MinimisAid(siren=case.company.siren, granted_on=granted_on, granting_body="Département",
                              amount=Decimal(amount), regime=regime, source="declared", case_id=case.id))
    db.session.flush()


def test_the_de_minimis_ceiling_counts_aid_of_the_rolling_three_years_by_grant_date(world, create_case):
    case = create_case("in_review", lines=[(world.region_scheme, "100000"), (world.bpi_scheme, "40000")])
    three_years = (paris_today() - minimis.three_years_before(paris_today())).days
    _declare(world, case, days_ago=three_years, amount="250000")  # just out of the window
    _declare(world, case, days_ago=three_years - 1, amount="200001")  # just inside it
    assert minimis.minimis_received(world.company.siren, "de_minimis", paris_today(),
                                case_id=case.id) == Decimal("200001")
    with pytest.raises(ActionRefused, match=r"Plafond de minimis \(général\) dépassé") as refused:
        _approve(world, case, "region", "100000")
    assert refused.value.field == "granted_amount"
    assert "Marge disponible : 99 999,00" in refused.value.message.replace("\u202f", " ").replace("\xa0", " ")
    # An agricultural aid has its own ceiling, but counts with the general one under 300 000 €: now
    # 300 000 − 200 001 − 40 000 may still be granted (the cumulation limit, tighter, is the one cited).
    _declare(world, case, days_ago=10, amount="40000", regime="de_minimis_agri")
    line = case.lines[0]
    with pytest.raises(ActionRefused, match="Plafond de cumul des aides de minimis générales") as refused:
        ops.approve_line(world.region_secretary, line, granted_amount="100000")
    assert "Marge disponible : 59 999,00" in refused.value.message.replace("\u202f", " ").replace("\xa0", " ")


def test_a_loan_counts_for_its_gross_grant_equivalent_and_is_recorded(world, create_case):
    case = create_case("in_review")
    _declare(world, case, days_ago=30, amount="290000")
    _approve(world, case, "bpi", "40000", gge="4000")  # 290 000 + 4 000 ≤ 300 000
    assert minimis.minimis_received(world.company.siren, "de_minimis", paris_today(),
                                case_id=case.id) == Decimal("294000")
    with pytest.raises(ActionRefused, match=r"Plafond de minimis \(général\) dépassé"):
        _approve(world, case, "region", "6001")


def test_the_lead_agency_is_that_of_the_first_line_when_amounts_tie(world, create_case):
    case = create_case("submitted", lines=[(world.bpi_scheme, "50000"), (world.region_scheme, "50000")])
    assert case.lead_agency_id == world.bpi.id


def test_an_account_for_an_agency_id_too_large_is_refused_beside_the_field(client, world):
    login(client, world.admin)
    response = client.post("/admin/utilisateurs/nouveau", data={
        "name": "Alix Martin", "email": "alix@exemple.fr", "kind": "agent", "agency": HUGE,
        "password": "un mot de passe long", "confirm": "un mot de passe long"})
    assert response.status_code == 422
    assert "Un agent doit appartenir à un organisme existant." in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/%0d%0aSet-Cookie:%20a=b", "/dossiers%0a", "/%09/evil.example"])
def test_a_next_address_with_control_characters_goes_back_to_the_dossier(client, world, create_case, target):
    case = create_case("submitted")
    login(client, world.region_agent)
    response = client.post(f"/dossiers/{case.reference}/actions/accept?next={target}",
                           data={"version": case.version})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dossiers/{case.reference}"


# --------------------------------------------------------------------------- lead's follow-ups

def test_an_id_too_large_for_the_database_in_a_url_is_a_404(client, world):
    login(client, world.region_secretary)
    for url in ("/comites/seances/99999999999", "/comites/seances/99999999999/ordre-du-jour.xlsx"):
        assert client.get(url).status_code == 404, url
    login(client, world.admin)
    assert client.get("/admin/organismes/99999999999/modifier").status_code == 404


def test_de_minimis_declared_on_another_dossier_does_not_count_twice(world, create_case):
    """The same aid declared on two dossiers of one company counts once: only this dossier's
    declaration, plus the aid granted here, are summed."""
    received_on = paris_today() - timedelta(days=400)
    for case in (create_case("draft"), create_case("draft")):
        ops.declare_minimis_aid(world.applicant, case, granted_on=received_on, amount="120000",
                                granting_body="Conseil départemental", regime="de_minimis")
    assert minimis.minimis_received(world.company.siren, "de_minimis", paris_today(),
                                case_id=case.id) == Decimal("120000.00")


def test_a_consulted_agency_reads_but_does_not_write_to_the_applicant(client, world, create_case):
    case = create_case("in_review")
    ops.ask_opinion(world.bpi_agent, case.lines[1], agency=world.aer, due_on=paris_today() + timedelta(days=7))
    db.session.commit()
    with pytest.raises(ActionRefused, match="lecture seule"):
        ops.post_message(world.aer_agent, case, body="Bonjour")
    db.session.rollback()
    login(client, world.aer_agent)
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert f"/dossiers/{case.reference}/messages" not in page


def test_two_messages_at_once_do_not_make_a_decision_stale(world, create_case):
    """Messages do not bump the dossier's version: a decision taken at the same time is not told
    "modifié entre-temps" because someone wrote."""
    case = create_case("in_review")
    seen = case.version
    ops.post_message(world.region_agent, case, body="Premier")
    ops.post_message(world.applicant, case, body="Second")
    db.session.commit()
    db.session.refresh(case)
    assert case.version == seen and len(case.messages) == 2
    ops.dismiss_case(world.region_agent, case, reason="Hors périmètre", expected_version=seen)
    assert case.state == "dismissed"
