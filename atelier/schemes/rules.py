"""A scheme's rules, in one place: who may ask it, when, and for how much.

Every check of a funding line against its scheme (adding it, submitting, proposing, approving)
reads its reasons from here, so the messages and the boundaries are the same everywhere.
"""
import re
from datetime import date
from decimal import Decimal

from ..common import ActionRefused
from ..companies.models import SIZE_LABELS
from ..formatting import money

# INSEE, NAF rév. 2: the 21 sections and the divisions (two first digits) each one covers.
NAF_SECTIONS = {
    "A": ("Agriculture, sylviculture et pêche", 1, 3),
    "B": ("Industries extractives", 5, 9),
    "C": ("Industrie manufacturière", 10, 33),
    "D": ("Production et distribution d'électricité, de gaz, de vapeur et d'air conditionné", 35, 35),
    "E": ("Production et distribution d'eau ; assainissement, gestion des déchets et dépollution", 36, 39),
    "F": ("Construction", 41, 43),
    "G": ("Commerce ; réparation d'automobiles et de motocycles", 45, 47),
    "H": ("Transports et entreposage", 49, 53),
    "I": ("Hébergement et restauration", 55, 56),
    "J": ("Information et communication", 58, 63),
    "K": ("Activités financières et d'assurance", 64, 66),
    "L": ("Activités immobilières", 68, 68),
    "M": ("Activités spécialisées, scientifiques et techniques", 69, 75),
    "N": ("Activités de services administratifs et de soutien", 77, 82),
    "O": ("Administration publique", 84, 84),
    "P": ("Enseignement", 85, 85),
    "Q": ("Santé humaine et action sociale", 86, 88),
    "R": ("Arts, spectacles et activités récréatives", 90, 93),
    "S": ("Autres activités de services", 94, 96),
    "T": ("Activités des ménages en tant qu'employeurs ; activités indifférenciées des ménages en tant "
          "que producteurs de biens et services pour usage propre", 97, 98),
    "U": ("Activités extra-territoriales", 99, 99),
}
# Divisions that exist (02, 04, 34, 40... do not).
NAF_DIVISIONS = {
    1, 2, 3, 5, 6, 7, 8, 9, *range(10, 34), 35, 36, 37, 38, 39, 41, 42, 43, 45, 46, 47, 49, 50, 51, 52,
    53, 55, 56, 58, 59, 60, 61, 62, 63, 64, 65, 66, 68, 69, 70, 71, 72, 73, 74, 75, 77, 78, 79, 80, 81,
    82, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99,
}
DEPARTEMENTS = ([f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
                + [str(n) for n in range(971, 977)])

_SEPARATORS = re.compile(r"[\s,;\u00a0\u202f]+")
_NAF_PREFIX = re.compile(r"^(\d{2})(\d{1,2}[A-Z]?)?$")  # without the dot: 01, 011, 0111, 0111Z


def naf_section(code: str | None) -> str | None:
    """The section letter of a NAF code (``62.01Z`` or ``6201Z`` → ``J``), None if unknown."""
    digits = (code or "").replace(".", "").strip()[:2]
    if len(digits) == 2 and digits.isdigit():
        division = int(digits)
        for letter, (_, first, last) in NAF_SECTIONS.items():
            if first <= division <= last:
                return letter
    return None


def _compact_naf(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def naf_is_excluded(naf_code: str | None, excluded: list[str]) -> bool:
    code = _compact_naf(naf_code or "")
    section = naf_section(code)
    for rule in excluded:
        if len(rule) == 1 and rule.isalpha():
            if rule == section:
                return True
        elif code.startswith(_compact_naf(rule)):
            return True
    return False


# --------------------------------------------------------------------------- parsing (admin form)

def _tokens(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        items = [str(value or "")]
    return [token for item in items for token in _SEPARATORS.split(item.strip()) if token]


def parse_sizes(values, field: str = "eligible_sizes") -> list[str]:
    chosen = set(values or [])
    if chosen - set(SIZE_LABELS):
        raise ActionRefused("Choisissez les tailles d'entreprise dans la liste proposée.", field)
    return [size for size in SIZE_LABELS if size in chosen]  # smallest first


def parse_departements(value, field: str = "eligible_departements") -> list[str]:
    """``21, 25 2a 971`` → ``["21", "25", "2A", "971"]``; a code that is no département is refused."""
    result, wrong = [], []
    for token in _tokens(value):
        code = token.upper()
        if code.isdigit() and len(code) == 1:
            code = "0" + code
        if code not in DEPARTEMENTS:
            wrong.append(token)
        elif code not in result:
            result.append(code)
    if wrong:
        raise ActionRefused(f"Département inconnu : {', '.join(wrong)}. Indiquez des numéros de "
                            "département séparés par des virgules, par exemple 21, 25, 2A, 971.", field)
    return sorted(result, key=DEPARTEMENTS.index)


def parse_excluded_naf(value, field: str = "excluded_naf") -> list[str]:
    """Section letters (``A``) or code prefixes (``01``, ``62.01Z``), stored in the dotted form."""
    result, wrong = [], []
    for token in _tokens(value):
        raw = _compact_naf(token)
        if len(raw) == 1 and raw in NAF_SECTIONS:
            rule = raw
        else:
            match = _NAF_PREFIX.match(raw)
            if not match or int(match.group(1)) not in NAF_DIVISIONS:
                wrong.append(token)
                continue
            rule = match.group(1) + ("." + match.group(2) if match.group(2) else "")
        if rule not in result:
            result.append(rule)
    if wrong:
        raise ActionRefused(f"Code NAF non reconnu : {', '.join(wrong)}. Indiquez des lettres de section "
                            "(A à U) ou des débuts de code NAF, par exemple A, 01, 62.01Z.", field)
    return result


def describe_naf_rule(rule: str) -> str:
    if rule in NAF_SECTIONS:
        return f"section {rule} ({NAF_SECTIONS[rule][0]})"
    return f"codes commençant par {rule}"


# --------------------------------------------------------------------------- the checks

def amount_refusals(scheme, amount: Decimal, eligible_cost: Decimal | None,
                    label: str = "Le montant demandé") -> list[str]:
    """Ceiling (exactly the ceiling fits) and maximum rate of the eligible cost."""
    reasons = []
    if amount > scheme.ceiling:
        reasons.append(f"{label} dépasse le plafond du dispositif « {scheme.name} » "
                       f"({money(scheme.ceiling)}).")
    if eligible_cost is not None:
        by_rate = (eligible_cost * scheme.max_rate).quantize(Decimal("0.01"))
        if amount > by_rate:
            reasons.append(f"{label} dépasse le taux maximal du dispositif « {scheme.name} » : "
                           f"au plus {money(by_rate)} pour un coût éligible de {money(eligible_cost)}.")
    return reasons


def company_refusals(scheme, company) -> list[str]:
    """Size category, département and NAF activity of the company against the scheme."""
    reasons = []
    if scheme.eligible_sizes and company.size not in scheme.eligible_sizes:
        allowed = ", ".join(SIZE_LABELS[size].lower() for size in scheme.eligible_sizes)
        reasons.append(f"Le dispositif « {scheme.name} » est réservé aux entreprises de ces tailles : "
                       f"{allowed} ; l'entreprise est classée {company.size_label.lower()}.")
    if scheme.eligible_departements and company.departement not in scheme.eligible_departements:
        reasons.append(f"Le dispositif « {scheme.name} » est réservé aux départements "
                       f"{', '.join(scheme.eligible_departements)} ; l'établissement est situé dans "
                       f"le département {company.departement}.")
    if scheme.excluded_naf and naf_is_excluded(company.naf_code, scheme.excluded_naf):
        reasons.append(f"Le dispositif « {scheme.name} » exclut l'activité de l'entreprise "
                       f"(code NAF {company.naf_code}).")
    return reasons


def date_refusals(scheme, today: date) -> list[str]:
    if scheme.is_open_on(today):  # the first and the last open day are open
        return []
    return [f"Le dispositif « {scheme.name} » n'est pas ouvert aux demandes à cette date."]


def scheme_refusals(scheme, company, case, amount: Decimal, today: date | None,
                    label: str = "Le montant demandé") -> list[str]:
    """Every French reason why a line of ``amount`` on ``scheme`` does not fit, in a fixed order:
    dates (skipped when ``today`` is None), amount, company. Empty when the line fits."""
    reasons = [] if today is None else date_refusals(scheme, today)
    if case is not None:  # the line's eligible cost: from the plan's expenses its scheme funds, if any
        from ..plans.operations import eligible_cost_for

        reasons += amount_refusals(scheme, amount, eligible_cost_for(case, scheme), label)
    else:
        reasons += amount_refusals(scheme, amount, None, label)
    if company is not None:
        reasons += company_refusals(scheme, company)
    return reasons


def check_amount(scheme, amount: Decimal, eligible_cost: Decimal | None, field: str,
                 label: str) -> None:
    """Refuse (beside ``field``) an amount over the ceiling or the maximum rate."""
    reasons = amount_refusals(scheme, amount, eligible_cost, label)
    if reasons:
        raise ActionRefused(reasons[0], field)


# ------------------------------------------------------------------ « Quelles aides pour mon projet ? »

def eligibility(company, eligible_cost: Decimal, on: date):
    """Every scheme, split for a project of ``company`` costing ``eligible_cost`` and starting ``on``.

    Returns ``(eligible, excluded)``: ``eligible`` lists ``(scheme, the most it can give)`` —
    ``Scheme.max_for_cost`` — and ``excluded`` lists ``(scheme, every French reason)`` from
    ``scheme_refusals`` (dates and company; the maximum always fits the ceiling and the rate).
    One query whatever the number of schemes (their agency is joined).
    """
    from sqlalchemy import select

    from ..extensions import db
    from .models import Scheme

    schemes = db.session.scalars(select(Scheme).order_by(Scheme.name, Scheme.id)).unique().all()
    eligible, excluded = [], []
    for scheme in schemes:
        maximum = scheme.max_for_cost(eligible_cost)
        reasons = scheme_refusals(scheme, company, None, maximum, on)
        if maximum <= 0:
            reasons.append("Le coût éligible est trop faible pour une aide du dispositif "
                           f"« {scheme.name} ».")
        if reasons:
            excluded.append((scheme, reasons))
        else:
            eligible.append((scheme, maximum))
    return eligible, excluded
