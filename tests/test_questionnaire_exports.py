"""The questionnaires' answers in the exports: the committee pack's « Réponses » sheet and the key
standard answers of « Dossiers », the portfolio's question columns when filtered by one scheme; the
wording of the version answered, real types, inert text, and a fixed number of statements."""
import csv
from datetime import datetime
from io import BytesIO, StringIO

import pytest
from openpyxl import load_workbook

from atelier.cases import operations as ops
from atelier.exports.cells import DATE_FORMAT, MONEY_FORMAT, PERCENT_FORMAT
from atelier.exports.pack import write_meeting_pack
from atelier.exports.portfolio import HEADERS, parse_filters, portfolio_file
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.questionnaires import operations as q_ops
from atelier.questionnaires.exchange import save_json_answers
from test_meeting_pack import count_queries, rows_of
from test_questionnaires import build, library, own  # noqa: F401  (fixture)

INVESTMENTS = "Liste des investissements"
QUESTION_HEADERS = ["Effectif salarié en équivalents temps plein (ETP)", "Emplois créés dans les trois ans",
                    "Chiffre d'affaires du dernier exercice clos", INVESTMENTS, "Part d'autofinancement",
                    "Début des travaux", "Êtes-vous propriétaire des locaux ?"]


@pytest.fixture
def region_questions(world):
    """The Region asks headcount, jobs created, turnover (standard), an investment list, a share of
    own funds, a start date and whether the premises are owned."""
    return build(world.admin, world.region_scheme, [("Le projet", [
        "headcount_fte", ("jobs_created_3y", False), ("turnover_last_year", False),
        own("investments", "group", INVESTMENTS, max_rows="5",
            columns="*Libellé | text\nFournisseur | text\n*Montant HT | amount"),
        own("own_share", "percentage", "Part d'autofinancement"),
        own("works_start", "date", "Début des travaux"),
        own("owned", "yes_no", "Êtes-vous propriétaire des locaux ?"),
    ])])


def answers_for(line, **values):
    items = [{"line_id": None, "question_key": key, "value": values.pop(key)}
             for key in ("headcount_fte", "jobs_created_3y", "turnover_last_year") if key in values]
    return items + [{"line_id": line.id, "question_key": key, "value": value}
                    for key, value in values.items()]


@pytest.fixture
def on_agenda(world):
    """A dossier answering the Region's questions, its line proposed at the Region's meeting."""

    def factory(title="Nouvelle ligne de production", **values):
        applicant = world.applicant
        case = ops.create_case(applicant, world.company, title=title, description="Achat d'une machine.",
                               starts_on=paris_today(), eligible_cost="250000")
        line = ops.add_line(applicant, case, scheme=world.region_scheme, requested_amount="60000")
        ops.declare_no_minimis(applicant, case)
        values = values or {"headcount_fte": 12, "jobs_created_3y": 3, "turnover_last_year": "1250000.50",
                            "investments": [{"libelle": "=HYPERLINK(\"http://x\")", "fournisseur": "Amada",
                                             "montant_ht": "120000"},
                                            {"libelle": "Robot", "montant_ht": 12500}],
                            "own_share": "12,5", "works_start": "2026-03-01", "owned": False}
        save_json_answers(applicant, case, answers_for(line, **values))
        ops.submit_case(applicant, case)
        ops.accept_case(world.region_agent, case)
        ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
        db.session.commit()
        return case

    return factory


def pack_of(meeting):
    stream = BytesIO()
    write_meeting_pack(meeting, stream)
    stream.seek(0)
    return load_workbook(stream)


def test_the_answers_sheet_has_a_row_per_item_and_a_column_per_question(world, region_questions, on_agenda):
    case = on_agenda()
    book = pack_of(world.region_meeting)
    sheet = book["Réponses"]
    rows = rows_of(sheet)
    assert rows[0] == ["Référence", "Entreprise", "Dispositif", *QUESTION_HEADERS]
    assert rows[1][:6] == [case.reference, world.company.name, world.region_scheme.name, 12, 3, 1250000.5]
    # a repeated group: one line per row, its filled cells joined
    assert rows[1][6] == ("=HYPERLINK(\"http://x\") — Amada — 120\u202f000,00\u00a0€\n"
                          "Robot — 12\u202f500,00\u00a0€")
    assert sheet["G2"].data_type == "s"  # inert text, never a formula
    assert rows[1][7:] == [0.125, paris_date(2026, 3, 1), "Non"]
    assert sheet["F2"].number_format == MONEY_FORMAT and sheet["H2"].number_format == PERCENT_FORMAT
    assert sheet["I2"].number_format == DATE_FORMAT
    assert sheet["G1"].comment.text.startswith("Question « investments »")
    # the key standard answers beside the figures
    cases = rows_of(book["Dossiers"])
    assert cases[0][-3:] == ["Emplois créés (3 ans)", "Effectif (ETP)",
                             "Chiffre d'affaires du dernier exercice clos"]
    assert cases[1][-3:] == [3, 12, 1250000.5]


def paris_date(year, month, day):
    """A date as openpyxl reads a date cell back."""
    return datetime(year, month, day)


def test_an_item_without_answers_leaves_its_cells_empty(world, region_questions, on_agenda):
    on_agenda(headcount_fte=4)
    rows = rows_of(pack_of(world.region_meeting)["Réponses"])
    assert rows[1][3:] == [4, None, None, None, None, None, None]
    assert rows_of(pack_of(world.region_meeting)["Dossiers"])[1][-3:] == [None, 4, None]


def reword_investments(world, label):
    scheme = world.region_scheme
    questions = q_ops.draft_of(scheme).structure["sections"][0]["questions"]
    position = [question.get("key") for question in questions].index("investments")
    q_ops.remove_item(world.admin, scheme, item=f"q0-{position}")
    q_ops.add_own_question(world.admin, scheme, section=0, **own(
        "investments", "group", label, max_rows="5", columns="*Libellé | text\n*Montant HT | amount"))
    version = q_ops.publish(world.admin, scheme)
    db.session.commit()
    return version


def test_the_pack_keeps_the_wording_of_the_version_answered(world, region_questions, on_agenda):
    on_agenda()
    assert reword_investments(world, "Investissements prévus").number == 2
    rows = rows_of(pack_of(world.region_meeting)["Réponses"])
    assert rows[0][6] == INVESTMENTS  # answered under version 1
    assert "Amada" in rows[1][6]  # the version-1 column « Fournisseur » is still read
    on_agenda("Deuxième projet", headcount_fte=5,
              investments=[{"libelle": "Four", "montant_ht": "9000"}])  # answers version 2
    rows = rows_of(pack_of(world.region_meeting)["Réponses"])
    assert rows[0][6] == f"{INVESTMENTS} / Investissements prévus"
    assert rows[2][6] == "Four — 9\u202f000,00\u00a0€"


def test_the_pack_reads_answers_in_a_fixed_number_of_statements(app, world, region_questions, on_agenda):
    def statements_for_pack():
        from atelier.committees.models import Meeting

        meeting = db.session.get(Meeting, world.region_meeting.id)
        with count_queries(app) as statements:
            write_meeting_pack(meeting, BytesIO())
        return len(statements)

    on_agenda()
    few = statements_for_pack()
    for index in range(6):
        on_agenda(f"Projet {index}")
    assert statements_for_pack() == few == 6


# --------------------------------------------------------------------------- the portfolio

def portfolio(world, fmt, **filters):
    handle = portfolio_file(world.region, parse_filters(**filters), fmt)
    with handle:
        data = handle.read()
    if fmt == "xlsx":
        return load_workbook(BytesIO(data))["Portefeuille"]
    return list(csv.reader(StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_filtered_by_one_scheme_the_portfolio_adds_its_questions_after_the_fixed_columns(
        world, region_questions, on_agenda):
    case = on_agenda()
    sheet = portfolio(world, "xlsx", scheme=world.region_scheme.code)
    rows = rows_of(sheet)
    assert rows[0] == HEADERS + QUESTION_HEADERS
    fixed = len(HEADERS)
    assert rows[1][0] == case.reference
    assert rows[1][fixed:fixed + 3] == [12, 3, 1250000.5]
    assert rows[1][fixed + 3].startswith("=HYPERLINK") and sheet.cell(2, fixed + 4).data_type == "s"
    assert rows[1][fixed + 4:] == [0.125, paris_date(2026, 3, 1), "Non"]
    assert sheet.cell(2, fixed + 3).number_format == MONEY_FORMAT
    assert sheet.auto_filter.ref.endswith(f"{sheet.cell(1, fixed + 7).column_letter}2")

    lines = portfolio(world, "csv", scheme=world.region_scheme.code)
    assert lines[0] == HEADERS + QUESTION_HEADERS
    assert lines[1][fixed:fixed + 3] == ["12", "3", "1250000,50"]
    assert lines[1][fixed + 3].startswith("'=HYPERLINK")  # inert in a spreadsheet
    assert lines[1][fixed + 4:] == ["12,50", "2026-03-01", "Non"]


def test_without_a_scheme_filter_the_columns_are_the_fixed_ones(world, region_questions, on_agenda):
    on_agenda()
    assert rows_of(portfolio(world, "xlsx"))[0] == HEADERS
    assert portfolio(world, "csv")[0] == HEADERS


def test_the_portfolio_heads_with_the_latest_wording_and_reads_older_answers(world, region_questions,
                                                                             on_agenda):
    on_agenda()
    reword_investments(world, "Investissements prévus")
    on_agenda("Deuxième projet", headcount_fte=5, investments=[{"libelle": "Four", "montant_ht": "9000"}])
    rows = rows_of(portfolio(world, "xlsx", scheme=world.region_scheme.code))
    position = rows[0].index("Investissements prévus")  # moved to the end of its section by the rewording
    assert INVESTMENTS not in rows[0]
    assert "Amada" in rows[1][position]  # answered under version 1, read with its columns
    assert rows[2][position] == "Four — 9\u202f000,00\u00a0€" and rows[2][len(HEADERS)] == 5


def test_the_portfolio_with_questions_keeps_a_fixed_number_of_statements(app, world, region_questions,
                                                                          on_agenda):
    def statements(fmt):
        with count_queries(app) as seen:
            portfolio(world, fmt, scheme=world.region_scheme.code)
        return len(seen)

    on_agenda()
    few = {fmt: statements(fmt) for fmt in ("xlsx", "csv")}
    for index in range(6):
        on_agenda(f"Projet {index}", headcount_fte=index)
    many = {fmt: statements(fmt) for fmt in ("xlsx", "csv")}
    assert len(rows_of(portfolio(world, "xlsx", scheme=world.region_scheme.code))) == 8
    assert few == many
