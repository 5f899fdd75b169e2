"""The export commands for scheduled jobs: they write the files, and refuse clearly (in French,
with a non-zero exit status, leaving no file) when asked for something that does not exist."""
import csv
import io

import pytest
from openpyxl import load_workbook

from atelier.cases import operations as ops
from atelier.exports.opendata import FIELDS
from atelier.exports.portfolio import HEADERS
from atelier.extensions import db
from atelier.formatting import paris_today

from conftest import make_siret


@pytest.fixture
def portfolio(world, create_case):
    """Two in-review cases; the first one's Region line approved (45 000 €)."""
    first = create_case("in_review")
    second = create_case("in_review")
    line = first.lines[0]
    ops.propose_line(world.region_agent, line, meeting=world.region_meeting, proposed_amount="50000")
    ops.approve_line(world.region_secretary, line, granted_amount="45000")
    db.session.commit()
    return first, second


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


# --------------------------------------------------------------------------- export-lines

def test_export_lines_writes_a_workbook(runner, world, portfolio, tmp_path):
    first, second = portfolio
    target = tmp_path / "portefeuille.xlsx"
    result = invoke(runner, "export-lines", "--agency", "region", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "Portefeuille écrit" in result.output
    sheet = load_workbook(target)["Portefeuille"]
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert sorted(row[0].value for row in sheet.iter_rows(min_row=2)) == sorted([first.reference,
                                                                                 second.reference])
    assert [p.name for p in tmp_path.iterdir()] == ["portefeuille.xlsx"]  # no temporary file left


def test_export_lines_writes_a_filtered_csv(runner, world, portfolio, tmp_path):
    first, _ = portfolio
    target = tmp_path / "accordees.CSV"
    today = paris_today()
    result = invoke(runner, "export-lines", "--agency", "region", "--state", "approved",
                    "--scheme", world.region_scheme.code, "--committee", world.region_committee.slug,
                    "--from", today.isoformat(), "--to", today.strftime("%d/%m/%Y"), "-o", str(target))
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:]] == [first.reference]


@pytest.mark.parametrize("args, message", [
    (["--agency", "inconnu"], "Organisme inconnu : « inconnu »"),
    (["--agency", "region", "--state", "approuvee"], "État inconnu"),
    (["--agency", "region", "--scheme", "NOPE"], "Dispositif inconnu"),
    (["--agency", "region", "--committee", "nope"], "Comité inconnu"),
    (["--agency", "region", "--from", "2025-13-01"], "n'est pas une date valide"),
    (["--agency", "region", "--from", "2025-05-01", "--to", "2025-04-01"], "doit précéder"),
])
def test_export_lines_refuses_clearly(runner, world, tmp_path, args, message):
    target = tmp_path / "portefeuille.xlsx"
    result = runner.invoke(args=["export-lines", *args, "-o", str(target)])
    assert result.exit_code != 0
    assert message in result.output
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_export_lines_wants_a_known_extension(runner, world, tmp_path):
    target = tmp_path / "portefeuille.pdf"
    result = runner.invoke(args=["export-lines", "--agency", "region", "-o", str(target)])
    assert result.exit_code != 0
    assert "doit finir par .xlsx (Excel) ou .csv" in result.output
    assert not target.exists()


def test_a_refusal_leaves_an_existing_file_untouched(runner, world, tmp_path):
    target = tmp_path / "portefeuille.csv"
    target.write_text("hier", encoding="utf-8")
    result = runner.invoke(args=["export-lines", "--agency", "inconnu", "-o", str(target)])
    assert result.exit_code != 0
    assert target.read_text(encoding="utf-8") == "hier"


# --------------------------------------------------------------------------- export-opendata

def test_export_opendata_writes_the_scdl_file(runner, world, portfolio, tmp_path):
    first, _ = portfolio
    world.region.siret = make_siret(4343)
    db.session.commit()
    target = tmp_path / "subventions.csv"
    result = invoke(runner, "export-opendata", "--agency", "region", "--year", str(paris_today().year),
                    "-o", str(target))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == FIELDS
    assert [row[3] for row in rows[1:]] == [f"{first.reference}-{first.lines[0].id}"]


@pytest.mark.parametrize("args, message", [
    (["--agency", "inconnu", "--year", "2025"], "Organisme inconnu"),
    (["--agency", "region", "--year", "2025"], "n'a pas de numéro SIRET"),
    (["--agency", "region", "--year", "25"], "Indiquez une année sur quatre chiffres"),
])
def test_export_opendata_refuses_clearly(runner, world, tmp_path, args, message):
    target = tmp_path / "subventions.csv"
    result = runner.invoke(args=["export-opendata", *args, "-o", str(target)])
    assert result.exit_code != 0
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_export_opendata_wants_a_csv_file(runner, world, tmp_path):
    world.region.siret = make_siret(4343)
    db.session.commit()
    result = runner.invoke(args=["export-opendata", "--agency", "region", "--year", "2025",
                                 "-o", str(tmp_path / "subventions.xlsx")])
    assert result.exit_code != 0
    assert "doit finir par .csv" in result.output


# --------------------------------------------------------------------------- export-meeting

def test_export_meeting_writes_the_pack(runner, world, portfolio, tmp_path):
    target = tmp_path / "comite.xlsx"
    result = invoke(runner, "export-meeting", str(world.region_meeting.id), "-o", str(target))
    assert result.exit_code == 0, result.output
    book = load_workbook(target)
    assert len(book.sheetnames) >= 1


def test_export_meeting_refuses_an_unknown_meeting(runner, world, tmp_path):
    target = tmp_path / "comite.xlsx"
    result = runner.invoke(args=["export-meeting", "999999", "-o", str(target)])
    assert result.exit_code != 0
    assert "999999" in result.output
    assert not target.exists()
    result = runner.invoke(args=["export-meeting", str(world.region_meeting.id), "-o",
                                 str(tmp_path / "comite.pdf")])
    assert result.exit_code != 0 and "doit finir par .xlsx" in result.output
