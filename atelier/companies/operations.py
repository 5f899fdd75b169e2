"""Companies: the field rules (SIRET, NAF, amounts, postcode, département) and declaring / editing one.

Each ``parse_*`` turns what a person typed into the stored value, or raises an ``ActionRefused``
beside its field; the forms call them to show every error at once, and the operations call them
again so that no path (CLI, tests, another view) can store an invalid company.
"""
import re

from sqlalchemy import select
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.fr import siret as stdnum_siret

from ..auth.models import User
from ..common import ActionRefused, parse_amount
from ..extensions import db
from .models import Company

LEGAL_FORMS = {
    "EI": "Entreprise individuelle (dont micro-entreprise)",
    "EURL": "EURL — entreprise unipersonnelle à responsabilité limitée",
    "SARL": "SARL — société à responsabilité limitée",
    "SAS": "SAS — société par actions simplifiée",
    "SASU": "SASU — société par actions simplifiée unipersonnelle",
    "SA": "SA — société anonyme",
    "SNC": "SNC — société en nom collectif",
    "SCOP": "SCOP — société coopérative de production",
    "SCIC": "SCIC — société coopérative d'intérêt collectif",
    "SCI": "SCI — société civile immobilière",
    "SCEA": "SCEA — société civile d'exploitation agricole",
    "GAEC": "GAEC — groupement agricole d'exploitation en commun",
    "EARL": "EARL — exploitation agricole à responsabilité limitée",
    "ASSOCIATION": "Association",
    "AUTRE": "Autre forme juridique",
}

# Départements of metropolitan France (two characters) and overseas (three digits).
DEPARTEMENTS = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
    + ["971", "972", "973", "974", "975", "976", "977", "978", "986", "987", "988"]
)
# ASCII digits only: ``\d`` would take other scripts' digits (Arabic-Indic ٢١٠٠٠) and store them.
_NAF = re.compile(r"^([0-9]{2})\.?([0-9]{2})([A-Z])$")
_POSTCODE = re.compile(r"^[0-9]{5}$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_siret(value: str | None, field: str = "siret") -> str:
    """The 14 digits of a valid SIRET (Luhn, or La Poste's digit sum), spaces and dots allowed."""
    raw = _SPACES.sub("", value or "")
    if not raw:
        raise ActionRefused("Le numéro SIRET est obligatoire.", field)
    try:
        return stdnum_siret.validate(raw)
    except InvalidLength:  # (a subclass of InvalidFormat: caught first)
        digits = len(stdnum_siret.compact(raw))
        raise ActionRefused(f"Le numéro SIRET compte 14 chiffres ; vous en avez saisi {digits}.",
                            field) from None
    except InvalidFormat:
        raise ActionRefused("Le numéro SIRET ne doit contenir que des chiffres (14 chiffres).", field) from None
    except (InvalidChecksum, ValidationError):
        raise ActionRefused(
            "Ce numéro SIRET n'existe pas : sa clé de contrôle est fausse. Vérifiez-le sur votre "
            "extrait Kbis ou votre avis de situation au répertoire SIRENE.", field) from None


def siren_of(siret: str) -> str:
    return stdnum_siret.to_siren(siret)


def parse_naf_code(value: str | None, field: str = "naf_code") -> str:
    """``6201z``, ``62 01 Z`` or ``62.01Z`` → ``62.01Z``."""
    raw = _SPACES.sub("", value or "").upper()
    if not raw:
        raise ActionRefused("Le code NAF (APE) est obligatoire.", field)
    match = _NAF.match(raw)
    if match is None:
        raise ActionRefused("Le code NAF (APE) s'écrit avec quatre chiffres et une lettre, "
                            "par exemple 62.01Z.", field)
    return f"{match[1]}.{match[2]}{match[3]}"


def parse_headcount(value, field: str = "headcount") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raw = _SPACES.sub("", str(value if value is not None else ""))
        if not raw:
            raise ActionRefused("L'effectif est obligatoire (0 si vous n'avez pas de salarié).", field)
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", raw):
            raise ActionRefused("L'effectif doit être un nombre entier de personnes, par exemple 12.", field)
        number = int(raw)
    if number < 0:
        raise ActionRefused("L'effectif ne peut pas être négatif.", field)
    return number


def parse_postcode(value: str | None, field: str = "postcode") -> str:
    """Five digits whose département exists (``departement_of``; 977xx and 978xx do not: see below)."""
    raw = _SPACES.sub("", value or "")
    if not _POSTCODE.match(raw):
        raise ActionRefused("Le code postal compte cinq chiffres, par exemple 21000.", field)
    if departement_of(raw) not in DEPARTEMENTS or raw[:3] in _POSTCODE_EXCEPTIONS.values():
        raise ActionRefused("Ce code postal ne correspond à aucun département français : vérifiez-le.", field)
    return raw


# Saint-Barthélemy and Saint-Martin have codes of their own but postcodes in the Guadeloupe range.
_POSTCODE_EXCEPTIONS = {"97133": "977", "97150": "978"}


def departement_of(postcode: str) -> str:
    """The département of a postcode: its first two digits; in Corsica (20…) 2A from 20000 to
    20199 and 2B from 20200; overseas (97…, 98…) its first three digits (971…976, 986…988)."""
    if postcode in _POSTCODE_EXCEPTIONS:
        return _POSTCODE_EXCEPTIONS[postcode]
    if postcode.startswith("20"):
        return "2A" if postcode < "20200" else "2B"
    if postcode[:2] in ("97", "98"):
        return postcode[:3]
    return postcode[:2]


def parse_departement(value: str | None, postcode: str, field: str = "departement") -> str:
    """The département of ``postcode`` (a valid one). Typing it is optional; what is typed
    (``1`` → ``01``, ``2a`` → ``2A``) must be that département, else a French refusal."""
    derived = departement_of(postcode)
    raw = _SPACES.sub("", value or "").upper()
    if not raw:
        return derived
    if re.fullmatch(r"[0-9]", raw):
        raw = "0" + raw
    if raw not in DEPARTEMENTS:
        raise ActionRefused("Ce département n'existe pas : indiquez son numéro, par exemple 21, 2A "
                            "ou 971, ou laissez le champ vide pour le déduire du code postal.", field)
    if raw != derived:
        raise ActionRefused(f"Le code postal {postcode} est celui du département {derived}, pas du {raw} : "
                            "corrigez l'un ou l'autre, ou laissez ce champ vide pour le déduire du code "
                            "postal.", field)
    return raw


def clean_text(value: str | None, field: str, label: str, max_length: int) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ActionRefused(f"{label} est obligatoire.", field)
    if len(text) > max_length:
        raise ActionRefused(f"{label} ne peut pas dépasser {max_length} caractères.", field)
    return text


def parse_legal_form(value: str | None, field: str = "legal_form") -> str:
    if value not in LEGAL_FORMS:
        raise ActionRefused("Choisissez une forme juridique dans la liste.", field)
    return value


def _clean_fields(*, name, legal_form, naf_code, headcount, turnover, balance_sheet, address, postcode,
                  commune, departement) -> dict:
    clean_postcode = parse_postcode(postcode)
    return {
        "name": clean_text(name, "name", "La raison sociale", 200),
        "legal_form": parse_legal_form(legal_form),
        "naf_code": parse_naf_code(naf_code),
        "headcount": parse_headcount(headcount),
        "turnover": parse_amount(turnover, "turnover", label="Le chiffre d'affaires", allow_zero=True),
        "balance_sheet": parse_amount(balance_sheet, "balance_sheet", label="Le total du bilan",
                                      allow_zero=True),
        "address": clean_text(address, "address", "L'adresse", 300),
        "postcode": clean_postcode,
        "commune": clean_text(commune, "commune", "La commune", 100),
        "departement": parse_departement(departement, clean_postcode),
    }


def declare_company(actor: User, *, siret: str, **fields) -> Company:
    """An applicant declares the establishment that carries their projects and becomes its member."""
    if not actor.is_applicant:
        raise ActionRefused("Seul un porteur de projet peut déclarer une entreprise.")
    number = parse_siret(siret)
    values = _clean_fields(**fields)
    existing = db.session.scalar(select(Company).where(Company.siret == number))
    if existing is not None:
        if actor in existing.members:
            raise ActionRefused("Vous avez déjà déclaré cette entreprise : elle figure dans « Mes "
                                "entreprises ».", "siret")
        # Who declared it stays private: the message says only that the number is taken.
        raise ActionRefused("Cet établissement (SIRET) est déjà enregistré sur la plateforme. Si vous "
                            "le représentez, demandez à l'administrateur de la plateforme de vous y "
                            "rattacher.", "siret")
    company = Company(siret=number, siren=siren_of(number), **values)
    company.members.append(actor)
    db.session.add(company)
    db.session.flush()
    return company


def update_company(actor: User, company: Company, **fields) -> Company:
    """A member corrects the company's details; the SIRET, which identifies it, does not change."""
    if actor not in company.members:
        raise ActionRefused("Seul un membre de l'entreprise peut la modifier.")
    for name, value in _clean_fields(**fields).items():
        setattr(company, name, value)
    db.session.flush()
    return company
