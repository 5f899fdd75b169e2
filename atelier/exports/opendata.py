"""The grants an agency awarded in a year, as open data: SCDL « Subventions » version 2.1.1.

Schema published by OpenDataFrance and referenced on schema.data.gouv.fr
(https://schema.data.gouv.fr/scdl/subventions/2.1.1/,
source https://gitlab.com/opendatafrance/scdl/subventions);
the file format follows the national rules for this dataset (Etalab, « format réglementaire des
données essentielles des conventions de subvention », https://github.com/etalab/format-subventions):
UTF-8, **comma** between fields, decimal **point**, one row per beneficiary. OpenDataFrance's guide
« Produire un fichier CSV de qualité » adds CRLF line ends and a header row. No BOM: the file is
meant for machines (validators, aggregators), not for double-clicking in Excel.

Which lines: those the agency holds, of a ``grant`` scheme, in ``approved``, ``agreement_signed``
or ``settled``, whose decision (``decided_at``) falls in the year in Europe/Paris. How each of the
16 columns is filled is documented in docs/exports.md.
"""
import csv
import io
import tempfile
from datetime import date, datetime
from typing import BinaryIO, Iterator

from sqlalchemy import func, select
from stdnum.fr import siret as siret_number

from ..agencies.models import Agency
from ..cases.models import Case, CaseAgency, FundingLine, Payment
from ..common import ActionRefused
from ..companies.models import Company
from ..extensions import db
from ..formatting import PARIS
from ..schemes.models import Scheme
from ..workflow import LINE_GRANTED_STATES
from .portfolio import CHUNK_SIZE, inert_csv_text, paris_day_start

SCHEMA_NAME = "scdl/subventions"
SCHEMA_VERSION = "2.1.1"
# The 16 fields of SCDL Subventions 2.1.1, in the schema's order. THE CONTRACT — docs/exports.md.
FIELDS = [
    "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire",
    "idBeneficiaire", "rnaBeneficiaire", "objet", "montant", "nature", "conditionsVersement",
    "datesPeriodeVersement", "idRAE", "notificationUE", "pourcentageSubvention", "dispositifAide",
]
OBJET_MAX_LENGTH = 255  # the schema: at most 256 characters ("moins de 256 caractères"); one to spare
NATURE = "aide en numéraire"  # a grant is paid in money
SINGLE_BENEFICIARY = "1.00"
CSV_MIMETYPE = "text/csv; charset=utf-8"
MIN_YEAR, MAX_YEAR = 2000, 2100


def parse_year(value) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not (MIN_YEAR <= int(text) <= MAX_YEAR):
        raise ActionRefused(f"Indiquez une année sur quatre chiffres, entre {MIN_YEAR} et {MAX_YEAR}.",
                            "year")
    return int(text)


def attributing_siret(agency: Agency) -> str:
    """The agency's SIRET (``idAttribuant``), or a French refusal saying where to enter it."""
    value = (agency.siret or "").strip()
    if not value:
        raise ActionRefused(
            f"L'organisme « {agency.name} » n'a pas de numéro SIRET : un administrateur doit le "
            f"renseigner dans la fiche de l'organisme avant de publier ses subventions (SCDL).")
    if not siret_number.is_valid(value):
        raise ActionRefused(
            f"Le numéro SIRET de l'organisme « {agency.name} » ({value}) n'est pas valide : un "
            f"administrateur doit le corriger dans la fiche de l'organisme.")
    return value


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return paris_day_start(date(year, 1, 1)), paris_day_start(date(year + 1, 1, 1))


def opendata_query(agency_id: int, year: int):
    """ONE ``SELECT``: the agency's grants decided in ``year``, with their payments summed up."""
    start, end = _year_bounds(year)
    payments = (select(Payment.line_id, func.count(Payment.id).label("count"),
                       func.min(Payment.paid_on).label("first"), func.max(Payment.paid_on).label("last"))
                .group_by(Payment.line_id).subquery())
    visible = select(CaseAgency.case_id).where(CaseAgency.agency_id == agency_id)
    return (
        select(FundingLine.id, Case.reference, Company.name, Company.siret, Case.title, Case.ends_on,
               FundingLine.granted_amount, FundingLine.state, FundingLine.decided_at,
               FundingLine.agreement_signed_on, FundingLine.settled_at, Scheme.code, Scheme.regime,
               payments.c.count, payments.c.first, payments.c.last)
        .select_from(FundingLine)
        .join(Case, Case.id == FundingLine.case_id)
        .join(Company, Company.id == Case.company_id)
        .join(Scheme, Scheme.id == FundingLine.scheme_id)
        .outerjoin(payments, payments.c.line_id == FundingLine.id)
        .where(FundingLine.agency_id == agency_id, Scheme.instrument == "grant",
               FundingLine.state.in_(sorted(LINE_GRANTED_STATES)),
               FundingLine.decided_at >= start, FundingLine.decided_at < end,
               FundingLine.case_id.in_(visible))
        .order_by(FundingLine.decided_at, FundingLine.id)
    )


def opendata_rows(agency: Agency, year: int) -> Iterator[list[str]]:
    """The rows, as the texts written in the file, in ``FIELDS`` order."""
    agency_siret = attributing_siret(agency)
    agency_name = inert_csv_text(agency.name)
    result = db.session.execute(opendata_query(agency.id, year), execution_options={"yield_per": CHUNK_SIZE})
    try:
        for (line_id, reference, company, company_siret, title, ends_on, granted, state, decided_at,
             signed_on, settled_at, scheme_code, regime, payment_count, first_paid, last_paid) in result:
            decided_on = decided_at.astimezone(PARIS).date()
            convention_on = signed_on or decided_on
            conditions, dates = _payment_terms(convention_on, state, settled_at, ends_on,
                                               payment_count or 0, first_paid, last_paid)
            yield [
                agency_name,
                agency_siret,
                convention_on.isoformat(),
                f"{reference}-{line_id}",
                inert_csv_text(company),
                company_siret,
                "",
                _objet(title),
                f"{granted:.2f}",
                NATURE,
                conditions,
                dates,
                "",
                "oui" if regime.startswith("de_minimis") else "non",
                SINGLE_BENEFICIARY,
                inert_csv_text(scheme_code),
            ]
    finally:
        result.close()


def _objet(title: str) -> str:
    text = inert_csv_text(" ".join((title or "").split()))
    if len(text) > OBJET_MAX_LENGTH:
        text = text[:OBJET_MAX_LENGTH - 1].rstrip() + "…"
    return text


def _payment_terms(convention_on: date, state: str, settled_at: datetime | None, ends_on: date | None,
                   count: int, first_paid: date | None, last_paid: date | None) -> tuple[str, str]:
    """``conditionsVersement`` and ``datesPeriodeVersement``.

    A settled grant paid in one instalment: ``unique`` and the date of that payment. Anything else
    is ``échelonné`` with a period ``start/end``: from the first payment (or the convention, when
    nothing is paid yet) to the last payment of a settled grant (its settlement date when nothing
    was paid), or, while payments go on, to the end of the project (31 December of the following
    year when the project has no end date) — never before the start.
    """
    if state == "settled" and count == 1:
        return "unique", first_paid.isoformat()
    start = first_paid or convention_on
    if state == "settled":
        end = last_paid or settled_at.astimezone(PARIS).date()
    else:
        end = ends_on or date(start.year + 1, 12, 31)
        if last_paid and last_paid > end:
            end = last_paid
    end = max(end, start)
    return "échelonné", f"{start.isoformat()}/{end.isoformat()}"


def write_opendata_csv(rows, target: BinaryIO) -> None:
    text = io.TextIOWrapper(target, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text, delimiter=",", lineterminator="\r\n")
        writer.writerow(FIELDS)
        for row in rows:
            writer.writerow(row)
        text.flush()
    finally:
        text.detach()


def write_opendata(agency: Agency, year: int, target) -> None:
    """Write the SCDL file of ``agency`` for ``year`` into a binary file or a path.

    The agency's SIRET is checked before anything is written (a refusal leaves no file behind)."""
    attributing_siret(agency)
    rows = opendata_rows(agency, year)
    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        with open(target, "wb") as handle:
            write_opendata_csv(rows, handle)
    else:
        write_opendata_csv(rows, target)


def opendata_file(agency: Agency, year: int) -> BinaryIO:
    attributing_siret(agency)
    handle = tempfile.TemporaryFile()
    try:
        write_opendata(agency, year, handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def opendata_filename(agency: Agency, year: int) -> str:
    return f"subventions-{agency.slug}-{year}.csv"
