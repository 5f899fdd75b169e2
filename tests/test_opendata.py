"""Open data: the grants an agency awarded in a year, valid against SCDL « Subventions » 2.1.1.

The constraints below are those of the schema published by OpenDataFrance
(https://schema.data.gouv.fr/scdl/subventions/2.1.1/): field names and order, required fields,
patterns, enumerations, lengths, the number range, booleans ``oui``/``non`` and the custom checks
``french-siret-value`` (idAttribuant, idBeneficiaire) and one-of-required (idBeneficiaire or
rnaBeneficiaire). The file itself follows the national format: UTF-8, comma, decimal point.
"""
import csv
import io
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import event
from stdnum.fr import siret as siret_number

from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.exports.opendata import FIELDS, opendata_file, write_opendata
from atelier.extensions import db
from atelier.formatting import paris_today

from conftest import login as _login, make_siret

DOCS = Path(__file__).resolve().parent.parent / "docs" / "exports.md"

SCDL_FIELDS = [
    "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire",
    "idBeneficiaire", "rnaBeneficiaire", "objet", "montant", "nature", "conditionsVersement",
    "datesPeriodeVersement", "idRAE", "notificationUE", "pourcentageSubvention", "dispositifAide",
]
REQUIRED = {"nomAttribuant", "idAttribuant", "dateConvention", "nomBeneficiaire", "objet", "montant",
            "nature", "conditionsVersement", "datesPeriodeVersement", "notificationUE",
            "pourcentageSubvention"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PERIOD = re.compile(r"^[0-9]{4}\-[0-9]{2}\-[0-9]{2}(\/[0-9]{4}\-[0-9]{2}\-[0-9]{2})?$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")  # a number with a dot as decimal separator, nothing else
NATURES = {"aide en numéraire", "aide en nature", "aide en numéraire;aide en nature",
           "aide en nature;aide en numéraire"}
AGENCY_SIRET = make_siret(4242)


def scdl_problems(row: dict[str, str]) -> list[str]:
    """Every way ``row`` breaks SCDL Subventions 2.1.1 (empty list: valid)."""
    problems = [f"{name} obligatoire" for name in REQUIRED if not row[name]]

    def real_date(text: str) -> bool:
        try:
            return bool(ISO_DATE.match(text)) and date.fromisoformat(text) is not None
        except ValueError:
            return False

    for name in ("idAttribuant", "idBeneficiaire"):
        value = row[name]
        if value and not (re.match(r"^\d{14}$", value) and siret_number.is_valid(value)):
            problems.append(f"{name} n'est pas un SIRET valide : {value!r}")
    if row["rnaBeneficiaire"] and not re.match(r"^W\d{9}$", row["rnaBeneficiaire"]):
        problems.append("rnaBeneficiaire hors motif")
    if not (row["idBeneficiaire"] or row["rnaBeneficiaire"]):
        problems.append("idBeneficiaire ou rnaBeneficiaire requis")
    if not real_date(row["dateConvention"]):
        problems.append(f"dateConvention pas une date ISO : {row['dateConvention']!r}")
    if len(row["objet"]) > 256:  # maxLength 256 ("moins de 256 caractères" on schema.data.gouv.fr)
        problems.append("objet trop long")
    if not NUMBER.match(row["montant"]) or Decimal(row["montant"]) < 0:
        problems.append(f"montant pas un nombre à point décimal : {row['montant']!r}")
    if row["nature"] not in NATURES:
        problems.append(f"nature hors liste : {row['nature']!r}")
    if len(row["conditionsVersement"]) > 256:
        problems.append("conditionsVersement trop long")
    period = row["datesPeriodeVersement"]
    if not PERIOD.match(period) or not all(real_date(part) for part in period.split("/")):
        problems.append(f"datesPeriodeVersement hors motif : {period!r}")
    elif "/" in period and period.split("/")[0] > period.split("/")[1]:
        problems.append(f"datesPeriodeVersement à l'envers : {period!r}")
    if len(row["idRAE"]) > 5:  # maxLength 5: the schema's own example is "12345"
        problems.append("idRAE trop long")
    if row["notificationUE"] not in ("oui", "non"):
        problems.append(f"notificationUE ni oui ni non : {row['notificationUE']!r}")
    share = row["pourcentageSubvention"]
    if not NUMBER.match(share) or not Decimal("0.01") <= Decimal(share) <= Decimal("1"):
        problems.append(f"pourcentageSubvention hors [0.01, 1] : {share!r}")
    return problems


def read_scdl(data: bytes) -> list[dict[str, str]]:
    """Parse the file as the national format says (UTF-8, comma) and check its structure."""
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "CRLF line ends"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=","))
    assert rows[0] == SCDL_FIELDS
    assert all(len(row) == len(SCDL_FIELDS) for row in rows)
    return [dict(zip(SCDL_FIELDS, row)) for row in rows[1:]]


def export(agency, year=None) -> list[dict[str, str]]:
    with opendata_file(agency, year or paris_today().year) as handle:
        return read_scdl(handle.read())


def login(client, user) -> None:
    _login(client, user)
    g.pop("_login_user", None)


@contextmanager
def count_queries():
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def region(world):
    world.region.siret = AGENCY_SIRET
    db.session.commit()
    return world.region


@pytest.fixture
def decided(world, create_case):
    """A case whose Region line (a de minimis grant) is brought to ``state`` through the operations."""

    def factory(state="approved", *, granted="45000", payments=(), company=None, lines=None):
        case = create_case("in_review", company=company, lines=lines)
        line = case.lines[0]
        ops.propose_line(world.region_agent, line, meeting=world.region_meeting,
                         proposed_amount=min(Decimal(granted), line.requested_amount))
        if state == "rejected":
            ops.reject_line(world.region_secretary, line, reason="Hors critères.")
        else:
            ops.approve_line(world.region_secretary, line, granted_amount=granted)
        if state in ("agreement_signed", "settled"):
            ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
            for amount in payments:
                ops.record_payment(world.region_agent, line, amount=amount, paid_on=paris_today())
        if state == "settled":
            ops.settle_line(world.region_agent, line)
        db.session.commit()
        return case

    return factory


# --------------------------------------------------------------------------- the schema

VALID_ROW = {
    "nomAttribuant": "Région Bretagne", "idAttribuant": "23350001600040", "dateConvention": "2017-06-27",
    "referenceDecision": "2017-03-103", "nomBeneficiaire": "Association", "idBeneficiaire": "38047555800058",
    "rnaBeneficiaire": "", "objet": "x" * 256, "montant": "47800.20", "nature": "aide en numéraire",
    "conditionsVersement": "échelonné", "datesPeriodeVersement": "2017-03-14/2018-03-14", "idRAE": "12345",
    "notificationUE": "non", "pourcentageSubvention": "0.45", "dispositifAide": "",
}


@pytest.mark.parametrize("field, value", [
    ("nomAttribuant", ""), ("idAttribuant", "2335000160004"), ("idAttribuant", "23350001600041"),
    ("dateConvention", "27/06/2017"), ("dateConvention", "2017-02-30"), ("nomBeneficiaire", ""),
    ("idBeneficiaire", "38047555800059"), ("rnaBeneficiaire", "W12"), ("objet", "x" * 257),
    ("montant", "47800,20"), ("montant", "1e3"), ("nature", "aide en numéraire,aide en nature"),
    ("conditionsVersement", ""), ("datesPeriodeVersement", "2017-03-14_2018-03-14"),
    ("datesPeriodeVersement", "2018-03-14/2017-03-14"), ("idRAE", "123456"), ("notificationUE", "false"),
    ("pourcentageSubvention", "0.001"), ("pourcentageSubvention", "1.5"), ("pourcentageSubvention", "45%"),
])
def test_the_validator_catches_every_broken_constraint(field, value):
    assert scdl_problems(VALID_ROW) == []  # the example of the schema's documentation is valid
    assert scdl_problems({**VALID_ROW, field: value}), (field, value)
    assert scdl_problems({**VALID_ROW, "idBeneficiaire": "", "rnaBeneficiaire": ""})
    assert scdl_problems({**VALID_ROW, "idBeneficiaire": "", "rnaBeneficiaire": "W380475558"}) == []


def test_fields_are_those_of_scdl_2_1_1_and_of_the_docs(world):
    assert FIELDS == SCDL_FIELDS
    text = DOCS.read_text(encoding="utf-8")
    body = text.split("## Données ouvertes", 1)[1]
    documented = [cells[1].strip("` ") for cells in
                  ([c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines()
                   if line.startswith("|")) if cells[0].isdigit()]
    assert documented == SCDL_FIELDS


def test_every_awarded_grant_is_a_valid_scdl_row(world, region, decided, create_company):
    approved = decided("approved")
    signed = decided("agreement_signed", payments=["10000", "5000"])
    settled_once = decided("settled", payments=["45000"])
    settled_twice = decided("settled", payments=["20000", "20000"])
    settled_unpaid = decided("settled")
    rows = export(region)
    assert len(rows) == 5
    for row in rows:
        assert scdl_problems(row) == [], row
        assert row["nomAttribuant"] == "Région Bourgogne-Franche-Comté"
        assert row["idAttribuant"] == AGENCY_SIRET
        assert row["nomBeneficiaire"] == world.company.name
        assert row["idBeneficiaire"] == world.company.siret
        assert row["rnaBeneficiaire"] == "" and row["idRAE"] == ""
        assert row["objet"] == "Nouvelle ligne de production"
        assert row["montant"] == "45000.00"
        assert row["nature"] == "aide en numéraire"
        assert row["notificationUE"] == "oui"  # the Region scheme is de minimis
        assert row["pourcentageSubvention"] == "1.00"
        assert row["dispositifAide"] == world.region_scheme.code
        assert row["dateConvention"] == paris_today().isoformat()
    by_reference = {row["referenceDecision"]: row for row in rows}
    today = paris_today().isoformat()

    def row_of(case):
        return by_reference[f"{case.reference}-{case.lines[0].id}"]

    assert row_of(settled_once)["conditionsVersement"] == "unique"
    assert row_of(settled_once)["datesPeriodeVersement"] == today
    assert row_of(settled_twice)["conditionsVersement"] == "échelonné"
    assert row_of(settled_twice)["datesPeriodeVersement"] == f"{today}/{today}"
    assert row_of(settled_unpaid)["datesPeriodeVersement"] == f"{today}/{today}"
    next_year_end = date(paris_today().year + 1, 12, 31).isoformat()
    for case in (approved, signed):
        assert row_of(case)["conditionsVersement"] == "échelonné"
        assert row_of(case)["datesPeriodeVersement"] == f"{today}/{next_year_end}"


def test_period_runs_to_the_end_of_the_project_while_payments_go_on(world, region, decided):
    case = decided("agreement_signed", payments=["1000"])
    case.ends_on = paris_today() + timedelta(days=400)
    db.session.commit()
    (row,) = export(region)
    assert row["datesPeriodeVersement"] == f"{paris_today().isoformat()}/{case.ends_on.isoformat()}"
    assert scdl_problems(row) == []


def test_only_grants_of_the_agency_decided_that_year(world, region, decided, create_case, create_scheme):
    kept = decided("approved")
    decided("rejected")
    create_case("in_review")  # under review: not awarded
    loan = create_scheme(world.region, committee=world.region_committee, instrument="zero_rate_loan",
                         regime="gber", name="Prêt régional")
    decided("approved", lines=[(loan, "60000")])  # a loan, not a grant
    gber = create_scheme(world.region, committee=world.region_committee, regime="gber", name="RGEC")
    gber_case = decided("approved", lines=[(gber, "60000")])
    last_year = decided("approved")
    last_year.lines[0].decided_at = datetime(paris_today().year - 1, 12, 31, 22, 30, tzinfo=timezone.utc)
    db.session.commit()  # 23:30 on 31 December in Paris: last year's decision

    rows = export(region)
    assert sorted(row["referenceDecision"] for row in rows) == sorted(
        f"{case.reference}-{case.lines[0].id}" for case in (kept, gber_case))
    gber_row = next(row for row in rows if row["dispositifAide"] == gber.code)
    assert gber_row["notificationUE"] == "non"
    (previous,) = export(region, paris_today().year - 1)
    assert previous["referenceDecision"] == f"{last_year.reference}-{last_year.lines[0].id}"
    assert previous["dateConvention"] == f"{paris_today().year - 1}-12-31"
    assert scdl_problems(previous) == []
    world.bpi.siret = make_siret(777)
    db.session.commit()
    assert export(world.bpi) == []  # the Bpifrance lines are loans, and not decided


def test_typed_text_is_inert_and_the_objet_fits(world, region, decided, create_company):
    company = create_company(members=[world.applicant], name='=HYPERLINK("http://x","y")\x07')
    case = decided("approved", company=company)
    case.title = ("@SUM(1)  très\tlong projet " * 20)[:200]  # the longest title a dossier may have
    db.session.commit()
    (row,) = export(region)
    assert scdl_problems(row) == []
    assert row["nomBeneficiaire"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert row["objet"] == "'" + " ".join(case.title.split())  # spaces normalised, nothing cut


def test_an_objet_longer_than_the_schema_allows_is_cut():
    from atelier.exports.opendata import _objet

    objet = _objet("=" + "x" * 400)
    assert len(objet) == 255 and objet.startswith("'=x") and objet.endswith("…")
    assert _objet("Projet\n\ncourt ") == "Projet court"


# --------------------------------------------------------------------------- refusals

def test_an_agency_without_a_valid_siret_is_refused_in_french(world, decided):
    decided("approved")
    with pytest.raises(ActionRefused) as refused:
        export(world.region)
    assert "n'a pas de numéro SIRET" in refused.value.message
    assert "Région Bourgogne-Franche-Comté" in refused.value.message
    world.region.siret = "12345678901234"
    db.session.commit()
    with pytest.raises(ActionRefused) as refused:
        export(world.region)
    assert "n'est pas valide" in refused.value.message


# --------------------------------------------------------------------------- downloads

def test_an_agent_downloads_the_grants_of_their_agency(client, world, region, decided):
    case = decided("approved")
    login(client, world.region_agent)
    year = paris_today().year
    response = client.get("/organisme/exports/donnees-ouvertes", query_string={"year": year,
                                                                              "agency": world.bpi.slug})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset said once
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"subventions-region-{year}.csv" in response.headers["Content-Disposition"]
    (row,) = read_scdl(response.data)
    assert row["referenceDecision"] == f"{case.reference}-{case.lines[0].id}"


def test_refusals_come_back_as_french_alerts(client, world, decided):
    decided("approved")
    login(client, world.bpi_agent)  # Bpifrance has no SIRET
    response = client.get("/organisme/exports/donnees-ouvertes", query_string={"year": paris_today().year},
                          follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'role="alert"' in html
    assert "Bpifrance Bourgogne-Franche-Comté" in html and "pas de numéro SIRET" in html
    for year in ("", "deux-mille", "99", "3000"):
        response = client.get("/organisme/exports/donnees-ouvertes", query_string={"year": year},
                              follow_redirects=True)
        assert "Indiquez une année sur quatre chiffres" in response.get_data(as_text=True), year


def test_only_agents_may_download(client, world, region):
    url = f"/organisme/exports/donnees-ouvertes?year={paris_today().year}"
    assert client.get(url).status_code == 302
    for user in (world.applicant, world.admin):
        login(client, user)
        assert client.get(url).status_code == 404


# --------------------------------------------------------------------------- fixed number of queries

def _statements(agency) -> tuple[int, int]:
    db.session.expire_all()
    handle = io.BytesIO()
    with count_queries() as statements:
        write_opendata(agency, paris_today().year, handle)
    assert sum("funding_lines" in statement for statement in statements) == 1
    return len(statements), len(read_scdl(handle.getvalue()))


def test_same_number_of_queries_for_10_and_100_grants(world, region, decided):
    single_line = [(world.region_scheme, "60000")]
    for _ in range(10):
        decided("approved", granted="1000", lines=single_line)
    small = _statements(region)
    for number in range(90):
        decided("settled" if number % 2 else "agreement_signed", granted="1000", payments=["500"],
                lines=single_line)
    large = _statements(region)
    assert small[1] == 10 and large[1] == 100
    assert small[0] == large[0] <= 2
