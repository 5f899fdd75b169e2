"""Aid schemes: created and corrected by the platform admin."""
import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from ..agencies.models import Agency
from ..agencies.operations import check_admin
from ..auth.models import User
from ..committees.models import Committee
from ..common import ActionRefused, parse_amount, read_date
from ..companies.operations import clean_text
from ..extensions import db
from .models import DOCUMENT_KINDS, INSTRUMENTS, REGIMES, REQUIRABLE_DOCUMENT_KINDS, Scheme
from .rules import parse_departements, parse_excluded_naf, parse_sizes

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_code(value: str | None, field: str = "code") -> str:
    code = (value or "").strip()
    if not code:
        raise ActionRefused("Le code est obligatoire.", field)
    if len(code) > 40:
        raise ActionRefused("Le code ne peut pas dépasser 40 caractères.", field)
    if not _CODE.match(code):
        raise ActionRefused("Le code ne contient que des lettres sans accent, des chiffres, des tirets et "
                            "des soulignés, par exemple « REG-INVEST ».", field)
    return code


def parse_rate_percent(value, field: str = "max_rate") -> Decimal:
    """A percentage as typed (``40``, ``40,5``, ``40 %``) → the share stored (``0.405``)."""
    if isinstance(value, Decimal):
        percent = value * 100
    else:
        raw = _SPACES.sub("", str(value or "")).removesuffix("%").replace(",", ".")
        if not raw:
            raise ActionRefused("Le taux maximal est obligatoire.", field)
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw):
            raise ActionRefused("Le taux maximal est un pourcentage, par exemple 40 ou 40,5.", field)
        percent = Decimal(raw)
    if not 0 < percent <= 100:
        raise ActionRefused("Le taux maximal est compris entre 0 (exclu) et 100 %.", field)
    if percent != percent.quantize(Decimal("0.01")):
        raise ActionRefused("Le taux maximal a au plus deux décimales, par exemple 40,25.", field)
    return (percent / 100).quantize(Decimal("0.0001"))


def parse_optional_rate(value, field: str) -> Decimal | None:
    """A maximum rate per company size: empty means the scheme's maximum rate applies."""
    if value is None or (not isinstance(value, Decimal) and not _SPACES.sub("", str(value))):
        return None
    return parse_rate_percent(value, field)


def parse_categories(values, field: str = "funded_categories") -> list[str]:
    """The expense categories a scheme funds (plans/models.py), in the plan's order; none: all."""
    from ..plans.models import EXPENSE_CATEGORIES

    chosen = set(values or [])
    if chosen - set(EXPENSE_CATEGORIES):
        raise ActionRefused("Choisissez les catégories de dépenses dans la liste proposée.", field)
    return [category for category in EXPENSE_CATEGORIES if category in chosen]


def parse_date(value, field: str, label: str, *, required: bool = True) -> date | None:
    """A date typed as ``2026-03-31`` (what date fields send) or ``31/03/2026``."""
    if isinstance(value, date):
        return value
    raw = (value or "").strip()
    if not raw:
        if required:
            raise ActionRefused(f"{label} est obligatoire.", field)
        return None
    day = read_date(raw)
    if day is None:
        raise ActionRefused(f"{label} doit être une date valide, par exemple 31/03/2026.", field)
    return day


def parse_choice(value, choices: dict, field: str, message: str) -> str:
    if value not in choices:
        raise ActionRefused(message, field)
    return value


def parse_documents(values, field: str = "required_documents") -> list[str]:
    kinds = list(dict.fromkeys(values or []))
    if any(kind not in REQUIRABLE_DOCUMENT_KINDS for kind in kinds):
        raise ActionRefused("Choisissez les pièces dans la liste proposée.", field)
    return [kind for kind in DOCUMENT_KINDS if kind in kinds]  # in the catalogue's order


def parse_positive_amount(value, field: str, label: str) -> Decimal:
    amount = parse_amount(value, field, label=label, allow_zero=True)
    if amount == 0:
        raise ActionRefused(f"{label} doit être supérieur à zéro.", field)
    return amount


def _set_fields(scheme: Scheme, *, code, name, agency: Agency | None, committee: Committee | None,
                instrument, regime, ceiling, max_rate, annual_budget, opens_on, closes_on,
                required_documents, description, eligible_sizes=None, eligible_departements=None,
                excluded_naf=None, funded_categories=None, max_rate_small=None, max_rate_medium=None,
                max_rate_large=None) -> None:
    code = parse_code(code)
    others = select(Scheme.id).where(Scheme.code == code)
    if scheme.id:
        others = others.where(Scheme.id != scheme.id)
    if db.session.scalar(others) is not None:
        raise ActionRefused("Un autre dispositif porte déjà ce code.", "code")
    if agency is None:
        raise ActionRefused("Choisissez l'organisme qui gère le dispositif.", "agency_id")
    if committee is None:
        raise ActionRefused("Choisissez le comité qui décide des demandes.", "committee_id")
    if committee.agency_id != agency.id:
        raise ActionRefused(f"Ce comité appartient à un autre organisme : choisissez un comité de "
                            f"{agency.name}.", "committee_id")
    if scheme.id and scheme.agency_id != agency.id and _has_lines(scheme):
        raise ActionRefused("Des demandes de financement portent déjà sur ce dispositif : il ne peut plus "
                            "changer d'organisme. Créez plutôt un nouveau dispositif.", "agency_id")
    opens = parse_date(opens_on, "opens_on", "La date d'ouverture")
    closes = parse_date(closes_on, "closes_on", "La date de clôture", required=False)
    if closes is not None and closes < opens:
        raise ActionRefused("La date de clôture ne peut pas précéder la date d'ouverture.", "closes_on")
    budget = None
    if annual_budget not in (None, "") and str(annual_budget).strip():
        budget = parse_amount(annual_budget, "annual_budget", label="L'enveloppe annuelle", allow_zero=True)
    scheme.code = code
    scheme.name = clean_text(name, "name", "Le nom", 200)
    scheme.agency = agency
    scheme.committee = committee
    scheme.instrument = parse_choice(instrument, INSTRUMENTS, "instrument", "Choisissez un type d'aide.")
    scheme.regime = parse_choice(regime, REGIMES, "regime", "Choisissez un régime d'aide d'État.")
    scheme.ceiling = parse_positive_amount(ceiling, "ceiling", "Le plafond")
    scheme.max_rate = parse_rate_percent(max_rate)
    scheme.annual_budget = budget
    scheme.opens_on = opens
    scheme.closes_on = closes
    scheme.required_documents = parse_documents(required_documents)
    scheme.description = (description or "").strip()
    # Eligibility rules: None leaves them as they are, an empty list lifts the restriction.
    if eligible_sizes is not None:
        scheme.eligible_sizes = parse_sizes(eligible_sizes)
    if eligible_departements is not None:
        scheme.eligible_departements = parse_departements(eligible_departements)
    if excluded_naf is not None:
        scheme.excluded_naf = parse_excluded_naf(excluded_naf)
    # The financing plan's rules: None leaves the categories as they are; an empty rate per size
    # falls back to the scheme's maximum rate.
    if funded_categories is not None:
        scheme.funded_categories = parse_categories(funded_categories)
    for size, rate in (("small", max_rate_small), ("medium", max_rate_medium), ("large", max_rate_large)):
        setattr(scheme, f"max_rate_{size}", parse_optional_rate(rate, f"max_rate_{size}"))


def _has_lines(scheme: Scheme) -> bool:
    from ..cases.models import FundingLine

    return db.session.scalar(select(FundingLine.id).where(FundingLine.scheme_id == scheme.id).limit(1)) \
        is not None


def create_scheme(actor: User, **fields) -> Scheme:
    check_admin(actor)
    scheme = Scheme()
    _set_fields(scheme, **fields)
    db.session.add(scheme)
    db.session.flush()
    return scheme


def update_scheme(actor: User, scheme: Scheme, **fields) -> Scheme:
    check_admin(actor)
    _set_fields(scheme, **fields)
    db.session.flush()
    return scheme


def create_draft_with_schemes(actor: User, company, *, title: str, eligible_cost: Decimal,
                              starts_on: date, scheme_ids):
    """« Créer un brouillon avec ces dispositifs »: a draft for ``company`` and one funding line per
    chosen scheme, asking the most it can give. A scheme the project cannot ask is refused, and
    nothing is created (the caller commits once)."""
    from ..cases import operations as case_operations
    from .rules import eligibility

    chosen = list(dict.fromkeys(scheme_ids or []))
    if not chosen:
        raise ActionRefused("Choisissez au moins un dispositif à solliciter.", "schemes")
    eligible, excluded = eligibility(company, eligible_cost, starts_on)
    maximum = {scheme.id: (scheme, amount) for scheme, amount in eligible}
    names = {scheme.id: scheme.name for scheme, _ in excluded}
    refused = [scheme_id for scheme_id in chosen if scheme_id not in maximum]
    if refused:
        known = [f"« {names[scheme_id]} »" for scheme_id in refused if scheme_id in names]
        if known:
            raise ActionRefused(f"Ce projet ne peut pas solliciter {', '.join(known)} : choisissez "
                                "parmi les dispositifs que vous pouvez solliciter.", "schemes")
        raise ActionRefused("Choisissez les dispositifs dans la liste proposée.", "schemes")
    case = case_operations.create_case(actor, company, title=title, starts_on=starts_on,
                                       eligible_cost=eligible_cost)
    for scheme_id in chosen:
        scheme, amount = maximum[scheme_id]
        case_operations.add_line(actor, case, scheme=scheme, requested_amount=amount)
    return case
