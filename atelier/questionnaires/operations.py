"""Editing a scheme's questionnaire: the draft (sections, questions, standard questions picked from the
library), its preview and its publication as a new immutable version.

Who: platform admins, and agents flagged "gestionnaire des dispositifs" of the scheme's agency. A
change of the draft never touches a published version, nor any answer given under one.
"""
import copy
import re
import unicodedata

from sqlalchemy import func, select

from ..auth.models import User
from ..common import ActionRefused, parse_amount, utcnow
from ..extensions import db
from ..forms import multi_line, one_line
from ..schemes.models import DOCUMENT_KINDS, Scheme
from .library import standard_questions
from .models import Questionnaire, QuestionnaireVersion
from .types import COLUMN_TYPES, MAX_ROWS, TYPES

_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ITEM = re.compile(r"s([0-9]{1,4})|q([0-9]{1,4})-([0-9]{1,4})")
NUMERIC_TYPES = ("integer", "amount", "percentage")
MAX_QUESTIONS = 200
STALE = ("Le questionnaire a été modifié entre-temps par une autre personne. Rechargez la page pour voir "
         "son état actuel, puis recommencez.")


def may_manage(user: User, scheme: Scheme) -> bool:
    """Admins, and the scheme managers of the scheme's agency."""
    if user.is_admin:
        return True
    return bool(user.is_agent and user.is_scheme_manager and user.agency_id == scheme.agency_id)


def set_scheme_manager(user: User, flag: bool) -> None:
    if flag and not user.is_agent:
        raise ActionRefused("Seul un agent d'un organisme peut gérer les dispositifs de cet organisme.",
                            "scheme_manager")
    user.is_scheme_manager = bool(flag)
    db.session.flush()


def draft_of(scheme: Scheme) -> Questionnaire | None:
    return db.session.scalar(select(Questionnaire).where(Questionnaire.scheme_id == scheme.id))


def versions_of(scheme: Scheme) -> list[QuestionnaireVersion]:
    return list(db.session.scalars(select(QuestionnaireVersion)
                                   .where(QuestionnaireVersion.scheme_id == scheme.id)
                                   .order_by(QuestionnaireVersion.number.desc())))


def current_version_id(scheme_id: int) -> int | None:
    """The version a line added now answers (the latest published), or None."""
    return db.session.scalar(select(QuestionnaireVersion.id)
                             .where(QuestionnaireVersion.scheme_id == scheme_id)
                             .order_by(QuestionnaireVersion.number.desc()).limit(1))


def _sections(structure: dict | None) -> list[dict]:
    return (structure or {}).get("sections", [])


def draft_keys(structure: dict | None) -> list[str]:
    return [question.get("standard") or question["key"]
            for section in _sections(structure) for question in section.get("questions", [])]


def resolve(structure: dict | None, library=None) -> dict:
    """The draft with each standard question written out in full (as a version keeps it)."""
    library = standard_questions() if library is None else library
    sections = []
    for section in _sections(structure):
        questions = []
        for question in section.get("questions", []):
            if question.get("standard"):
                standard = library.get(question["standard"])
                if standard is None:
                    continue
                question = {**standard.as_question(), "required": bool(question.get("required"))}
            questions.append(question)
        sections.append({"title": section["title"], "questions": questions})
    return {"sections": sections}


# --------------------------------------------------------------------------- changing the draft

def _change(actor: User, scheme: Scheme, expected_version, change) -> Questionnaire:
    """Apply ``change(structure)`` to a copy of the draft (made if none), checked against the version
    the person saw; the draft's row is written whole (JSON), never in place."""
    if not may_manage(actor, scheme):
        raise ActionRefused("Seuls les gestionnaires des dispositifs de l'organisme peuvent modifier ce "
                            "questionnaire.")
    draft = draft_of(scheme)
    if isinstance(expected_version, int) and expected_version != (draft.version if draft else 0):
        raise ActionRefused(STALE)
    structure = copy.deepcopy(draft.structure) if draft else {"sections": []}
    structure.setdefault("sections", [])
    change(structure)
    if draft is None:
        draft = Questionnaire(scheme_id=scheme.id, structure=structure)
        db.session.add(draft)
    else:
        draft.structure = structure
        draft.updated_at = utcnow()
    db.session.flush()
    return draft


def add_section(actor: User, scheme: Scheme, *, title, expected_version=None) -> Questionnaire:
    text = one_line(title or "")
    if not text:
        raise ActionRefused("Donnez un titre à la section.", "title")
    if len(text) > 200:
        raise ActionRefused("Le titre d'une section tient en 200 caractères.", "title")
    return _change(actor, scheme, expected_version,
                   lambda structure: structure["sections"].append({"title": text, "questions": []}))


def _section_at(structure: dict, index) -> dict:
    sections = structure["sections"]
    if not isinstance(index, int) or not 0 <= index < len(sections):
        raise ActionRefused("Choisissez la section où placer la question (ajoutez-en une d'abord).",
                            "section")
    return sections[index]


def add_standard_question(actor: User, scheme: Scheme, *, section, key, required=False,
                          expected_version=None) -> Questionnaire:
    if key not in standard_questions():
        raise ActionRefused("Choisissez une question de la bibliothèque.", "standard")

    def change(structure):
        target = _section_at(structure, section)
        if key in draft_keys(structure):
            raise ActionRefused("Cette question figure déjà dans le questionnaire.", "standard")
        target["questions"].append({"standard": key, "required": bool(required)})
        _check_size(structure)

    return _change(actor, scheme, expected_version, change)


def add_own_question(actor: User, scheme: Scheme, *, section, expected_version=None,
                     **fields) -> Questionnaire:
    def change(structure):
        target = _section_at(structure, section)
        target["questions"].append(parse_question(fields, draft_keys(structure)))
        _check_size(structure)

    return _change(actor, scheme, expected_version, change)


def _check_size(structure: dict) -> None:
    if len(draft_keys(structure)) > MAX_QUESTIONS:
        raise ActionRefused(f"Un questionnaire compte au plus {MAX_QUESTIONS} questions.")


def _item(structure: dict, item) -> tuple[list, int]:
    """The list holding the item (``s<i>`` a section, ``q<i>-<j>`` a question) and its index."""
    match = _ITEM.fullmatch(item or "")
    if match is None:
        raise ActionRefused("Cet élément n'existe plus dans le questionnaire : rechargez la page.")
    if match.group(1) is not None:
        container, index = structure["sections"], int(match.group(1))
    else:
        section = int(match.group(2))
        if section >= len(structure["sections"]):
            raise ActionRefused("Cet élément n'existe plus dans le questionnaire : rechargez la page.")
        container, index = structure["sections"][section]["questions"], int(match.group(3))
    if index >= len(container):
        raise ActionRefused("Cet élément n'existe plus dans le questionnaire : rechargez la page.")
    return container, index


def move_item(actor: User, scheme: Scheme, *, item, direction, expected_version=None) -> Questionnaire:
    def change(structure):
        container, index = _item(structure, item)
        target = index - 1 if direction == "up" else index + 1 if direction == "down" else None
        if target is None or not 0 <= target < len(container):
            raise ActionRefused("Cet élément ne peut pas aller plus loin dans ce sens.")
        container[index], container[target] = container[target], container[index]
        _check_conditions(structure)

    return _change(actor, scheme, expected_version, change)


def remove_item(actor: User, scheme: Scheme, *, item, expected_version=None) -> Questionnaire:
    def change(structure):
        container, index = _item(structure, item)
        del container[index]
        _check_conditions(structure)

    return _change(actor, scheme, expected_version, change)


def _check_conditions(structure: dict) -> None:
    """A condition speaks of a question asked before it (so no question ever depends on itself)."""
    before = set()
    for section in structure["sections"]:
        for question in section["questions"]:
            condition = question.get("condition")
            if condition and condition["key"] not in before:
                raise ActionRefused(f"La question « {question['label']} » n'est posée que selon la réponse "
                                    f"à « {condition['key']} » : celle-ci doit rester avant elle.")
            before.add(question.get("standard") or question["key"])


def publish(actor: User, scheme: Scheme, *, expected_version=None) -> QuestionnaireVersion:
    """A new version: the draft as it is now, standard questions written out. Earlier versions and
    the answers given under them stay as they are."""
    if not may_manage(actor, scheme):
        raise ActionRefused("Seuls les gestionnaires des dispositifs de l'organisme peuvent publier ce "
                            "questionnaire.")
    draft = draft_of(scheme)
    if draft is None or not draft_keys(draft.structure):
        raise ActionRefused("Le questionnaire n'a aucune question : ajoutez-en avant de le publier.")
    if isinstance(expected_version, int) and expected_version != draft.version:
        raise ActionRefused(STALE)
    number = (db.session.scalar(select(func.max(QuestionnaireVersion.number))
                                .where(QuestionnaireVersion.scheme_id == scheme.id)) or 0) + 1
    version = QuestionnaireVersion(scheme_id=scheme.id, number=number, structure=resolve(draft.structure),
                                   published_by_id=actor.id, published_at=utcnow())
    db.session.add(version)
    db.session.flush()
    return version


# --------------------------------------------------------------------------- a question defined by a scheme

def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:40] or "choix"


def _bound(value, field: str, kind: str):
    text = one_line(value or "")
    if not text:
        return None
    amount = parse_amount(text, field, label="Cette borne", allow_zero=True)
    if kind == "integer" and amount != amount.to_integral_value():
        raise ActionRefused("Pour un nombre entier, la borne est un nombre entier.", field)
    return int(amount) if kind == "integer" else f"{amount:f}"


def _count(value, field: str, low: int, high: int, label: str):
    text = one_line(str(value or ""))
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ActionRefused(f"{label} : un nombre entier de {low} à {high}.", field)
    return int(text)


def _choices(value, field: str) -> list[list[str]]:
    labels = [one_line(line) for line in multi_line(value or "").split("\n")]
    labels = [label[:200] for label in labels if label]
    values = [_slug(label) for label in labels]
    if len(labels) < 2:
        raise ActionRefused("Indiquez au moins deux réponses possibles, une par ligne.", field)
    if len(set(values)) != len(values):
        raise ActionRefused("Deux réponses possibles se ressemblent trop : distinguez-les.", field)
    return [[value, label] for value, label in zip(values, labels)]


def _columns(value, field: str) -> list[dict]:
    """One column a line: ``Libellé | type``, a leading ``*`` when the column must be filled."""
    columns = []
    for line in multi_line(value or "").split("\n"):
        line = one_line(line)
        if not line:
            continue
        if "|" in line:
            label, _, kind = (part.strip() for part in line.rpartition("|"))
        else:
            label, kind = line, "text"
        required = label.startswith("*")
        label = label.lstrip("*").strip()[:200]
        if kind not in COLUMN_TYPES or kind in ("choice", "choices"):
            allowed = ", ".join(k for k in COLUMN_TYPES if k not in ("choice", "choices"))
            raise ActionRefused(f"Colonne « {label} » : type inconnu « {kind} » "
                                f"(types possibles : {allowed}).", field)
        if not label:
            raise ActionRefused("Chaque colonne a un libellé.", field)
        key = _slug(label)
        if key in {column["key"] for column in columns}:
            raise ActionRefused(f"Deux colonnes s'appellent « {label} ».", field)
        columns.append({"key": key, "type": kind, "label": label, "help": "", "required": required})
    if not columns:
        raise ActionRefused("Un tableau a au moins une colonne : « Libellé | type », une par ligne.", field)
    if len(columns) > 10:
        raise ActionRefused("Un tableau a au plus 10 colonnes.", field)
    return columns


def parse_question(fields: dict, existing_keys: list[str]) -> dict:
    """A scheme's own question from the editor's fields (key, label, help, type, required, min, max,
    max_length, max_rows, choices, document_kind, columns, condition_key, condition_value)."""
    key = one_line(fields.get("key") or "")
    if not _KEY.fullmatch(key):
        raise ActionRefused("La clé commence par une lettre minuscule, puis des lettres minuscules, "
                            "chiffres ou « _ » (40 au plus), par exemple nombre_salaries.", "key")
    if key in existing_keys or key in standard_questions():
        raise ActionRefused("Cette clé est déjà prise (dans ce questionnaire ou la bibliothèque).", "key")
    label = one_line(fields.get("label") or "")
    if not label:
        raise ActionRefused("Le libellé de la question est obligatoire.", "label")
    if len(label) > 300:
        raise ActionRefused("Le libellé tient en 300 caractères.", "label")
    kind = fields.get("type")
    if kind not in TYPES:
        raise ActionRefused("Choisissez le type de la question.", "type")
    question = {"key": key, "type": kind, "label": label, "help": multi_line(fields.get("help") or "")[:1000],
                "required": bool(fields.get("required")), "standard": False}
    if kind in NUMERIC_TYPES:
        low, high = _bound(fields.get("min"), "min", kind), _bound(fields.get("max"), "max", kind)
        if low is not None and high is not None and float(low) > float(high):
            raise ActionRefused("Le maximum doit être au moins égal au minimum.", "max")
        question.update({"min": low, "max": high})
    if kind in ("text", "long_text"):
        question["max_length"] = _count(fields.get("max_length"), "max_length", 1, 5000, "Longueur maximale")
    if kind in ("choice", "choices"):
        question["choices"] = _choices(fields.get("choices"), "choices")
    if kind == "document":
        if fields.get("document_kind") not in DOCUMENT_KINDS:
            raise ActionRefused("Choisissez le type de pièce demandé.", "document_kind")
        question["document_kind"] = fields["document_kind"]
    if kind == "group":
        question["columns"] = _columns(fields.get("columns"), "columns")
        rows = _count(fields.get("max_rows"), "max_rows", 1, MAX_ROWS, "Nombre de lignes")
        question["max_rows"] = rows or 10
    condition_key = one_line(fields.get("condition_key") or "")
    if condition_key:
        if condition_key not in existing_keys:
            raise ActionRefused("La condition porte sur une question posée avant celle-ci.", "condition_key")
        value = one_line(fields.get("condition_value") or "")
        if not value:
            raise ActionRefused("Indiquez la réponse qui fait apparaître la question (par exemple oui).",
                                "condition_value")
        question["condition"] = {"key": condition_key, "equals": value[:200]}
    return question
