"""The committee pack ("dossier de séance"): one print-ready workbook per meeting.

Four sheets, each with a bold frozen header, a filter, widths fitted to what is written, landscape
A4 fitted to the page width, the header row repeated on every printed page and the meeting in the
page header:

- ``Synthèse``: one row per scheme and instrument (lines, eligible cost, requested, proposed, granted,
  the scheme's annual envelope, what was granted on it in the meeting's year by any meeting, what
  remains and the share used), then a totals row of live ``SUM`` formulas;
- ``Dossiers``: one row per agenda item, in the order of the agenda;
- ``Avis``: one row per opinion asked on the lines of the agenda;
- ``De minimis``: one row per de minimis aid that counts for a dossier of the agenda, and the day
  it drops out of the three years;
- ``Réponses``: one row per agenda item, one column per question of the meeting's schemes (standard
  questions answered once per dossier share one column), headed by the wording of the versions
  answered; amounts, whole numbers, dates and percentages as numbers, anything else as the text the
  dossier page shows — a repeated group in one cell, one line per row, its cells joined by « — ».
  The key standard answers (jobs created in three years, headcount, turnover of the last closed
  year) are also columns at the end of ``Dossiers``.

What was put before the committee comes from ``AgendaItem.presented``, frozen when the line was
proposed; the decisions come from the agenda items when the pack is downloaded. Before the meeting
the pack is the agenda; once the decisions are recorded the same download carries them.

The de minimis column sums, for the company's SIREN, the de minimis aid of every regime (general,
agricultural, fisheries, SGEI: they cumulate towards the general ceiling) granted in the three years
before the meeting date, granted here or declared on that dossier, leaving out the aid granted on
the lines of this very meeting so that the figure is the same before and after the decisions.
A comment on the column header says so in the workbook.

Everything is read in a fixed number of statements whatever the number of items: the agenda with
its lines, cases, companies, schemes and proposing agents; the opinions with their agencies; the de
minimis received per SIREN; what each scheme granted in the year; the answers of the dossiers and
the questionnaire versions they answered (``questionnaires.tables``). The workbook is written in
write-only mode, straight into the file object it is given.
"""
import os
import tempfile
import unicodedata
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..cases.models import FundingLine, Opinion
from ..cases.minimis import drops_out_on, minimis_counted_for, regime_position, three_years_before
from ..committees.models import AgendaItem, Meeting
from ..common import ActionRefused
from ..companies.models import SIZE_LABELS, MinimisAid
from ..extensions import db
from ..formatting import PARIS, money, paris_today
from ..questionnaires.tables import cell_of, line_answers
from ..schemes.envelopes import EnvelopePosition, envelope_positions
from ..schemes.models import INSTRUMENTS, Scheme
from .cells import (COUNT_FORMAT, MONEY_FORMAT, PERCENT_FORMAT, XLSX_MIMETYPE, count_cell, date_cell,
                    fitted_width, formula_cell, header_cells, money_cell, percent_cell, prepare_sheet,
                    set_filter, text_cell)

__all__ = ["XLSX_MIMETYPE", "export_meeting_to", "pack_filename", "write_meeting_pack"]

SUMMARY_SHEET, CASES_SHEET, OPINIONS_SHEET, MINIMIS_SHEET = "Synthèse", "Dossiers", "Avis", "De minimis"
ANSWERS_SHEET = "Réponses"
# The standard answers a committee reads beside the figures: (key, column title), at the end of Dossiers.
KEY_ANSWERS = [("jobs_created_3y", "Emplois créés (3 ans)"), ("headcount_fte", "Effectif (ETP)"),
               ("turnover_last_year", "Chiffre d'affaires du dernier exercice clos")]
MINIMIS_HEADROOM_NOTE = ("Ce que l'entreprise peut encore recevoir au titre du règlement de minimis du "
                         "dispositif avant cette décision : son plafond et les plafonds de cumul (général + "
                         "agricole + pêche ≤ 300 000 €, toutes aides de minimis ≤ 750 000 €). Vide si l'aide "
                         "ne relève pas du de minimis.")
MINIMIS_NOTE = ("Aides de minimis de tous les règlements (général, agricole, pêche, SIEG) reçues par "
                "l'entreprise (même SIREN) dans les trois ans précédant la date de la séance, "
                "accordées sur la plateforme ou déclarées dans ce dossier, hors aides accordées sur "
                "les demandes de cette séance.")


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text, money, date, count, percent
    wrap: bool = False  # long text: wraps within ``maximum`` characters
    maximum: int = 40
    note: str | None = None  # a comment on the header cell


@dataclass
class Entry:
    """One agenda item with what the pack needs beside it."""

    item: AgendaItem
    figures: dict
    scheme: Scheme | None  # the scheme as it stands, for its envelope (None: it left the committee)
    opinions: list[Opinion] = field(default_factory=list)


def pack_filename(meeting: Meeting) -> str:
    return f"comite-{meeting.committee.slug}-{meeting.meets_on.isoformat()}.xlsx"


def write_meeting_pack(meeting: Meeting, out) -> None:
    """Write the pack of ``meeting`` into ``out``, a binary file object open for writing."""
    today = paris_today()
    entries = _entries(meeting)
    minimis = _minimis_aids(meeting, entries)
    granted_in_year = _granted_in_year(meeting, entries)
    answer_columns, answers = line_answers(entry.item.line for entry in entries)
    page_header = meeting.title

    workbook = Workbook(write_only=True)
    _summary_sheet(workbook, meeting, entries, granted_in_year, page_header)
    cases = _cases_sheet(workbook, entries, minimis, answers, today, page_header)
    _opinions_sheet(workbook, entries, today, page_header)
    _minimis_sheet(workbook, entries, minimis, page_header)
    _answers_sheet(workbook, entries, answer_columns, answers, page_header)
    workbook.active = workbook.worksheets.index(cases)  # it opens on the agenda
    workbook.save(out)


def export_meeting_to(meeting_id: int, path: str) -> Meeting:
    """Write the pack of meeting ``meeting_id`` to the file ``path`` (for the command line).

    The file appears whole or not at all: it is written beside ``path`` and then renamed. Like any
    temporary file it is readable by its owner only: committee papers are confidential.
    Raises ``ActionRefused`` (French message) when the meeting does not exist or the file
    cannot be written.
    """
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise ActionRefused(f"Aucune séance n'a le numéro {meeting_id}.")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        stream = tempfile.NamedTemporaryFile(dir=folder, prefix=".comite-", suffix=".xlsx.part",
                                             delete=False)
    except OSError as error:
        raise _unwritable(path, error) from error
    try:
        with stream:
            write_meeting_pack(meeting, stream)
        os.replace(stream.name, path)
    except BaseException as error:
        with suppress(OSError):
            os.unlink(stream.name)
        if isinstance(error, OSError):
            raise _unwritable(path, error) from error
        raise
    return meeting


def _unwritable(path: str, error: OSError) -> ActionRefused:
    return ActionRefused(f"Impossible d'écrire le fichier « {path} » : {error.strerror or error}.")


# --------------------------------------------------------------------------- reading

def _entries(meeting: Meeting) -> list[Entry]:
    """The agenda in its order, each item with its line, case, company, scheme and proposer (one
    statement), then the opinions on those lines with their agencies (one statement)."""
    items = db.session.scalars(
        select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
        .options(joinedload(AgendaItem.line).joinedload(FundingLine.case),
                 joinedload(AgendaItem.proposed_by))
        .order_by(AgendaItem.id)
    ).all()
    opinions = db.session.scalars(
        select(Opinion)
        .where(Opinion.line_id.in_(select(AgendaItem.line_id).where(AgendaItem.meeting_id == meeting.id)))
        .order_by(Opinion.id)
    ).all()
    by_line = defaultdict(list)
    for opinion in opinions:
        by_line[opinion.line_id].append(opinion)
    entries = []
    for item in items:
        scheme = item.line.scheme
        if scheme.committee_id != meeting.committee_id:  # transferred since: not this committee's money
            scheme = None
        entries.append(Entry(item, item.figures, scheme, by_line[item.line_id]))
    return entries


def _minimis_aids(meeting: Meeting, entries: list[Entry]) -> dict[int, list[MinimisAid]]:
    """``{case id: the de minimis aids that count for it on the meeting day}`` in one statement,
    counting what the approval counts (``minimis_counted_for``): aid granted here to the SIREN, and
    the aid declared on that dossier; not the aid granted on the lines of this very meeting."""
    cases = {entry.item.line.case.id: entry.item.line.case.company.siren for entry in entries}
    if not cases:
        return {}
    this_meeting_lines = select(AgendaItem.line_id).where(AgendaItem.meeting_id == meeting.id)
    aids = db.session.scalars(
        select(MinimisAid)
        .where(MinimisAid.siren.in_(sorted(set(cases.values()))),
               or_(*(minimis_counted_for(case_id) for case_id in cases)),
               MinimisAid.granted_on > three_years_before(meeting.meets_on),
               MinimisAid.granted_on <= meeting.meets_on,
               or_(MinimisAid.line_id.is_(None), MinimisAid.line_id.not_in(this_meeting_lines)))
        .order_by(MinimisAid.granted_on, MinimisAid.id)
    ).all()
    return {case_id: [aid for aid in aids if aid.siren == siren
                      and (aid.source == "granted" or aid.case_id == case_id)]
            for case_id, siren in cases.items()}


def _by_regime(aids: list[MinimisAid]) -> dict[str, Decimal]:
    received: dict[str, Decimal] = {}
    for aid in aids:
        received[aid.regime] = received.get(aid.regime, Decimal(0)) + aid.amount
    return received


def _minimis_headroom(entry: Entry, received: dict[str, Decimal]) -> Decimal | None:
    """What the company may still receive under the regime of the line's scheme (its own ceiling and
    the cumulation ceilings), before this decision; None for aid that is not de minimis."""
    scheme = entry.item.line.scheme
    if not scheme.is_de_minimis:
        return None
    return regime_position(scheme.regime, received).headroom


def _granted_in_year(meeting: Meeting, entries: list[Entry]) -> dict[int, EnvelopePosition]:
    """``{scheme id: its envelope position in the meeting's calendar year}``: what was granted on it
    by any meeting, by decision date (Paris time), in one statement."""
    return envelope_positions({entry.scheme.id: entry.scheme for entry in entries
                               if entry.scheme is not None}.values(), meeting.meets_on.year)


# --------------------------------------------------------------------------- sheets

def _summary_sheet(workbook, meeting: Meeting, entries, granted_in_year, page_header) -> None:
    year = meeting.meets_on.year
    columns = [
        Column("Dispositif", maximum=40, wrap=True), Column("Instrument", maximum=22),
        Column("Demandes", "count"), Column("Coût éligible", "money"), Column("Montant demandé", "money"),
        Column("Montant proposé", "money"), Column("Montant accordé", "money"),
        Column(f"Enveloppe annuelle {year}", "money"),
        Column(f"Accordé en {year} (toutes séances)", "money"),
        Column(f"Reste de l'enveloppe {year}", "money"),
        Column("Part de l'enveloppe utilisée", "percent"),
    ]
    groups: dict[tuple, dict] = {}
    for entry in entries:
        figures = entry.figures
        key = (figures.get("scheme") or "", figures.get("instrument") or "")
        group = groups.setdefault(key, {"scheme": entry.scheme, "count": 0, "eligible_cost": Decimal(0),
                                        "requested": Decimal(0), "proposed": Decimal(0),
                                        "granted": Decimal(0)})
        group["scheme"] = group["scheme"] or entry.scheme
        group["count"] += 1
        for name in ("eligible_cost", "requested", "proposed"):
            group[name] += figures.get(name) or 0
        group["granted"] += entry.item.granted_amount or 0
    rows = []
    for (scheme_name, instrument), group in sorted(groups.items(), key=lambda pair: _sort_key(pair[0])):
        scheme = group["scheme"]
        envelope = used = remaining = None
        if scheme is not None:
            envelope, used, remaining = granted_in_year[scheme.id]
        share = (used / envelope).quantize(Decimal("0.0001")) if envelope else None
        rows.append([scheme_name, INSTRUMENTS.get(instrument, instrument), group["count"],
                     group["eligible_cost"], group["requested"], group["proposed"], group["granted"],
                     envelope, used, remaining, share])
    ws = _table(workbook, SUMMARY_SHEET, columns, rows, page_header)
    if rows:
        first, last, total = 2, len(rows) + 1, len(rows) + 2
        totals = [text_cell(ws, "Total", bold=True), None]
        for index, column in enumerate(columns[2:10], start=3):
            letter = get_column_letter(index)
            totals.append(formula_cell(ws, f"=SUM({letter}{first}:{letter}{last})",
                                       COUNT_FORMAT if column.kind == "count" else MONEY_FORMAT, bold=True))
        envelope, remaining = f"H{total}", f"J{total}"
        totals.append(formula_cell(ws, f'=IF({envelope}>0,({envelope}-{remaining})/{envelope},"")',
                                   PERCENT_FORMAT, bold=True))
        ws.append(totals)


def _cases_sheet(workbook, entries, minimis, answers, today: date, page_header):
    columns = [
        Column("Référence", maximum=16), Column("Entreprise", wrap=True, maximum=35), Column("SIRET"),
        Column("Commune", maximum=25), Column("Département"), Column("NAF"), Column("Taille", maximum=24),
        Column("Projet", wrap=True, maximum=45), Column("Dispositif", wrap=True, maximum=35),
        Column("Instrument", maximum=22), Column("Coût éligible", "money"),
        Column("Montant demandé", "money"), Column("Montant proposé", "money"),
        Column("Décision", maximum=26), Column("Montant accordé", "money"),
        Column("De minimis reçu sur 3 ans", "money", note=MINIMIS_NOTE),
        Column("Marge de minimis restante", "money", note=MINIMIS_HEADROOM_NOTE),
        Column("Avis des partenaires", wrap=True, maximum=60), Column("Agent chargé", maximum=30),
        *(Column(title, "money" if key == "turnover_last_year" else "count") for key, title in KEY_ANSWERS),
    ]
    rows = []
    for entry in entries:
        item, figures = entry.item, entry.figures
        company = item.line.case.company
        instrument = figures.get("instrument")
        size = figures.get("size") or company.size
        rows.append([
            figures.get("reference"), figures.get("company"), figures.get("siret"), figures.get("commune"),
            figures.get("departement"), figures.get("naf") or company.naf_code, SIZE_LABELS.get(size, size),
            figures.get("project"), figures.get("scheme"), INSTRUMENTS.get(instrument, instrument),
            figures.get("eligible_cost"), figures.get("requested"), figures.get("proposed"),
            None if item.is_pending else item.outcome_label, item.granted_amount,
            sum((aid.amount for aid in minimis.get(item.line.case.id, [])), Decimal(0)),
            _minimis_headroom(entry, _by_regime(minimis.get(item.line.case.id, []))),
            _opinions_text(entry.opinions, today),
            item.proposed_by.name if item.proposed_by is not None else None,
            *(answers[item.line_id].get(("standard", key), (None, None))[1] for key, _ in KEY_ANSWERS),
        ])
    ws = _table(workbook, CASES_SHEET, columns, rows, page_header)
    ws.sheet_view.tabSelected = True
    return ws


def _opinions_text(opinions: list[Opinion], today: date) -> str | None:
    """``AER BFC : favorable (30 000,00 €) — commentaire ; CCI : en attente, en retard``."""
    parts = []
    for opinion in opinions:
        text = f"{opinion.agency.short_name} : "
        if opinion.verdict is None:
            text += "en attente" + (", en retard" if opinion.is_overdue(today) else "")
        else:
            text += opinion.verdict_label.lower()
            if opinion.intended_amount is not None:
                text += f" ({money(opinion.intended_amount)})"
            comment = " ".join((opinion.comment or "").split())
            if comment:
                text += f" — {comment}"
        parts.append(text)
    return " ; ".join(parts) or None


def _opinions_sheet(workbook, entries, today: date, page_header) -> None:
    columns = [
        Column("Référence", maximum=16), Column("Dispositif", wrap=True, maximum=35),
        Column("Organisme consulté", wrap=True, maximum=35), Column("Avis", maximum=14),
        Column("Montant envisagé", "money"), Column("Commentaire", wrap=True, maximum=60),
        Column("Demandé le", "date"), Column("Échéance", "date"), Column("Rendu le", "date"),
        Column("En retard", maximum=10),
    ]
    rows, seen = [], set()
    for entry in entries:
        for opinion in entry.opinions:
            if opinion.id in seen:  # a line adjourned then put again on this agenda
                continue
            seen.add(opinion.id)
            rows.append([
                entry.figures.get("reference"), entry.figures.get("scheme"), opinion.agency.name,
                opinion.verdict_label or "En attente", opinion.intended_amount, opinion.comment,
                _paris_date(opinion.created_at), opinion.due_on, _paris_date(opinion.answered_at),
                "Oui" if opinion.is_overdue(today) else "Non",
            ])
    _table(workbook, OPINIONS_SHEET, columns, rows, page_header)


def _minimis_sheet(workbook, entries, minimis: dict[int, list[MinimisAid]], page_header) -> None:
    """One row per de minimis aid that counts for a dossier of the agenda, and when it drops out."""
    columns = [
        Column("Référence", maximum=16), Column("Entreprise", wrap=True, maximum=35), Column("SIREN"),
        Column("Date d'octroi", "date"), Column("Organisme", wrap=True, maximum=35),
        Column("Règlement", wrap=True, maximum=45), Column("Origine", maximum=28),
        Column("Montant (ESB)", "money"), Column("Ne compte plus à partir du", "date"),
    ]
    rows, seen = [], set()
    for entry in entries:
        case = entry.item.line.case
        if case.id in seen:
            continue
        seen.add(case.id)
        for aid in minimis.get(case.id, []):
            rows.append([
                entry.figures.get("reference"), entry.figures.get("company"), case.company.siren,
                aid.granted_on, aid.granting_body, aid.regime_label,
                "Accordée dans l'Atelier" if aid.source == "granted" else "Déclarée par le demandeur",
                aid.amount, drops_out_on(aid.granted_on),
            ])
    _table(workbook, MINIMIS_SHEET, columns, rows, page_header)


def _answers_sheet(workbook, entries, answer_columns, answers, page_header) -> None:
    """One row per agenda item, one column per question (see the module's docstring)."""
    own_schemes = {column.scheme.id for column in answer_columns if column.scheme is not None}
    columns = [Column("Référence", maximum=16), Column("Entreprise", wrap=True, maximum=35),
               Column("Dispositif", wrap=True, maximum=35)]
    rows = []
    for entry in entries:
        row = [entry.figures.get("reference"), entry.figures.get("company"), entry.figures.get("scheme")]
        cells = answers[entry.item.line_id]
        for column in answer_columns:
            worded, value = cells.get(column.ident, (column.question, None))
            row.append(cell_of(worded, value))
        rows.append(row)
    for index, column in enumerate(answer_columns):
        kinds = {row[3 + index][0] for row in rows if row[3 + index][1] is not None}
        kind = kinds.pop() if len(kinds) == 1 else "text"
        title = column.title
        if column.scheme is not None and len(own_schemes) > 1:
            title = f"{column.scheme.name} : {title}"
        note = (f"Question commune « {column.key} », posée une fois par dossier." if column.scheme is None
                else f"Question « {column.key} » du dispositif {column.scheme.name}.")
        columns.append(Column(title, kind, wrap=kind == "text", maximum=50, note=note))
        for row in rows:
            cell_kind, value = row[3 + index]
            row[3 + index] = value if cell_kind == kind or value is None else str(value)
    _table(workbook, ANSWERS_SHEET, columns, rows, page_header)


# --------------------------------------------------------------------------- writing

def _table(workbook, title: str, columns: list[Column], rows: list[list], page_header: str):
    """A sheet with its header and ``rows``, laid out and set up for print; open for more rows."""
    ws = workbook.create_sheet(title)
    widths = [max(fitted_width([_shown(column.kind, row[index]) for row in rows],
                               maximum=column.maximum),
                  min(len(column.title), 24) + 3)  # room for the filter button
              for index, column in enumerate(columns)]
    prepare_sheet(ws, widths, page_header=page_header)
    header = header_cells(ws, [column.title for column in columns])
    for cell, column in zip(header, columns):
        if column.note:
            cell.comment = Comment(column.note, "Atelier des projets", width=320, height=120)
    ws.append(header)
    for row in rows:
        ws.append([_cell(ws, column, value) for column, value in zip(columns, row)])
    set_filter(ws, len(columns), len(rows) + 1)
    return ws


def _cell(ws, column: Column, value):
    if value is None:
        return None
    if column.kind == "money":
        return money_cell(ws, value)
    if column.kind == "date":
        return date_cell(ws, value)
    if column.kind == "count":
        return count_cell(ws, value)
    if column.kind == "percent":
        return percent_cell(ws, value)
    return text_cell(ws, value, wrap=column.wrap)


def _shown(kind: str, value) -> str:
    """``value`` about as the spreadsheet shows it, to size its column."""
    if value is None:
        return ""
    if kind == "money":
        return money(value)
    if kind == "date":
        return "00/00/0000"
    if kind == "percent":
        return "100,0 %"
    return str(value)


def _sort_key(texts: tuple) -> tuple:
    """Alphabetical the French way: accents do not send « Élan » after « Zéphyr »."""
    return tuple(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
                 for text in texts)


def _paris_date(moment: datetime | None) -> date | None:
    return moment.astimezone(PARIS).date() if moment is not None else None
