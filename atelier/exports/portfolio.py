"""The portfolio of an agency: every funding line it holds or held, as a workbook or a CSV file.

Which lines (the rule, also in docs/exports.md):

- lines whose ``agency_id`` is the agency (it holds them now), and
- lines it handed over to a partner: a line ``transfer`` is fired by an agent of the agency that
  holds the line, so its ``Event`` row (entity ``line``, name ``transfer``) carries that agency in
  ``Event.agency_id``. The event log is append-only, so a line once held stays in the portfolio;
- always restricted to dossiers the agency may see (a ``CaseAgency`` row, the scope of the pages):
  the lines of a draft dossier, which no agency sees yet, are never exported.

Filters: line state, scheme (code), committee (slug: the committee of the line's scheme) and
period — the date the dossier was submitted (Europe/Paris), bounds included. The submission date
is the one every line of a portfolio has; a decision date exists only for decided lines.

The rows come from ONE statement selecting plain columns (no ORM objects, no lazy loads), read in
chunks (``yield_per``) and written straight into a write-only workbook or a CSV writer; the file
is a temporary file, so memory stays flat whatever the number of lines.

The columns, their order and their French headers are a contract documented in docs/exports.md
(a test compares them): add a column at the end, never rename, move or drop one.

Filtered by one scheme, the export adds after those fixed columns one column per question of that
scheme's latest questionnaire version (in questionnaire order, headed by its latest wording): the
answers of the dossiers (a standard question's is the dossier's) come from a second statement, in
the same order as the lines and read in chunks alongside them, and the versions from a third.
"""
from itertools import groupby
import csv
import io
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import BinaryIO, Iterable, Iterator

from openpyxl import Workbook
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from ..agencies.models import Agency
from ..auth.models import User
from ..cases.models import Case, CaseAgency, Event, FundingLine, Payment
from ..common import ActionRefused, read_date
from ..committees.models import Committee
from ..companies.models import Company
from ..extensions import db
from ..formatting import PARIS
from ..questionnaires.models import Answer
from ..questionnaires.tables import answer_cells, scheme_versions
from ..schemes.models import INSTRUMENTS, Scheme
from ..workflow import LINE_STATES
from .cells import (FORMULA_PREFIXES, clean_text, date_cell, header_cells, money_cell, percent_cell,
                    prepare_sheet, set_filter, text_cell)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
FORMATS = ("xlsx", "csv")
SHEET_TITLE = "Portefeuille"
CHUNK_SIZE = 1000  # rows fetched per round trip (yield_per)
CSV_DELIMITER = ";"
CSV_LINE_END = "\r\n"
BOM = "\ufeff"

# (header, kind, width). kind: text, int, money, date. THE CONTRACT — see docs/exports.md.
COLUMNS: list[tuple[str, str, int]] = [
    ("Référence du dossier", "text", 15),
    ("N° de demande", "int", 10),
    ("Entreprise", "text", 30),
    ("SIRET", "text", 16),
    ("Commune", "text", 18),
    ("Département", "text", 8),
    ("Code NAF", "text", 9),
    ("Projet", "text", 40),
    ("Dispositif", "text", 30),
    ("Code du dispositif", "text", 16),
    ("Instrument", "text", 18),
    ("Comité", "text", 26),
    ("Organisme instructeur", "text", 16),
    ("Transférée à un partenaire", "text", 12),
    ("État", "text", 18),
    ("Déposé le", "date", 12),
    ("Décidé le", "date", 12),
    ("Convention signée le", "date", 12),
    ("Coût éligible", "money", 15),
    ("Montant demandé", "money", 15),
    ("Montant proposé", "money", 15),
    ("Montant accordé", "money", 15),
    ("Montant versé", "money", 15),
    ("Reste à verser", "money", 15),
    ("Reliquat libéré", "money", 15),
    ("Agent chargé", "text", 22),
]
HEADERS = [header for header, _, _ in COLUMNS]
KINDS = [kind for _, kind, _ in COLUMNS]
QUESTION_WIDTH = 30

_RISKY_STARTS = (*FORMULA_PREFIXES, "#")  # "#": openpyxl reads "#N/A", "#REF!"… as error values
_STILL_PAYING = frozenset({"approved", "agreement_signed"})


# --------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class PortfolioFilters:
    """What the person asked for, checked: every value known, the period in order."""

    state: str | None = None
    scheme: Scheme | None = None
    committee: Committee | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None


def parse_date(value, field: str, label: str) -> date | None:
    """``2025-03-31`` or ``31/03/2025``; empty is no bound."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        return None
    day = read_date(text)
    if day is not None:
        return day
    raise ActionRefused(f"{label} n'est pas une date valide : écrivez-la AAAA-MM-JJ ou JJ/MM/AAAA "
                        f"(par exemple 2025-03-31).", field)


def parse_filters(*, state=None, scheme=None, committee=None, submitted_from=None,
                  submitted_to=None) -> PortfolioFilters:
    """Filters from text (a form or the command line), or a French refusal naming the field."""
    state = (state or "").strip() or None
    if state is not None and state not in LINE_STATES:
        known = ", ".join(f"{key} ({label})" for key, label in LINE_STATES.items())
        raise ActionRefused(f"État inconnu : « {clean_text(state)} ». États possibles : {known}.",
                            "state")
    scheme_obj = None
    code = (scheme or "").strip()
    if code:
        scheme_obj = db.session.scalar(select(Scheme).where(Scheme.code == code))
        if scheme_obj is None:
            raise ActionRefused(f"Dispositif inconnu : « {clean_text(code)} ».", "scheme")
    committee_obj = None
    slug = (committee or "").strip()
    if slug:
        committee_obj = db.session.scalar(select(Committee).where(Committee.slug == slug))
        if committee_obj is None:
            raise ActionRefused(f"Comité inconnu : « {clean_text(slug)} ».", "committee")
    start = parse_date(submitted_from, "from", "La date de début")
    end = parse_date(submitted_to, "to", "La date de fin")
    if start and end and start > end:
        raise ActionRefused("La date de début doit précéder la date de fin.", "from")
    return PortfolioFilters(state=state, scheme=scheme_obj, committee=committee_obj,
                            submitted_from=start, submitted_to=end)


def agency_by_slug(slug: str | None) -> Agency:
    agency = db.session.scalar(select(Agency).where(Agency.slug == (slug or "").strip()))
    if agency is None:
        raise ActionRefused(f"Organisme inconnu : « {clean_text(slug)} » (indiquez son identifiant, "
                            f"par exemple region-bfc).", "agency")
    return agency


def scheme_and_committee_choices() -> tuple[list[Scheme], list[Committee]]:
    """Every scheme (grouped by agency) and every committee that decides one, for the filters, in
    ONE statement: a portfolio holds lines of partners' schemes too (lines handed over)."""
    schemes = list(db.session.scalars(
        select(Scheme).options(joinedload(Scheme.agency), joinedload(Scheme.committee))
        .order_by(Scheme.agency_id, Scheme.name)))
    committees = {scheme.committee.id: scheme.committee for scheme in schemes}
    return schemes, sorted(committees.values(), key=lambda committee: (committee.agency_id, committee.name))


def paris_day_start(day: date) -> datetime:
    """The first instant of ``day`` in Europe/Paris (aware), to compare with UTC timestamps."""
    return datetime.combine(day, time.min, tzinfo=PARIS)


# --------------------------------------------------------------------------- the query

def portfolio_query(agency_id: int, filters: PortfolioFilters = PortfolioFilters()) -> Select:
    """ONE ``SELECT`` of plain columns: the agency's lines, held now or before, filtered."""
    holder = aliased(Agency)
    paid = (select(Payment.line_id, func.sum(Payment.amount).label("paid"))
            .group_by(Payment.line_id).subquery())
    handed_over = select(Event.line_id).where(Event.entity == "line", Event.name == "transfer",
                                              Event.agency_id == agency_id)
    visible = select(CaseAgency.case_id).where(CaseAgency.agency_id == agency_id)
    query = (
        select(Case.reference, FundingLine.id, Company.name, Company.siret, Company.commune,
               Company.departement, Company.naf_code, Case.title, Scheme.name, Scheme.code,
               Scheme.instrument, Committee.name, holder.short_name, FundingLine.agency_id,
               FundingLine.state, Case.submitted_at, FundingLine.decided_at,
               FundingLine.agreement_signed_on, Case.eligible_cost, FundingLine.requested_amount,
               FundingLine.proposed_amount, FundingLine.granted_amount,
               paid.c.paid, FundingLine.released_amount, User.name)
        .select_from(FundingLine)
        .join(Case, Case.id == FundingLine.case_id)
        .join(Company, Company.id == Case.company_id)
        .join(Scheme, Scheme.id == FundingLine.scheme_id)
        .join(Committee, Committee.id == Scheme.committee_id)
        .join(holder, holder.id == FundingLine.agency_id)
        .outerjoin(paid, paid.c.line_id == FundingLine.id)
        .outerjoin(User, User.id == FundingLine.assigned_agent_id)
        .where(or_(FundingLine.agency_id == agency_id, FundingLine.id.in_(handed_over)),
               FundingLine.case_id.in_(visible))
        .order_by(Case.reference, FundingLine.position, FundingLine.id)
    )
    if filters.state:
        query = query.where(FundingLine.state == filters.state)
    if filters.scheme is not None:
        query = query.where(FundingLine.scheme_id == filters.scheme.id)
    if filters.committee is not None:
        query = query.where(Scheme.committee_id == filters.committee.id)
    if filters.submitted_from:
        query = query.where(Case.submitted_at >= paris_day_start(filters.submitted_from))
    if filters.submitted_to:
        query = query.where(Case.submitted_at < paris_day_start(filters.submitted_to + timedelta(days=1)))
    return query


def question_columns(filters: PortfolioFilters) -> tuple[list[dict], dict]:
    """The questions that follow the fixed columns (the latest version's of the filtered scheme;
    none without a scheme filter) and that scheme's versions by id."""
    if filters.scheme is None:
        return [], {}
    versions = scheme_versions(filters.scheme)
    return (list(versions[-1].questions()) if versions else []), {version.id: version for version in versions}


def _answers_by_reference(agency_id: int, filters: PortfolioFilters) -> Iterator[tuple[str, dict]]:
    """``(reference, {(line id or None, key): (version id, value)})`` per dossier of the export, in
    the order of its rows: one statement, fetched in chunks."""
    lines = portfolio_query(agency_id, filters).order_by(None)
    query = (select(Case.reference, Answer.line_id, Answer.question_key, Answer.version_id, Answer.value)
             .join(Case, Case.id == Answer.case_id)
             .where(Answer.case_id.in_(lines.with_only_columns(FundingLine.case_id)),
                    or_(Answer.line_id.is_(None),
                        Answer.line_id.in_(lines.with_only_columns(FundingLine.id))))
             .order_by(Case.reference, Answer.id))
    result = db.session.execute(query, execution_options={"yield_per": CHUNK_SIZE})
    try:
        for reference, answers in groupby(result, key=lambda answer: answer[0]):
            yield reference, {(line_id, key): (version_id, value)
                              for _, line_id, key, version_id, value in answers}
    finally:
        result.close()


def portfolio_rows(agency_id: int, filters: PortfolioFilters = PortfolioFilters(),
                   questions: tuple[list[dict], dict] = ([], {})) -> Iterator[list]:
    """The rows of the export as Python values (str, int, Decimal, date, None), in column order,
    then, for ``questions`` (``question_columns``), one ``(kind, value)`` cell per question.

    One statement, fetched ``CHUNK_SIZE`` rows at a time (and one for the answers, alongside).
    """
    asked, versions = questions
    answers = _answers_by_reference(agency_id, filters) if asked else iter(())
    pending = next(answers, None)
    result = db.session.execute(portfolio_query(agency_id, filters),
                                execution_options={"yield_per": CHUNK_SIZE})
    try:
        for (reference, line_id, company, siret, commune, departement, naf, title, scheme_name, scheme_code,
             instrument, committee, holder, holder_id, state, submitted_at, decided_at, signed_on,
             eligible, requested, proposed, granted, paid, released, agent) in result:
            if granted is not None:
                paid = paid or Decimal("0.00")
                remaining = granted - paid if state in _STILL_PAYING else Decimal("0.00")
            else:
                remaining = None
            while pending is not None and pending[0] < reference:  # AP-YYYY-NNNNN: sorted alike everywhere
                pending = next(answers, None)
            yield [
                reference, line_id, company, siret, commune, departement, naf, title, scheme_name,
                scheme_code, INSTRUMENTS.get(instrument, instrument), committee, holder,
                "non" if holder_id == agency_id else "oui", LINE_STATES.get(state, state),
                _paris_date(submitted_at), _paris_date(decided_at), signed_on,
                eligible, requested, proposed, granted, paid, remaining, released, agent,
                *(_question_cells(asked, versions, pending, reference, line_id) if asked else ()),
            ]
    finally:
        result.close()  # also when the writer stops early (an error, a closed download)
        if hasattr(answers, "close"):
            answers.close()


def _question_cells(asked, versions, pending, reference: str, line_id: int) -> list:
    return answer_cells(asked, versions, pending[1] if pending and pending[0] == reference else {}, line_id)


def _paris_date(moment: datetime | None) -> date | None:
    return None if moment is None else moment.astimezone(PARIS).date()


# --------------------------------------------------------------------------- writers

def write_portfolio_xlsx(rows: Iterable[list], target, questions: list[dict] = ()) -> None:
    """A write-only workbook (one sheet, bold frozen header, filters) saved to ``target``; after the
    fixed columns, one per question (its cells ``(kind, value)``)."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(SHEET_TITLE)
    prepare_sheet(ws, [width for _, _, width in COLUMNS] + [QUESTION_WIDTH] * len(questions))
    ws.append(header_cells(ws, HEADERS + [question["label"] for question in questions]))
    makers = [_CELL_MAKERS[kind] for kind in KINDS]
    fixed = len(makers)
    last_row = 1
    for row in rows:
        cells = [None if value is None else make(ws, value) for make, value in zip(makers, row)]
        cells += [None if value is None else _ANSWER_CELL_MAKERS[kind](ws, value)
                  for kind, value in row[fixed:]]
        ws.append(cells)
        last_row += 1
    set_filter(ws, len(COLUMNS) + len(questions), last_row)
    workbook.save(target)


def _text(ws, value):
    """Inert text. A styled cell costs openpyxl a failed conversion per cell (it first tries the cell
    as a value), so a text that cannot become anything else goes as a plain ``str``: openpyxl stores
    it with the same text type ``s``. A risky start (``=`` would become a formula, ``#N/A`` an error
    value, ``+``, ``-``, ``@``… a formula once edited) goes through ``text_cell`` (explicit text
    type, quote prefix)."""
    text = clean_text(value)
    if not text:
        return None
    if text.startswith(_RISKY_STARTS):
        return text_cell(ws, text)
    return text


def _number(ws, value):
    return value


_CELL_MAKERS = {"text": _text, "int": _number, "money": money_cell, "date": date_cell}
_ANSWER_CELL_MAKERS = {"text": _text, "count": _number, "money": money_cell, "date": date_cell,
                       "percent": percent_cell}


def inert_csv_text(value) -> str:
    """Text for a CSV cell that no spreadsheet will run: control characters removed, and a leading
    single quote before ``=``, ``+``, ``-``, ``@``, tab, CR or LF (OWASP "CSV injection")."""
    text = clean_text(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_amount(value: Decimal | None) -> str:
    """``12345,67``: decimal comma and no thousands separator, a number for French Excel."""
    if value is None:
        return ""
    return f"{value:.2f}".replace(".", ",")


def csv_date(value: date | None) -> str:
    """ISO 8601 (``2025-03-31``): unambiguous, and French Excel reads it as a date."""
    return "" if value is None else value.isoformat()


def _csv_int(value) -> str:
    return "" if value is None else str(value)


_CSV_MAKERS = {"text": inert_csv_text, "int": _csv_int, "money": csv_amount, "date": csv_date}
# a percentage as the number of percent (« 12,50 » for 12,5 %), like an amount
_ANSWER_CSV_MAKERS = {"text": inert_csv_text, "count": _csv_int, "money": csv_amount, "date": csv_date,
                      "percent": lambda share: csv_amount(None if share is None else share * 100)}


def write_portfolio_csv(rows: Iterable[list], target: BinaryIO, questions: list[dict] = ()) -> None:
    """UTF-8 with a BOM, ``;`` between fields, CRLF line ends: what French Excel opens right."""
    text = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=False)
    try:
        text.write(BOM)
        writer = csv.writer(text, delimiter=CSV_DELIMITER, lineterminator=CSV_LINE_END)
        writer.writerow(HEADERS + [inert_csv_text(question["label"]) for question in questions])
        makers = [_CSV_MAKERS[kind] for kind in KINDS]
        fixed = len(makers)
        for row in rows:
            writer.writerow([make(value) for make, value in zip(makers, row)]
                            + [_ANSWER_CSV_MAKERS[kind](value) for kind, value in row[fixed:]])
        text.flush()
    finally:
        text.detach()


def write_portfolio(agency: Agency, filters: PortfolioFilters, fmt: str, target) -> None:
    """Write the portfolio of ``agency`` as ``fmt`` (xlsx or csv) into a binary file or a path."""
    if fmt not in FORMATS:
        raise ActionRefused("Format inconnu : choisissez xlsx (Excel) ou csv.", "format")
    questions = question_columns(filters)
    rows = portfolio_rows(agency.id, filters, questions)
    if fmt == "xlsx":
        write_portfolio_xlsx(rows, target, questions[0])
        return
    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        with open(target, "wb") as handle:
            write_portfolio_csv(rows, handle, questions[0])
    else:
        write_portfolio_csv(rows, target, questions[0])


def portfolio_file(agency: Agency, filters: PortfolioFilters, fmt: str) -> BinaryIO:
    """The export in an anonymous temporary file, rewound (deleted when closed)."""
    handle = tempfile.TemporaryFile()
    try:
        write_portfolio(agency, filters, fmt, handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def portfolio_filename(agency: Agency, fmt: str, today: date) -> str:
    return f"portefeuille-{agency.slug}-{today.isoformat()}.{fmt}"


def format_from_path(path: str) -> str:
    match = re.search(r"\.([A-Za-z]+)$", str(path))
    fmt = match.group(1).lower() if match else ""
    if fmt not in FORMATS:
        raise ActionRefused("Le nom du fichier doit finir par .xlsx (Excel) ou .csv.", "output")
    return fmt
