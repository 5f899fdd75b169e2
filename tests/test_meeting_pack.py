"""The meeting pack: three sheets read back with openpyxl — content, real types and formats, live
totals, print setup, inert text, decisions before and after, de minimis, opinions, who may download,
a fixed number of queries, and the function the command line calls."""
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import event

from atelier.cases import operations as ops
from atelier.common import ActionRefused, utcnow
from atelier.companies.models import MinimisAid
from atelier.exports.cells import (DATE_FORMAT, MONEY_FORMAT, PERCENT_FORMAT, clean_text, fitted_width,
                                   header_footer_text, text_cell)
from atelier.exports.pack import export_meeting_to, pack_filename, write_meeting_pack
from atelier.extensions import db
from atelier.cases.minimis import drops_out_on
from atelier.formatting import money, paris_today

from conftest import login

SUMMARY_HEADER = ["Dispositif", "Instrument", "Demandes", "Coût éligible", "Montant demandé",
                  "Montant proposé", "Montant accordé", "Enveloppe annuelle {year}",
                  "Accordé en {year} (toutes séances)", "Reste de l'enveloppe {year}",
                  "Part de l'enveloppe utilisée"]
CASES_HEADER = ["Référence", "Entreprise", "SIRET", "Commune", "Département", "NAF", "Taille", "Projet",
                "Dispositif", "Instrument", "Coût éligible", "Montant demandé", "Montant proposé",
                "Décision", "Montant accordé", "De minimis reçu sur 3 ans", "Marge de minimis restante",
                "Avis des partenaires",
                "Agent chargé", "Emplois créés (3 ans)", "Effectif (ETP)",
                "Chiffre d'affaires du dernier exercice clos"]
OPINIONS_HEADER = ["Référence", "Dispositif", "Organisme consulté", "Avis", "Montant envisagé",
                   "Commentaire", "Demandé le", "Échéance", "Rendu le", "En retard"]
DECISION, GRANTED, MINIMIS, HEADROOM, OPINIONS, AGENT = 13, 14, 15, 16, 17, 18  # indexes in a Dossiers row


@pytest.fixture
def put_on_agenda(world):
    """A case in review whose line (60 000 € on the Region scheme by default) is proposed at 50 000 €."""

    def factory(title="Nouvelle ligne de production", *, company=None, applicant=None, scheme=None,
                meeting=None, requested="60000", proposed="50000", agent=None):
        applicant = applicant or world.applicant
        case = ops.create_case(applicant, company or world.company, title=title,
                               description="Achat d'une machine.", starts_on=paris_today(),
                               eligible_cost="250000")
        ops.add_line(applicant, case, scheme=scheme or world.region_scheme, requested_amount=requested)
        ops.declare_no_minimis(applicant, case)
        ops.submit_case(applicant, case)
        agent = agent or world.region_agent
        ops.accept_case(agent, case)
        ops.propose_line(agent, case.lines[0], meeting=meeting or world.region_meeting,
                         proposed_amount=proposed)
        db.session.commit()
        return case

    return factory


@pytest.fixture
def opinions(world):
    """On ``case``'s line: AER BFC favourable with 30 000 € and a comment; Bpifrance pending, overdue."""

    def factory(case, *, comment="Projet solide"):
        line = case.lines[0]
        asked = ops.ask_opinion(world.region_agent, line, agency=world.aer,
                                due_on=(paris_today() + timedelta(days=5)).isoformat(),
                                question="Votre avis ?")
        ops.give_opinion(world.aer_agent, asked, verdict="favourable", intended_amount="30000",
                         comment=comment)
        pending = ops.ask_opinion(world.region_agent, line, agency=world.bpi,
                                  due_on=(paris_today() + timedelta(days=1)).isoformat())
        pending.due_on = paris_today() - timedelta(days=2)  # the due date has passed since
        db.session.commit()
        return asked, pending

    return factory


def pack_url(meeting) -> str:
    return f"/comites/seances/{meeting.id}/ordre-du-jour.xlsx"


def download(client, meeting):
    response = client.get(pack_url(meeting))
    assert response.status_code == 200, response.status_code
    return response, load_workbook(BytesIO(response.data))


def rows_of(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def as_decimal(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- sheets and content

def test_three_sheets_with_bold_headers_opening_on_the_agenda(client, world, put_on_agenda):
    put_on_agenda()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    assert book.sheetnames == ["Synthèse", "Dossiers", "Avis", "De minimis", "Réponses"]
    year = world.region_meeting.meets_on.year
    assert rows_of(book["Synthèse"])[0] == [title.format(year=year) for title in SUMMARY_HEADER]
    assert rows_of(book["Dossiers"])[0] == CASES_HEADER
    assert rows_of(book["Avis"])[0] == OPINIONS_HEADER
    for sheet in book.worksheets:
        assert all(cell.font.bold for cell in sheet[1])
    assert book.active.title == "Dossiers"


def test_one_row_per_item_as_presented(client, world, put_on_agenda):
    first = put_on_agenda()
    second = put_on_agenda("Robotisation de l'atelier")
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    rows = rows_of(book["Dossiers"])
    company = world.company
    assert len(rows) == 3
    assert rows[1] == [first.reference, company.name, company.siret, "Dijon", "21", "62.01Z",
                       "Petite entreprise", "Nouvelle ligne de production", "Aide à l'investissement",
                       "Subvention", 250000, 60000, 50000, None, None, 0, 300000, None,
                       world.region_agent.name, None, None, None]
    assert rows[2][0] == second.reference and rows[2][7] == "Robotisation de l'atelier"


def test_the_frozen_snapshot_is_shown_not_later_edits(client, world, put_on_agenda):
    case = put_on_agenda()
    world.company.name = "Nom changé après l'inscription"
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    row = rows_of(book["Dossiers"])[1]
    assert row[0] == case.reference and row[1] != "Nom changé après l'inscription"


def test_decisions_are_blank_before_and_filled_after(client, world, put_on_agenda):
    approved, rejected, adjourned = put_on_agenda(), put_on_agenda("Deuxième"), put_on_agenda("Troisième")
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    for row in rows_of(book["Dossiers"])[1:]:
        assert row[DECISION] is None and row[GRANTED] is None
    ops.approve_line(world.region_secretary, approved.lines[0], granted_amount="45000")
    ops.reject_line(world.region_secretary, rejected.lines[0], reason="Fonds propres insuffisants")
    ops.adjourn_line(world.region_secretary, adjourned.lines[0], reason="Pièces à compléter")
    db.session.commit()
    _, book = download(client, world.region_meeting)
    rows = rows_of(book["Dossiers"])
    assert [(row[DECISION], row[GRANTED]) for row in rows[1:]] == [
        ("Accordé", 45000), ("Refusé", None), ("Ajourné", None)]


def test_summary_per_scheme_with_envelope_and_live_totals(client, world, create_meeting, create_scheme,
                                                          put_on_agenda):
    meeting = world.region_meeting
    meeting.meets_on = paris_today()  # the decisions below fall in the meeting's year
    advance = create_scheme(world.region, committee=world.region_committee, name="Avance Région",
                            instrument="repayable_advance", regime="gber", annual_budget=Decimal("200000"))
    db.session.commit()
    granted = put_on_agenda()
    put_on_agenda("Deuxième", proposed="40000")
    put_on_agenda("Avance", scheme=advance, requested="30000", proposed="25000")
    # decided earlier this year at another meeting: uses the envelope too
    other_meeting = create_meeting(world.region_committee, in_days=30)
    earlier = put_on_agenda("Ailleurs", meeting=other_meeting)
    ops.approve_line(world.region_secretary, earlier.lines[0], granted_amount="20000")
    # decided last year: not this year's envelope
    last_year = put_on_agenda("L'an dernier", meeting=other_meeting)
    ops.approve_line(world.region_secretary, last_year.lines[0], granted_amount="10000")
    last_year.lines[0].decided_at = utcnow().replace(year=utcnow().year - 1)
    ops.approve_line(world.region_secretary, granted.lines[0], granted_amount="45000")
    db.session.commit()

    login(client, world.region_secretary)
    _, book = download(client, meeting)
    sheet = book["Synthèse"]
    rows = rows_of(sheet)
    assert len(rows) == 4
    assert rows[1][:10] == ["Aide à l'investissement", "Subvention", 2, 500000, 120000, 90000, 45000,
                            5000000, 65000, 4935000]
    assert rows[1][10] == pytest.approx(0.013)
    assert rows[2] == ["Avance Région", "Avance remboursable", 1, 250000, 30000, 25000, 0,
                       200000, 0, 200000, 0]
    total = sheet[4]
    assert total[0].value == "Total" and total[0].font.bold and total[1].value is None
    for cell in total[2:10]:
        assert cell.value == f"=SUM({cell.column_letter}2:{cell.column_letter}3)"
        assert cell.data_type == "f" and cell.font.bold
    assert total[10].value == '=IF(H4>0,(H4-J4)/H4,"")'
    for cell in sheet[2][3:10]:
        assert cell.number_format == MONEY_FORMAT and cell.data_type == "n"
    assert sheet["K2"].number_format == PERCENT_FORMAT
    assert sheet["D4"].number_format == MONEY_FORMAT and sheet["K4"].number_format == PERCENT_FORMAT
    assert sheet.auto_filter.ref == "A1:K3"  # sorting leaves the totals row below


def test_summary_rows_in_french_alphabetical_order(client, world, create_scheme, put_on_agenda):
    for name in ("Zéphyr", "Élan", "avenir"):
        put_on_agenda(scheme=create_scheme(world.region, committee=world.region_committee, name=name))
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    assert [row[0] for row in rows_of(book["Synthèse"])[1:4]] == ["avenir", "Élan", "Zéphyr"]


def test_amounts_dates_and_identifiers_have_real_types(client, world, put_on_agenda, opinions):
    case = put_on_agenda()
    opinions(case)
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    row = book["Dossiers"][2]
    for cell in row[10:13] + (row[MINIMIS],):
        assert cell.data_type == "n" and isinstance(cell.value, (int, float))
        assert cell.number_format == MONEY_FORMAT
    assert row[2].data_type == "s" and row[2].value == world.company.siret  # SIRET keeps its zeros
    assert row[4].data_type == "s" and row[4].value == "21"
    answered = book["Avis"][2]
    assert answered[4].value == 30000 and answered[4].number_format == MONEY_FORMAT
    for cell in answered[6:9]:
        assert isinstance(cell.value, datetime) and cell.number_format == DATE_FORMAT
    assert answered[6].value.date() == paris_today()
    assert answered[7].value.date() == paris_today() + timedelta(days=5)


def test_opinions_in_one_cell_and_one_row_each(client, world, put_on_agenda, opinions):
    case = put_on_agenda()
    opinions(case)
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    cell = rows_of(book["Dossiers"])[1][OPINIONS]
    assert cell == (f"AER BFC : favorable ({money(Decimal('30000'))}) — Projet solide ; "
                    "Bpifrance : en attente, en retard")
    rows = rows_of(book["Avis"])
    assert len(rows) == 3
    today = datetime.combine(paris_today(), datetime.min.time())
    assert rows[1] == [case.reference, "Aide à l'investissement", "AER BFC", "Favorable", 30000,
                       "Projet solide", today, today + timedelta(days=5), today, "Non"]
    assert rows[2] == [case.reference, "Aide à l'investissement", "Bpifrance Bourgogne-Franche-Comté",
                       "En attente", None, None, today, today - timedelta(days=2), None, "Oui"]


def test_a_line_put_again_on_the_agenda_lists_its_opinions_once(client, world, put_on_agenda, opinions):
    case = put_on_agenda()
    opinions(case)
    line = case.lines[0]
    ops.adjourn_line(world.region_secretary, line, reason="Chiffrage à revoir")
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="40000")
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    cases = rows_of(book["Dossiers"])
    assert [(row[0], row[12], row[DECISION]) for row in cases[1:]] == [
        (case.reference, 50000, "Ajourné"), (case.reference, 40000, None)]
    assert len(rows_of(book["Avis"])) == 3


def test_an_opinion_due_later_is_not_overdue(client, world, put_on_agenda, opinions):
    case = put_on_agenda()
    _, pending = opinions(case)
    pending.due_on = paris_today()
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    assert rows_of(book["Dossiers"])[1][OPINIONS].endswith("Bpifrance : en attente")
    assert rows_of(book["Avis"])[2][9] == "Non"


def _aid(siren, amount, days_ago, regime="de_minimis", line_id=None, case_id=None):
    """An aid declared on dossier ``case_id``, or granted here on line ``line_id``."""
    db.session.add(MinimisAid(siren=siren, granted_on=paris_today() - timedelta(days=days_ago),
                              granting_body="Département", amount=Decimal(amount), regime=regime,
                              source="declared" if line_id is None else "granted", line_id=line_id,
                              case_id=case_id))


def test_de_minimis_received_over_three_years_all_regimes(client, world, put_on_agenda):
    ours = put_on_agenda()
    theirs = put_on_agenda("Autre entreprise", company=world.other_company, applicant=world.other_applicant)
    siren = world.company.siren
    _aid(siren, "10000", 100, case_id=ours.id)
    _aid(siren, "5000", 700, regime="de_minimis_agri", case_id=ours.id)
    _aid(siren, "7000", 3 * 366 + 30, case_id=ours.id)  # more than three years before the meeting
    _aid(siren, "10000", 100, case_id=theirs.id)  # declared on another dossier: not ours to count
    _aid(world.other_company.siren, "2500", 10, case_id=theirs.id)
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    rows = rows_of(book["Dossiers"])
    assert [row[MINIMIS] for row in rows[1:]] == [15000, 2500]
    # general regime: 300 000 − 10 000 − 5 000 (the agricultural aid counts with it)
    assert [row[HEADROOM] for row in rows[1:]] == [285000, 297500]
    aids = rows_of(book["De minimis"])
    assert aids[0] == ["Référence", "Entreprise", "SIREN", "Date d'octroi", "Organisme", "Règlement", "Origine",
                       "Montant (ESB)", "Ne compte plus à partir du"]
    assert [(row[0], row[2], row[7]) for row in aids[1:]] == [
        (ours.reference, siren, 5000), (ours.reference, siren, 10000),
        (theirs.reference, world.other_company.siren, 2500)]
    granted_on = paris_today() - timedelta(days=100)
    ten_thousand = aids[2]
    assert ten_thousand[3].date() == granted_on and ten_thousand[6] == "Déclarée par le demandeur"
    assert ten_thousand[8].date() == drops_out_on(granted_on)
    note = book["Dossiers"].cell(row=1, column=MINIMIS + 1).comment
    assert "tous les règlements" in note.text and "trois ans" in note.text
    # the aid granted on this agenda's own line does not count as "already received"
    ops.approve_line(world.region_secretary, ours.lines[0], granted_amount="45000")
    db.session.commit()
    assert db.session.query(MinimisAid).filter_by(line_id=ours.lines[0].id).count() == 1
    _, book = download(client, world.region_meeting)
    assert rows_of(book["Dossiers"])[1][MINIMIS] == 15000


# --------------------------------------------------------------------------- layout and print

def test_layout_and_print_setup_of_every_sheet(client, world, put_on_agenda, opinions):
    case = put_on_agenda("Un projet au titre particulièrement long pour voir la colonne s'élargir "
                         "jusqu'à sa limite et pas au-delà")
    put_on_agenda()
    opinions(case)
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    meeting = world.region_meeting
    for sheet, last_cell in ((book["Synthèse"], "K2"), (book["Dossiers"], "V3"), (book["Avis"], "J3"),
                              (book["Réponses"], "C3")):
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{last_cell}"
        assert sheet.page_setup.orientation == "landscape"
        assert int(sheet.page_setup.paperSize) == int(Worksheet.PAPERSIZE_A4)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.print_title_rows == "$1:$1"  # the header on every printed page
        title = f"{meeting.committee.name} — séance du {meeting.meets_on:%d/%m/%Y}"
        assert sheet.oddHeader.center.text == title
        assert sheet.oddFooter.center.text == "Page &P sur &N"
    cases = book["Dossiers"]
    assert cases.column_dimensions["H"].width == 45  # the long title, within the limit
    assert cases["H2"].alignment.wrap_text
    assert cases.column_dimensions["A"].width == len(case.reference) + 2
    assert cases.column_dimensions["C"].width == 14 + 2  # a SIRET
    assert cases.column_dimensions["K"].width >= len("Coût éligible") + 3


def test_widths_fit_the_longest_line_within_bounds():
    assert fitted_width(["abc", None, "abcdef\nxy"]) == 8
    assert fitted_width([]) == 6
    assert fitted_width(["x" * 500], maximum=40) == 40


def test_a_committee_name_with_an_ampersand_prints_as_is():
    assert header_footer_text("Comité R&D\x07") == "Comité R&&D"


def test_an_empty_agenda_gives_headers_only(client, world):
    login(client, world.region_secretary)
    _, book = download(client, world.region_meeting)
    assert [len(rows_of(sheet)) for sheet in book.worksheets] == [1, 1, 1, 1, 1]
    assert book["Dossiers"].auto_filter.ref == "A1:V1"


# --------------------------------------------------------------------------- inert text

def test_person_supplied_text_stays_inert_text(client, world, create_company, create_user, create_scheme,
                                               put_on_agenda, opinions):
    applicant = create_user("applicant")
    company = create_company(members=[applicant], name='=HYPERLINK("http://x","y")')
    scheme = create_scheme(world.region, committee=world.region_committee, name="-Dispositif (moins)")
    case = put_on_agenda("+33 6 12 34 56 78", company=company, applicant=applicant, scheme=scheme)
    favourable, _ = opinions(case, comment="@SUM(1)")
    other = put_on_agenda("Deuxième")
    tabbed, _ = opinions(other)
    tabbed.comment = "\tcommentaire après une tabulation"  # as imported: the form would strip it
    third = put_on_agenda("Troisième")
    ringing, _ = opinions(third)
    ringing.comment = "Sonnerie\x07 coupée\x1b"
    db.session.commit()
    login(client, world.region_agent)
    _, book = download(client, world.region_meeting)
    cases, avis, summary = book["Dossiers"], book["Avis"], book["Synthèse"]
    expected = [
        (cases["B2"], '=HYPERLINK("http://x","y")'),
        (cases["H2"], "+33 6 12 34 56 78"),
        (cases["I2"], "-Dispositif (moins)"),
        (summary["A2"], "-Dispositif (moins)"),
        (avis["F2"], "@SUM(1)"),
        (avis["F4"], "\tcommentaire après une tabulation"),
        (avis["F6"], "Sonnerie coupée"),
    ]
    for cell, text in expected:
        assert cell.data_type == "s", cell.coordinate
        assert cell.value == text, cell.coordinate
    assert cases["B2"].quotePrefix and avis["F2"].quotePrefix  # editing the cell keeps it text
    assert cases["R2"].value.startswith("AER BFC : favorable") and "@SUM(1)" in cases["R2"].value


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
    ordinary = "Café « crème » — 12 €\nligne 2\tcolonne"
    assert clean_text(ordinary) == ordinary
    assert clean_text(None) == ""
    assert clean_text("a\x0bb\x7fc\x85d\x00e") == "abcde"


# --------------------------------------------------------------------------- download and scoping

def test_file_name_and_disposition(client, world, put_on_agenda):
    put_on_agenda()
    login(client, world.region_agent)
    response, _ = download(client, world.region_meeting)
    expected = f"comite-{world.region_committee.slug}-{world.region_meeting.meets_on.isoformat()}.xlsx"
    assert pack_filename(world.region_meeting) == expected
    assert response.headers["Content-Disposition"] == f"attachment; filename={expected}"
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_meeting_page_offers_the_pack(client, world):
    login(client, world.region_agent)
    page = client.get(f"/comites/seances/{world.region_meeting.id}").get_data(as_text=True)
    assert "Télécharger le dossier de séance (Excel)" in page
    assert f'href="{pack_url(world.region_meeting)}"' in page


@pytest.mark.parametrize("who", ["region_agent", "region_secretary"])
def test_agents_of_the_committee_agency_download(client, world, put_on_agenda, who):
    put_on_agenda()
    login(client, getattr(world, who))
    assert client.get(pack_url(world.region_meeting)).status_code == 200


@pytest.mark.parametrize("who", ["bpi_agent", "bpi_secretary", "aer_agent", "applicant", "admin"])
def test_nobody_else_downloads(client, world, put_on_agenda, who):
    put_on_agenda()
    login(client, getattr(world, who))
    assert client.get(pack_url(world.region_meeting)).status_code == 404


def test_anonymous_is_sent_to_the_login_page(client, world):
    response = client.get(pack_url(world.region_meeting))
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_unknown_meeting_is_not_found(client, world):
    login(client, world.region_agent)
    assert client.get("/comites/seances/424242/ordre-du-jour.xlsx").status_code == 404


def test_a_past_meeting_pack_is_still_available(client, world, create_meeting):
    past = create_meeting(world.region_committee, in_days=-10)
    db.session.commit()
    login(client, world.region_agent)
    response = client.get(pack_url(past))
    assert response.status_code == 200
    assert (paris_today() - timedelta(days=10)).isoformat() in response.headers["Content-Disposition"]


# --------------------------------------------------------------------------- queries

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


def _fill(world, put_on_agenda, opinions, count, first):
    for index in range(count):
        case = put_on_agenda(f"Projet {first + index}")
        opinions(case)
        _aid(world.company.siren, "100", 30)
        if index % 3 == 0:
            ops.approve_line(world.region_secretary, case.lines[0], granted_amount="5000")
        elif index % 3 == 1:
            ops.reject_line(world.region_secretary, case.lines[0], reason="Non prioritaire")
    db.session.commit()


def test_pack_queries_do_not_grow_with_items(app, client, world, put_on_agenda, opinions):
    _fill(world, put_on_agenda, opinions, 3, 0)
    url = pack_url(world.region_meeting)
    login(client, world.region_secretary)
    with count_queries(app) as few:
        assert client.get(url).status_code == 200
    _fill(world, put_on_agenda, opinions, 27, 3)
    with count_queries(app) as many:
        response = client.get(url)
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.data))
    assert book["Dossiers"].max_row == 31 and book["Avis"].max_row == 61
    # the person, the meeting, the agenda, the opinions, the de minimis, the envelopes, the answers
    # and the questionnaire versions they answered
    assert len(many) == len(few) == 8


def test_writing_the_pack_itself_issues_six_statements(app, world, put_on_agenda, opinions):
    _fill(world, put_on_agenda, opinions, 5, 0)
    meeting_id = world.region_meeting.id
    with count_queries(app) as statements:
        from atelier.committees.models import Meeting

        meeting = db.session.get(Meeting, meeting_id)
        statements.clear()
        write_meeting_pack(meeting, BytesIO())
    assert len(statements) == 6


# --------------------------------------------------------------------------- command-line function

def test_export_meeting_to_writes_the_pack(world, put_on_agenda, tmp_path):
    case = put_on_agenda()
    path = tmp_path / "seance.xlsx"
    meeting = export_meeting_to(world.region_meeting.id, str(path))
    assert meeting.id == world.region_meeting.id
    book = load_workbook(path)
    assert book.sheetnames == ["Synthèse", "Dossiers", "Avis", "De minimis", "Réponses"]
    assert book["Dossiers"]["A2"].value == case.reference
    assert [p.name for p in tmp_path.iterdir()] == ["seance.xlsx"]  # no partial file left behind


def test_export_meeting_to_refuses_an_unknown_meeting(world, tmp_path):
    with pytest.raises(ActionRefused, match="Aucune séance n'a le numéro 424242"):
        export_meeting_to(424242, str(tmp_path / "x.xlsx"))
    assert not list(tmp_path.iterdir())


def test_export_meeting_to_refuses_a_folder_that_does_not_exist(world, tmp_path):
    with pytest.raises(ActionRefused, match="Impossible d'écrire le fichier"):
        export_meeting_to(world.region_meeting.id, str(tmp_path / "absent" / "x.xlsx"))


def test_export_meeting_to_leaves_nothing_when_the_target_is_a_folder(world, tmp_path):
    (tmp_path / "dossier.xlsx").mkdir()
    with pytest.raises(ActionRefused, match="Impossible d'écrire le fichier"):
        export_meeting_to(world.region_meeting.id, str(tmp_path / "dossier.xlsx"))
    assert [p.name for p in tmp_path.iterdir()] == ["dossier.xlsx"]


def test_the_pack_streams_into_any_binary_file(world, put_on_agenda, tmp_path):
    put_on_agenda()
    with open(tmp_path / "direct.xlsx", "wb") as out:
        write_meeting_pack(world.region_meeting, out)
    assert load_workbook(tmp_path / "direct.xlsx")["Dossiers"].max_row == 2
