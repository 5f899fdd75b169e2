"""The agenda of one meeting as a workbook: sheet "Ordre du jour", one row per item as presented.

The rows come from the frozen ``AgendaItem.presented`` figures (what the committee was shown),
read in one statement and streamed into a write-only workbook.
"""
from io import BytesIO

from openpyxl import Workbook
from sqlalchemy import select

from ..committees.models import AgendaItem, Meeting
from ..extensions import db
from ..schemes.models import INSTRUMENTS
from .cells import header_cells, money_cell, prepare_sheet, set_filter, text_cell

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "Ordre du jour"

# (header, width in characters)
COLUMNS = [
    ("Référence", 15),
    ("Entreprise", 30),
    ("SIRET", 16),
    ("Commune", 18),
    ("Département", 12),
    ("Projet", 40),
    ("Dispositif", 30),
    ("Instrument", 20),
    ("Coût éligible", 15),
    ("Montant demandé", 15),
    ("Montant proposé", 15),
    ("Décision", 16),
    ("Montant accordé", 15),
]


def agenda_filename(meeting: Meeting) -> str:
    return f"comite-{meeting.committee.slug}-{meeting.meets_on.isoformat()}.xlsx"


def agenda_rows(meeting: Meeting):
    """The meeting's agenda items, in the order they were put on it (one statement, streamed)."""
    return db.session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                              .order_by(AgendaItem.id))


def write_agenda_workbook(meeting: Meeting) -> BytesIO:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET_TITLE)
    prepare_sheet(ws, [width for _, width in COLUMNS])
    ws.append(header_cells(ws, [title for title, _ in COLUMNS]))
    last_row = 1
    for item in agenda_rows(meeting):
        ws.append(_row(ws, item))
        last_row += 1
    set_filter(ws, len(COLUMNS), last_row)
    stream = BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def _row(ws, item: AgendaItem) -> list:
    figures = item.figures
    instrument = figures.get("instrument")
    return [
        text_cell(ws, figures.get("reference")),
        text_cell(ws, figures.get("company")),
        text_cell(ws, figures.get("siret")),
        text_cell(ws, figures.get("commune")),
        text_cell(ws, figures.get("departement")),
        text_cell(ws, figures.get("project")),
        text_cell(ws, figures.get("scheme")),
        text_cell(ws, INSTRUMENTS.get(instrument, instrument)),
        money_cell(ws, figures.get("eligible_cost")),
        money_cell(ws, figures.get("requested")),
        money_cell(ws, figures.get("proposed")),
        text_cell(ws, item.outcome_label),
        money_cell(ws, item.granted_amount),
    ]
