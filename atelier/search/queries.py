"""The agents' search, within what they may see (``access.visible_cases``).

What is typed is read in this order:

- a case reference (``AP-2026-00042``, any case): that dossier (the unique index on ``reference``);
- 9 or 14 digits (spaces allowed): the company's SIREN or SIRET (their indexes);
- anything else: words of the project (title and description) or of the company's name.

Words on PostgreSQL: its full-text search, ``to_tsvector('atelier_fr', …) @@
plainto_tsquery('atelier_fr', …)`` over the GIN expression indexes of migration 0008 — French
stemming (« machines » finds « machine »), accents ignored (``unaccent``), every word required.
On SQLite (development, tests): every word must appear, case-insensitively for ASCII letters, in
the title, the description or the company's name (``LIKE '%word%'``: a full scan, fine for a
development database; no stemming, accents count).

Results come newest activity first (``updated_at``), filtered like the inbox (dossier state,
scheme of one of its lines), paginated by the caller.
"""
import re

from sqlalchemy import Select, and_, exists, func, literal_column, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..auth.models import User
from ..cases.access import visible_cases
from ..cases.models import Case, FundingLine
from ..companies.models import Company
from ..extensions import db

MAX_LENGTH = 200
MAX_WORDS = 12
REFERENCE = re.compile(r"AP-[0-9]{4}-[0-9]{5}", re.IGNORECASE)
CONFIG = literal_column("'atelier_fr'::regconfig")
WORD = re.compile(r"\w+", re.UNICODE)


def clean(text: str | None) -> str:
    """What was typed, without control characters (PostgreSQL refuses NUL), trimmed, bounded."""
    text = "".join(char if char.isprintable() else " " for char in (text or ""))
    return " ".join(text.split())[:MAX_LENGTH]


def _is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def case_document():
    """The indexed expression of migration 0008, character for character."""
    return func.to_tsvector(CONFIG, Case.title.op("||")(literal_column("' '")).op("||")(Case.description))


def company_document():
    return func.to_tsvector(CONFIG, Company.name)


def _escaped_like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def words_condition(text: str):
    if _is_postgresql():
        query = func.plainto_tsquery(CONFIG, text)
        # A UNION rather than an OR, so that each side uses its own GIN index.
        return Case.id.in_(
            select(Case.id).where(case_document().op("@@")(query))
            .union(select(Case.id).join(Company, Company.id == Case.company_id)
                   .where(company_document().op("@@")(query))))
    words = WORD.findall(text)[:MAX_WORDS]
    if not words:
        return literal_column("1") == literal_column("0")
    conditions = []
    for word in words:
        pattern = _escaped_like(word.lower())
        conditions.append(or_(func.lower(Case.title).like(pattern, escape="\\"),
                              func.lower(Case.description).like(pattern, escape="\\"),
                              Case.company_id.in_(select(Company.id).where(
                                  func.lower(Company.name).like(pattern, escape="\\")))))
    return and_(*conditions)


def search_condition(text: str):
    if REFERENCE.fullmatch(text):
        return Case.reference == text.upper()
    digits = text.replace(" ", "")
    if digits.isdigit() and len(digits) == 14:
        return Case.company_id.in_(select(Company.id).where(Company.siret == digits))
    if digits.isdigit() and len(digits) == 9:
        return Case.company_id.in_(select(Company.id).where(Company.siren == digits))
    return words_condition(text)


def search_cases(user: User, text: str, *, state: str | None = None, scheme_id: int | None = None) -> Select:
    """``SELECT`` of the dossiers ``user`` may see matching ``text`` (already ``clean``) and the filters."""
    query = visible_cases(user).where(Case.state != "draft")
    if text:
        query = query.where(search_condition(text))
    if state:
        query = query.where(Case.state == state)
    if scheme_id:
        query = query.where(exists().where(FundingLine.case_id == Case.id, FundingLine.scheme_id == scheme_id))
    return (query.options(joinedload(Case.lead_agency),
                          selectinload(Case.lines).joinedload(FundingLine.scheme))
            .order_by(Case.updated_at.desc(), Case.id.desc()))
