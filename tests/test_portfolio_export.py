"""The portfolio export of an agency: the documented columns, real types, CSV for French Excel,
lines held or handed over, filters, inert text, who may download it, a fixed number of queries."""
import csv
import io
import re
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import event

from atelier.cases import operations as ops
from atelier.exports.cells import DATE_FORMAT, MONEY_FORMAT
from atelier.exports.portfolio import (HEADERS, XLSX_MIMETYPE, PortfolioFilters, parse_filters,
                                       portfolio_file, write_portfolio)
from atelier.extensions import db
from atelier.formatting import paris_today

from conftest import login as _login

DOCS = Path(__file__).resolve().parent.parent / "docs" / "exports.md"
INJECTIONS = {
    "company": '=HYPERLINK("http://x","y")',
    "title": "+33 6 12 34 56 78 — rappeler",
    "agent": "@SUM(1)",
    "commune": "\tDijon",
    "naf": "-6201Z",  # the column holds 6 characters
}
COL = {header: index for index, header in enumerate(HEADERS)}


def login(client, user) -> None:
    _login(client, user)
    g.pop("_login_user", None)


def documented_columns(section_title: str) -> list[str]:
    """The second cell of each numbered row of the first table under the ``## section_title`` heading."""
    text = DOCS.read_text(encoding="utf-8")
    section = re.split(r"^## ", text, flags=re.M)
    body = next(part for part in section if part.startswith(section_title))
    columns = []
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            assert int(cells[0]) == len(columns) + 1, f"numbering of docs/exports.md at {cells}"
            columns.append(cells[1].strip("`"))
    assert columns, f"no table under « {section_title} » in docs/exports.md"
    return columns


def read_xlsx(data: bytes):
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Portefeuille"]
    return book["Portefeuille"]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode("utf-8")), "UTF-8 BOM first"
    text = data.decode("utf-8")[1:]
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def export_bytes(agency, fmt: str, filters: PortfolioFilters = PortfolioFilters()) -> bytes:
    with portfolio_file(agency, filters, fmt) as handle:
        return handle.read()


def xlsx_rows(agency, **filters) -> list[list]:
    sheet = read_xlsx(export_bytes(agency, "xlsx", parse_filters(**filters)))
    return [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]


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
def granted(world, create_case):
    """An in-review case whose Region line is approved (45 000 €), signed and paid 10 000 €."""

    def factory(**kwargs):
        case = create_case("in_review", **kwargs)
        line = case.lines[0]
        ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
        ops.approve_line(world.region_secretary, line, granted_amount="45000")
        ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
        ops.record_payment(world.region_agent, line, amount="10000", paid_on=paris_today())
        db.session.commit()
        return case

    return factory


@pytest.fixture
def tricky(world, create_company, create_user, granted):
    """A granted case whose every person-typed text tries to become a formula."""
    company = create_company(members=[world.applicant], name=INJECTIONS["company"] + "\x07",
                             naf_code=INJECTIONS["naf"])
    company.commune = INJECTIONS["commune"]
    agent = create_user("agent", agency=world.region, name=INJECTIONS["agent"])
    case = granted(company=company)
    case.title = INJECTIONS["title"]
    case.lines[0].assigned_agent_id = agent.id  # no operation assigns agents yet: fixture data
    db.session.commit()
    return case


# --------------------------------------------------------------------------- the contract

def test_documented_columns_are_the_columns_written(world, create_case):
    documented = documented_columns("Portefeuille")
    assert HEADERS == documented
    create_case("in_review")
    sheet = read_xlsx(export_bytes(world.region, "xlsx"))
    assert [cell.value for cell in sheet[1]] == documented
    assert all(cell.font.b for cell in sheet[1])
    assert read_csv(export_bytes(world.region, "csv"))[0] == documented


def test_workbook_has_real_numbers_dates_and_layout(world, granted):
    case = granted()
    line = case.lines[0]
    sheet = read_xlsx(export_bytes(world.region, "xlsx"))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(HEADERS)).column_letter}2"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1"
    row = {header: cell for header, cell in zip(HEADERS, sheet[2])}
    assert row["Référence du dossier"].value == case.reference
    assert row["N° de demande"].value == line.id and row["N° de demande"].data_type == "n"
    assert row["SIRET"].value == world.company.siret and row["SIRET"].data_type == "s"
    assert row["Instrument"].value == "Subvention"
    assert row["État"].value == "Convention signée"
    assert row["Transférée à un partenaire"].value == "non"
    assert row["Organisme instructeur"].value == "Région"
    assert row["Comité"].value == world.region_committee.name
    amounts = {"Coût éligible": 250000, "Montant demandé": 60000, "Montant proposé": 50000,
               "Montant accordé": 45000, "Montant versé": 10000, "Reste à verser": 35000}
    for header, expected in amounts.items():
        assert row[header].value == expected and row[header].data_type == "n", header
        assert row[header].number_format == MONEY_FORMAT
    assert row["Reliquat libéré"].value is None
    for header in ("Déposé le", "Décidé le", "Convention signée le"):
        assert isinstance(row[header].value, datetime), header
        assert row[header].value.date() == paris_today()
        assert row[header].number_format == DATE_FORMAT


def test_csv_for_french_excel(world, granted):
    case = granted()
    data = export_bytes(world.region, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    body = data[3:]
    assert body.count(b"\r\n") == 2 and b"\n" not in body.replace(b"\r\n", b"")  # header + 1 line
    rows = read_csv(data)
    assert len(rows) == 2 and all(len(row) == len(HEADERS) for row in rows)
    region = rows[1]
    assert region[COL["Référence du dossier"]] == case.reference
    assert region[COL["Montant accordé"]] == "45000,00"
    assert region[COL["Montant versé"]] == "10000,00"
    assert region[COL["Reste à verser"]] == "35000,00"
    assert region[COL["Montant proposé"]] == "50000,00"
    assert region[COL["Déposé le"]] == paris_today().isoformat()
    assert region[COL["Convention signée le"]] == paris_today().isoformat()
    assert region[COL["Reliquat libéré"]] == ""
    assert region[COL["SIRET"]] == world.company.siret


# --------------------------------------------------------------------------- which lines

def test_lines_held_and_handed_over_are_in_the_portfolio(world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    ops.transfer_line(world.region_agent, region_line, agency=world.aer, reason="Relève de l'AER.")
    db.session.commit()
    draft = create_case("draft")  # no agency sees a draft: never exported

    region_rows = xlsx_rows(world.region)
    assert [row[COL["N° de demande"]] for row in region_rows] == [region_line.id]
    assert region_rows[0][COL["Transférée à un partenaire"]] == "oui"
    assert region_rows[0][COL["Organisme instructeur"]] == "AER BFC"

    aer_rows = xlsx_rows(world.aer)
    assert [row[COL["N° de demande"]] for row in aer_rows] == [region_line.id]
    assert aer_rows[0][COL["Transférée à un partenaire"]] == "non"

    bpi_rows = xlsx_rows(world.bpi)
    assert [row[COL["N° de demande"]] for row in bpi_rows] == [bpi_line.id]
    everything = [row[COL["Référence du dossier"]] for agency in (world.region, world.bpi, world.aer)
                  for row in xlsx_rows(agency)]
    assert draft.reference not in everything


def test_a_line_handed_over_twice_stays_with_every_former_holder(world, create_case):
    case = create_case("in_review")
    line = case.lines[0]
    ops.transfer_line(world.region_agent, line, agency=world.aer, reason="Relève de l'AER.")
    ops.transfer_line(world.aer_agent, line, agency=world.bpi, reason="Plutôt un prêt.")
    db.session.commit()
    for agency, handed_over in ((world.region, "oui"), (world.aer, "oui"), (world.bpi, "non")):
        rows = [row for row in xlsx_rows(agency) if row[COL["N° de demande"]] == line.id]
        assert len(rows) == 1, agency.slug
        assert rows[0][COL["Transférée à un partenaire"]] == handed_over


def test_filters(world, create_case, create_scheme, create_committee, granted):
    approved_case = granted()
    review_case = create_case("in_review")
    other_committee = create_committee(world.region, name="Comité export")
    export_scheme = create_scheme(world.region, committee=other_committee, name="Export")
    export_case = create_case("in_review", lines=[(export_scheme, "20000")])
    ids = lambda rows: sorted(row[COL["Référence du dossier"]] for row in rows)  # noqa: E731

    assert ids(xlsx_rows(world.region)) == sorted([approved_case.reference, review_case.reference,
                                                   export_case.reference])
    assert ids(xlsx_rows(world.region, state="agreement_signed")) == [approved_case.reference]
    assert ids(xlsx_rows(world.region, state="under_review")) == sorted([review_case.reference,
                                                                         export_case.reference])
    assert ids(xlsx_rows(world.region, scheme=export_scheme.code)) == [export_case.reference]
    assert ids(xlsx_rows(world.region, committee=other_committee.slug)) == [export_case.reference]
    assert ids(xlsx_rows(world.region, committee=world.region_committee.slug)) == sorted(
        [approved_case.reference, review_case.reference])

    # Period: the date the dossier was submitted (Paris), bounds included.
    paris_noon = lambda day: datetime(day.year, day.month, day.day, 11, 0, tzinfo=timezone.utc)  # noqa: E731
    review_case.submitted_at = paris_noon(date(2024, 3, 31))
    export_case.submitted_at = datetime(2024, 3, 31, 22, 30, tzinfo=timezone.utc)  # 1 April in Paris
    db.session.commit()
    assert ids(xlsx_rows(world.region, submitted_from="2024-03-01", submitted_to="2024-03-31")) == [
        review_case.reference]
    assert ids(xlsx_rows(world.region, submitted_from="31/03/2024", submitted_to="01/04/2024")) == sorted(
        [review_case.reference, export_case.reference])
    assert ids(xlsx_rows(world.region, submitted_from="2024-04-01")) == sorted(
        [approved_case.reference, export_case.reference])
    assert ids(xlsx_rows(world.region, submitted_to="2024-03-30")) == []


@pytest.mark.parametrize("filters, field, message", [
    ({"state": "approuvée"}, "state", "État inconnu"),
    ({"scheme": "NOPE"}, "scheme", "Dispositif inconnu"),
    ({"committee": "nope"}, "committee", "Comité inconnu"),
    ({"submitted_from": "31/02/2024"}, "from", "n'est pas une date valide"),
    ({"submitted_from": "2024-05-01", "submitted_to": "2024-04-01"}, "from", "doit précéder"),
])
def test_wrong_filters_are_refused_in_french(world, filters, field, message):
    from atelier.common import ActionRefused

    with pytest.raises(ActionRefused) as refused:
        parse_filters(**filters)
    assert refused.value.field == field and message in refused.value.message


# --------------------------------------------------------------------------- inert text

def test_typed_text_comes_back_as_exact_text_in_the_workbook(world, tricky):
    sheet = read_xlsx(export_bytes(world.region, "xlsx"))
    row = {header: cell for header, cell in zip(HEADERS, sheet[2])}
    expected = {"Entreprise": INJECTIONS["company"], "Projet": INJECTIONS["title"],
                "Agent chargé": INJECTIONS["agent"], "Commune": INJECTIONS["commune"],
                "Code NAF": INJECTIONS["naf"]}
    for header, text in expected.items():
        cell = row[header]
        assert cell.value == text, header  # the bell character (\x07) is gone, nothing else
        assert cell.data_type == "s", header
        assert cell.quotePrefix, header
    assert not row["Référence du dossier"].quotePrefix


@pytest.mark.parametrize("title", ["#N/A", "#REF!", "=1+1", "-", "@", "TRUE", "12", "2024-01-01"])
def test_texts_that_look_like_values_stay_text(world, granted, title):
    case = granted()
    case.title = title
    db.session.commit()
    cell = read_xlsx(export_bytes(world.region, "xlsx"))[2][COL["Projet"]]
    assert cell.value == title and cell.data_type == "s"


def test_typed_text_is_quoted_in_the_csv(world, tricky):
    rows = read_csv(export_bytes(world.region, "csv"))
    row = next(r for r in rows[1:] if r[COL["Dispositif"]] == world.region_scheme.name)
    assert row[COL["Entreprise"]] == "'" + INJECTIONS["company"]
    assert row[COL["Projet"]] == "'" + INJECTIONS["title"]
    assert row[COL["Agent chargé"]] == "'" + INJECTIONS["agent"]
    assert row[COL["Commune"]] == "'" + INJECTIONS["commune"]
    assert row[COL["Code NAF"]] == "'" + INJECTIONS["naf"]
    assert all("\x07" not in value for value in row)
    assert row[COL["Référence du dossier"]] == tricky.reference


# --------------------------------------------------------------------------- downloads

def test_an_agent_downloads_the_portfolio_of_their_agency_only(client, world, create_case):
    case = create_case("in_review")
    region_line, bpi_line = case.lines
    login(client, world.region_agent)
    response = client.get("/organisme/exports/portefeuille", query_string={"format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX_MIMETYPE
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"portefeuille-region-{paris_today().isoformat()}.xlsx" in disposition
    sheet = read_xlsx(response.data)
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [region_line.id]

    # No URL names an agency: asking for another one changes nothing.
    for params in ({"agency": world.bpi.slug}, {"agency_id": world.bpi.id}, {"agence": "bpifrance"}):
        response = client.get("/organisme/exports/portefeuille", query_string={"format": "csv", **params})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset said once
        assert response.headers["Cache-Control"] == "private, no-store"
        rows = read_csv(response.data)
        assert [row[COL["N° de demande"]] for row in rows[1:]] == [str(region_line.id)]
    assert client.get(f"/organisme/{world.bpi.slug}/exports/portefeuille").status_code == 404


def test_only_agents_may_download(client, world, create_case):
    create_case("in_review")
    url = "/organisme/exports/portefeuille"
    assert client.get(url).status_code == 302  # to the login page
    for user in (world.applicant, world.admin):
        login(client, user)
        assert client.get(url).status_code == 404


def test_wrong_filters_come_back_as_a_french_alert(client, world):
    login(client, world.region_agent)
    response = client.get("/organisme/exports/portefeuille",
                          query_string={"state": "nimporte", "format": "xlsx"}, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "État inconnu" in html
    response = client.get("/organisme/exports/portefeuille", query_string={"format": "pdf"},
                          follow_redirects=True)
    assert "Choisissez le format du fichier" in response.get_data(as_text=True)
    response = client.get("/organisme/exports/portefeuille", query_string={"from": "hier"},
                          follow_redirects=True)
    assert "n&#39;est pas une date valide" in response.get_data(as_text=True)


def test_the_inbox_offers_the_exports(client, world):
    login(client, world.region_agent)
    html = client.get("/organisme/").get_data(as_text=True)
    assert "Exporter le portefeuille" in html
    assert 'action="/organisme/exports/portefeuille"' in html
    for field_id in ("export-etat", "export-dispositif", "export-comite", "export-du", "export-au",
                     "export-format-xlsx", "export-format-csv"):
        assert f'for="{field_id}"' in html and f'id="{field_id}"' in html, field_id
    assert f"/organisme/exports/donnees-ouvertes?year={paris_today().year}" in html
    assert f"Données ouvertes (SCDL) {paris_today().year}" in html


# --------------------------------------------------------------------------- fixed number of queries

def _fill(world, create_case, count: int) -> None:
    """``count`` Region lines in various states (each case also has a Bpifrance line)."""
    for number in range(count):
        case = create_case("in_review")
        line = case.lines[0]
        if number % 3 == 1:
            ops.transfer_line(world.region_agent, line, agency=world.aer, reason="Relève de l'AER.")
        elif number % 3 == 2:
            ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="1000")
            ops.approve_line(world.region_secretary, line, granted_amount="1000")
            ops.sign_agreement(world.region_agent, line, signed_on=paris_today())
            ops.record_payment(world.region_agent, line, amount="500", paid_on=paris_today())
    db.session.commit()


def _statements(agency, fmt: str) -> tuple[int, int]:
    db.session.expire_all()
    with count_queries() as statements:
        handle = io.BytesIO()
        write_portfolio(agency, PortfolioFilters(), fmt, handle)
    handle.seek(0)
    data = handle.getvalue()
    rows = len(read_xlsx(data)["A"]) - 1 if fmt == "xlsx" else len(read_csv(data)) - 1
    assert sum("funding_lines" in statement for statement in statements) == 1  # the lines: one SELECT
    return len(statements), rows


def test_same_number_of_queries_for_10_and_100_lines(world, create_case):
    _fill(world, create_case, 10)
    small = {fmt: _statements(world.region, fmt) for fmt in ("xlsx", "csv")}
    _fill(world, create_case, 90)
    large = {fmt: _statements(world.region, fmt) for fmt in ("xlsx", "csv")}
    for fmt in ("xlsx", "csv"):
        assert small[fmt][1] == 10 and large[fmt][1] == 100, fmt
        # the lines in one statement (plus reloading the agency, expired like in a fresh request)
        assert small[fmt][0] == large[fmt][0] <= 2, (fmt, small, large)
