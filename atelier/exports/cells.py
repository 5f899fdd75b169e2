"""Cells for write-only openpyxl sheets: user text that can never become a formula, real amounts.

openpyxl turns any string starting with ``=`` into a formula, and a spreadsheet program may
evaluate text starting with ``+``, ``-``, ``@``, tab, CR or LF (OWASP "CSV/formula injection").
Every text a person typed is therefore written with ``data_type = "s"`` (stored as a string,
never parsed), with the ``quotePrefix`` style on the risky ones (so that editing the cell in the
spreadsheet keeps it text), and without the control characters that XML cannot carry.

Only the application's own formulas (``formula_cell``: totals) are ever written as formulas.
"""
import re
from datetime import date
from decimal import Decimal

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = '#,##0.00 "€"'  # French Excel shows it as ``# ##0,00 €``
DATE_FORMAT = "DD/MM/YYYY"
PERCENT_FORMAT = "0.0%"
COUNT_FORMAT = "#,##0"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
MAX_CELL_TEXT = 32_767  # what a spreadsheet cell holds; longer text makes Excel "repair" the file

# C0 controls except tab, LF and CR (which XML allows), DEL and the C1 controls.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BOLD = Font(bold=True)
_HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
_WRAP_ALIGNMENT = Alignment(wrap_text=True, vertical="top")


def clean_text(value) -> str:
    """``value`` as text without control characters (``None`` becomes the empty string)."""
    if value is None:
        return ""
    return _CONTROL_CHARACTERS.sub("", str(value))


def text_cell(ws, value, *, bold: bool = False, wrap: bool = False) -> WriteOnlyCell:
    """A cell holding ``value`` as inert text, whatever it starts with (``wrap``: on several lines)."""
    text = clean_text(value)[:MAX_CELL_TEXT]
    cell = WriteOnlyCell(ws, text)
    cell.data_type = "s"
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True
    if bold:
        cell.font = _BOLD
    if wrap:
        cell.alignment = _WRAP_ALIGNMENT
    return cell


def money_cell(ws, value: Decimal | int | str | None, *, bold: bool = False) -> WriteOnlyCell:
    """A real number shown in euros; empty when there is no amount."""
    amount = None if value in (None, "") else Decimal(str(value))
    cell = WriteOnlyCell(ws, amount)
    cell.number_format = MONEY_FORMAT
    if bold:
        cell.font = _BOLD
    return cell


def date_cell(ws, value: date | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    cell.number_format = DATE_FORMAT
    return cell


def count_cell(ws, value: int | None, *, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    cell.number_format = COUNT_FORMAT
    if bold:
        cell.font = _BOLD
    return cell


def percent_cell(ws, value: Decimal | None, *, bold: bool = False) -> WriteOnlyCell:
    """A share (``Decimal("0.125")``) shown as a percentage (``12,5 %``)."""
    cell = WriteOnlyCell(ws, value)
    cell.number_format = PERCENT_FORMAT
    if bold:
        cell.font = _BOLD
    return cell


def formula_cell(ws, formula: str, number_format: str, *, bold: bool = False) -> WriteOnlyCell:
    """One of the application's own formulas (``=SUM(C2:C9)``): never built from a person's text."""
    if not formula.startswith("="):
        raise ValueError(f"not a formula: {formula!r}")
    cell = WriteOnlyCell(ws, formula)
    cell.data_type = "f"
    cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def header_footer_text(value) -> str:
    """Text for a printed page header or footer: ``&`` starts a code there, so it is doubled."""
    return clean_text(value).replace("&", "&&")


def header_cells(ws, titles) -> list[WriteOnlyCell]:
    cells = []
    for title in titles:
        cell = text_cell(ws, title, bold=True)
        cell.alignment = _HEADER_ALIGNMENT
        cells.append(cell)
    return cells


def prepare_sheet(ws, widths, *, header_rows: int = 1, page_header: str | None = None) -> None:
    """What a write-only sheet needs before its first row: widths, frozen header, print setup.

    ``page_header`` is printed at the top centre of every page, with "Page n sur N" at the bottom.
    """
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = f"A{header_rows + 1}"
    ws.print_title_rows = f"1:{header_rows}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if page_header is not None:
        ws.oddHeader.center.text = header_footer_text(page_header)
        ws.oddFooter.center.text = "Page &P sur &N"


def set_filter(ws, column_count: int, last_row: int) -> None:
    """The auto filter over the header and the rows (written at the end of a write-only sheet)."""
    ws.auto_filter.ref = f"A1:{get_column_letter(column_count)}{max(last_row, 1)}"


def fitted_width(texts, *, minimum: int = 6, maximum: int = 60) -> int:
    """A column width (in characters) that fits the longest line of ``texts``, within bounds.

    Write-only sheets take their widths before the first row: compute them from the values
    about to be written, shown as the spreadsheet will show them.
    """
    longest = max((len(line) for text in texts if text for line in str(text).splitlines()), default=0)
    return max(minimum, min(maximum, longest + 2))
