"""Partner agencies: created and corrected by the platform admin."""
import re

from sqlalchemy import func, select

from ..auth.models import User
from ..auth.operations import normalise_email
from ..common import ActionRefused
from ..companies.operations import clean_text, parse_siret
from ..extensions import db
from .models import AGENCY_KINDS, Agency

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def parse_slug(value: str | None, field: str = "slug", max_length: int = 60) -> str:
    """A web identifier: lowercase letters without accents, digits and single hyphens."""
    slug = (value or "").strip()
    if not slug:
        raise ActionRefused("L'identifiant est obligatoire.", field)
    if len(slug) > max_length:
        raise ActionRefused(f"L'identifiant ne peut pas dépasser {max_length} caractères.", field)
    if not _SLUG.match(slug):
        raise ActionRefused("L'identifiant ne contient que des lettres minuscules sans accent, des chiffres "
                            "et des tirets, par exemple « region-bfc ».", field)
    return slug


def parse_kind(value: str | None, field: str = "kind") -> str:
    if value not in AGENCY_KINDS:
        raise ActionRefused("Choisissez un type d'organisme dans la liste.", field)
    return value


def parse_optional_siret(value: str | None, field: str = "siret") -> str | None:
    return parse_siret(value, field) if (value or "").strip() else None


def parse_optional_email(value: str | None, field: str = "email") -> str | None:
    if not (value or "").strip():
        return None
    try:
        return normalise_email(value)
    except ActionRefused as refused:
        raise ActionRefused(refused.message, field) from None


def check_admin(actor: User) -> None:
    if not actor.is_admin:
        raise ActionRefused("Seul un administrateur de la plateforme peut faire cela.")


def _set_fields(agency: Agency, *, name, short_name, slug, kind, siret=None, email=None) -> None:
    name = clean_text(name, "name", "Le nom", 200)
    slug = parse_slug(slug)
    others = select(Agency.id).where(Agency.id != agency.id) if agency.id else select(Agency.id)
    if db.session.scalar(others.where(func.lower(Agency.name) == name.lower())) is not None:
        raise ActionRefused("Un organisme porte déjà ce nom.", "name")
    if db.session.scalar(others.where(Agency.slug == slug)) is not None:
        raise ActionRefused("Cet identifiant est déjà pris par un autre organisme.", "slug")
    agency.name = name
    agency.short_name = clean_text(short_name, "short_name", "Le nom court", 60)
    agency.slug = slug
    agency.kind = parse_kind(kind)
    agency.siret = parse_optional_siret(siret)
    agency.email = parse_optional_email(email)


def create_agency(actor: User, **fields) -> Agency:
    check_admin(actor)
    agency = Agency()
    _set_fields(agency, **fields)
    db.session.add(agency)
    db.session.flush()
    return agency


def update_agency(actor: User, agency: Agency, **fields) -> Agency:
    check_admin(actor)
    _set_fields(agency, **fields)
    db.session.flush()
    return agency
