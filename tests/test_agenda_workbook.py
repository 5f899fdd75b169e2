"""The agenda workbook of a meeting: content, real numbers, inert text, layout, name, who may download."""
from contextlib import contextmanager
from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event

from atelier.cases import operations as ops
from atelier.exports.cells import MONEY_FORMAT, clean_text, text_cell
from atelier.extensions import db
from atelier.formatting import paris_today

from conftest import login

HEADER = ["Référence", "Entreprise", "SIRET", "Commune", "Département", "Projet", "Dispositif", "Instrument",
          "Coût éligible", "Montant demandé", "Montant proposé", "Décision", "Montant accordé"]


@pytest.fixture
def put_on_agenda(world):
    """A case in review whose Region line (60 000 €) is proposed at 50 000 € to the Region meeting."""

    def factory(title="Nouvelle ligne de production", *, company=None, applicant=None):
        applicant = applicant or world.applicant
        case = ops.create_case(applicant, company or world.company, title=title,
                               description="Achat d'une machine.", starts_on=paris_today(),
                               eligible_cost="250000")
        ops.add_line(applicant, case, scheme=world.region_scheme, requested_amount="60000")
        ops.declare_no_minimis(applicant, case)
        ops.submit_case(applicant, case)
        ops.accept_case(world.region_agent, case)
        ops.propose_line(world.region_agent, case.lines[0], meeting=world.region_meeting,
                         proposed_amount="50000")
        db.session.commit()
        return case

    return factory


def workbook_url(meeting) -> str:
    return f"/comites/seances/{meeting.id}/ordre-du-jour.xlsx"


def download(client, meeting):
    response = client.get(workbook_url(meeting))
    assert response.status_code == 200, response.status_code
    return response, load_workbook(BytesIO(response.data))


def test_one_sheet_with_a_bold_header_and_one_row_per_item(client, world, put_on_agenda):
    first = put_on_agenda()
    second = put_on_agenda("Robotisation de l'atelier")
    ops.approve_line(world.region_secretary, second.lines[0], granted_amount="45000")
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    assert book.sheetnames == ["Ordre du jour"]
    sheet = book["Ordre du jour"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert all(cell.font.bold for cell in sheet[1])
    company = world.company
    assert list(rows[1]) == [first.reference, company.name, company.siret, "Dijon", "21",
                             "Nouvelle ligne de production", "Aide à l'investissement", "Subvention",
                             250000, 60000, 50000, "À examiner", None]
    assert list(rows[2])[5] == "Robotisation de l'atelier"
    assert list(rows[2])[11:] == ["Accordé", 45000]
    assert len(rows) == 3


def test_amounts_are_real_numbers_in_euros_and_identifiers_are_text(client, world, put_on_agenda):
    put_on_agenda()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    row = book["Ordre du jour"][2]
    for cell in row[8:11]:
        assert cell.data_type == "n" and isinstance(cell.value, (int, float))
        assert cell.number_format == MONEY_FORMAT
    assert row[8].value == 250000 and row[10].value == 50000
    assert row[2].data_type == "s" and row[2].value == world.company.siret  # SIRET keeps its zeros
    assert row[4].data_type == "s" and row[4].value == "21"


def test_layout_frozen_header_filter_widths_landscape(client, world, put_on_agenda):
    put_on_agenda()
    put_on_agenda()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    sheet = book["Ordre du jour"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M3"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1"  # the header is printed on every page
    assert sheet.column_dimensions["F"].width == 40
    assert all(sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJKLM")


@pytest.mark.parametrize("title", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "=1+1", "-2+3"])
def test_text_starting_like_a_formula_stays_text(client, world, put_on_agenda, title):
    put_on_agenda(title)
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    cell = book["Ordre du jour"]["F2"]
    assert cell.data_type == "s"
    assert cell.value == title
    assert cell.quotePrefix  # editing it in the spreadsheet keeps it text


def test_company_names_are_inert_too(client, world, create_company, create_user, put_on_agenda):
    applicant = create_user("applicant")
    company = create_company(members=[applicant], name="@Entreprise =cmd|' /C calc'!A0")
    put_on_agenda(company=company, applicant=applicant)
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    cell = book["Ordre du jour"]["B2"]
    assert cell.data_type == "s" and cell.value == "@Entreprise =cmd|' /C calc'!A0"


def test_control_characters_are_removed(client, world, put_on_agenda):
    put_on_agenda("Projet\x07 sonore\x1b et\x08 muet")
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    assert book["Ordre du jour"]["F2"].value == "Projet sonore et muet"


@pytest.mark.parametrize("value", ["\tTAB", "\rCR", "\nLF", "=A1", "+1", "-1", "@A1"])
def test_text_cell_writes_any_risky_prefix_as_a_string(value):
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Feuille")
    sheet.append([text_cell(sheet, value)])
    stream = BytesIO()
    book.save(stream)
    cell = load_workbook(BytesIO(stream.getvalue()))["Feuille"]["A1"]
    assert cell.data_type == "s" and cell.value == value


def test_clean_text_keeps_ordinary_text():
    assert clean_text("Café « crème » — 12 €\nligne 2\tcolonne") == "Café « crème » — 12 €\nligne 2\tcolonne"
    assert clean_text(None) == ""
    assert clean_text("a\x0bb\x7fc\x85d\x00e") == "abcde"


def test_file_name_and_disposition(client, world, put_on_agenda):
    put_on_agenda()
    login(client, world.region_agent)
    response, _ = download(client, world.region_meeting)
    day = world.region_meeting.meets_on.isoformat()
    expected = f"comite-{world.region_committee.slug}-{day}.xlsx"
    assert response.headers["Content-Disposition"] == f"attachment; filename={expected}"
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_an_empty_agenda_gives_a_header_only_workbook(client, world):
    login(client, world.region_secretary)
    _, book = download(client, world.region_meeting)
    assert list(book["Ordre du jour"].iter_rows(values_only=True)) == [tuple(HEADER)]


def test_secretaries_and_agents_of_the_agency_download(client, world, put_on_agenda):
    put_on_agenda()
    for person in (world.region_agent, world.region_secretary):
        login(client, person)
        assert client.get(workbook_url(world.region_meeting)).status_code == 200


@pytest.mark.parametrize("who", ["bpi_agent", "bpi_secretary", "applicant", "admin"])
def test_nobody_else_downloads(client, world, put_on_agenda, who):
    put_on_agenda()
    login(client, getattr(world, who))
    assert client.get(workbook_url(world.region_meeting)).status_code == 404


def test_anonymous_is_sent_to_the_login_page(client, world):
    response = client.get(workbook_url(world.region_meeting))
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_unknown_meeting_is_not_found(client, world):
    login(client, world.region_agent)
    assert client.get("/comites/seances/424242/ordre-du-jour.xlsx").status_code == 404


@contextmanager
def count_queries(app):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():  # a fresh session, as for a real request
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", record)


def test_workbook_queries_do_not_grow_with_items(app, client, world, put_on_agenda):
    for _ in range(3):
        put_on_agenda()
    url = workbook_url(world.region_meeting)
    login(client, world.region_secretary)
    with count_queries(app) as few:
        assert client.get(url).status_code == 200
    for _ in range(27):
        put_on_agenda()
    with count_queries(app) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert load_workbook(BytesIO(response.data))["Ordre du jour"].max_row == 31
    assert len(many) == len(few) == 3  # the person, the meeting, its agenda


def test_a_past_meeting_workbook_is_still_available(client, world, create_meeting):
    past = create_meeting(world.region_committee, in_days=-10)
    db.session.commit()
    login(client, world.region_agent)
    response = client.get(workbook_url(past))
    assert response.status_code == 200
    assert (paris_today() - timedelta(days=10)).isoformat() in response.headers["Content-Disposition"]
