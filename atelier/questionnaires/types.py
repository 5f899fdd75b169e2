"""The question types: one function per type reads what was typed (or sent by the API), checks it and
says what is wrong in French; values go to JSON and back unchanged.

A question is a dict::

    {"key": "investments", "type": "group", "label": "…", "help": "…", "required": True,
     "min": 0, "max": 100, "max_length": 200, "max_rows": 10, "choices": [["a", "A"], …],
     "document_kind": "quotes", "columns": [<questions>], "condition": {"key": "…", "equals": "…"},
     "standard": False}

What is typed ("raw") is a string, a list of strings (several choices) or a list of rows, each a dict
of strings by column key (repeated group). ``parse`` turns it into a value (``None`` when nothing was
typed) or raises ``ActionRefused``; ``dump``/``load`` go to JSON and back; ``as_raw`` gives back what
a form shows for a value; ``shown`` is the value read aloud on a page.
"""
import re
from datetime import date
from decimal import Decimal

from ..common import ActionRefused, parse_amount, read_date
from ..companies.operations import parse_siret
from ..formatting import money
from ..forms import IMPLAUSIBLE_DATE, INVALID_DATE, multi_line, one_line

TYPES = {
    "text": "Texte court",
    "long_text": "Texte long",
    "integer": "Nombre entier",
    "amount": "Montant (€)",
    "percentage": "Pourcentage",
    "date": "Date",
    "yes_no": "Oui / non",
    "choice": "Un choix dans une liste",
    "choices": "Plusieurs choix dans une liste",
    "siret": "Numéro SIRET",
    "document": "Pièce du dossier d'un type donné",
    "group": "Tableau à remplir ligne par ligne",
}
COLUMN_TYPES = [kind for kind in TYPES if kind not in ("group", "document")]
YES_NO = {"oui": True, "non": False}
DEFAULT_LENGTH = {"text": 200, "long_text": 5000}
MAX_ROWS = 50
MAX_INTEGER = 10**12
_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only, like amounts


def is_empty(value) -> bool:
    return value is None or value == "" or value == []


def _text(question, raw) -> str | None:
    clean = multi_line if question["type"] == "long_text" else one_line
    text = clean(raw if isinstance(raw, str) else "")
    if not text:
        return None
    limit = question.get("max_length") or DEFAULT_LENGTH[question["type"]]
    if len(text) > limit:
        raise ActionRefused(f"Au plus {limit} caractères ({len(text)} saisis).")
    return text


def _bounded(question, number, shown):
    low, high = question.get("min"), question.get("max")
    if low is not None and number < Decimal(str(low)):
        raise ActionRefused(f"La valeur doit être au moins {shown(Decimal(str(low)))}.")
    if high is not None and number > Decimal(str(high)):
        raise ActionRefused(f"La valeur doit être au plus {shown(Decimal(str(high)))}.")
    return number


def _integer(question, raw) -> int | None:
    text = re.sub(r"[\s\u00a0\u202f]+", "", raw if isinstance(raw, str) else "")
    if not text:
        return None
    if not _INTEGER.fullmatch(text):
        raise ActionRefused("Indiquez un nombre entier (par exemple 12).")
    number = int(text)
    if abs(number) >= MAX_INTEGER:
        raise ActionRefused("Ce nombre est trop grand.")
    return int(_bounded(question, Decimal(number), lambda n: f"{n:f}"))


def _amount(question, raw) -> Decimal | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    value = parse_amount(raw, None, label="Le montant", allow_zero=True)
    return _bounded(question, value, money)


def _percentage(question, raw) -> Decimal | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    value = parse_amount(raw.strip().removesuffix("%"), None, label="Le pourcentage", allow_zero=True)
    if value > 100:
        raise ActionRefused("Un pourcentage va de 0 à 100.")
    return _bounded(question, value, _percent)


def _date(question, raw) -> date | None:
    text = one_line(raw if isinstance(raw, str) else "")
    if not text:
        return None
    day = read_date(text)  # the one date reader: ASCII digits only
    if day is None:
        raise ActionRefused(INVALID_DATE)
    if not 1900 <= day.year <= 2100:
        raise ActionRefused(IMPLAUSIBLE_DATE)
    return day


def _yes_no(question, raw) -> bool | None:
    text = raw.strip().lower() if isinstance(raw, str) else ""
    if not text:
        return None
    if text not in YES_NO:
        raise ActionRefused("Répondez par oui ou par non.")
    return YES_NO[text]


def _choice(question, raw) -> str | None:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    if text not in {value for value, _ in question.get("choices", [])}:
        raise ActionRefused("Choisissez une des réponses proposées.")
    return text


def _choices(question, raw) -> list[str] | None:
    picked = {item.strip() for item in (raw if isinstance(raw, list) else [raw]) if isinstance(item, str)}
    picked.discard("")
    known = [value for value, _ in question.get("choices", [])]
    if picked - set(known):
        raise ActionRefused("Choisissez parmi les réponses proposées.")
    return [value for value in known if value in picked] or None


def _siret(question, raw) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    return parse_siret(raw, None)


def _document(question, raw, documents=()) -> int | None:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    kind = question.get("document_kind")
    for document in documents:
        if str(document.id) == text and document.kind == kind:
            return document.id
    raise ActionRefused("Choisissez une pièce déposée dans ce dossier, du type demandé.")


def _typed(cell) -> bool:
    """Whether a cell of a posted row holds something (a row of empty cells is no row)."""
    return bool(cell.strip()) if isinstance(cell, str) else bool(cell) if isinstance(cell, list) else False


def _group(question, raw, documents=()) -> list[dict] | None:
    rows = [row for row in (raw if isinstance(raw, list) else []) if isinstance(row, dict)]
    rows = [row for row in rows if any(_typed(cell) for cell in row.values())]
    if not rows:
        return None
    limit = min(question.get("max_rows") or MAX_ROWS, MAX_ROWS)
    if len(rows) > limit:
        raise ActionRefused(f"Au plus {limit} lignes ({len(rows)} remplies).")
    values = []
    for number, row in enumerate(rows, start=1):
        value = {}
        for column in question.get("columns", []):
            try:
                cell = parse(column, row.get(column["key"], ""))
            except ActionRefused as refused:
                raise ActionRefused(f"Ligne {number}, « {column['label']} » : {refused.message}") from None
            if is_empty(cell) and column.get("required"):
                raise ActionRefused(f"Ligne {number} : « {column['label']} » est à remplir.")
            value[column["key"]] = cell
        values.append(value)
    return values


PARSERS = {
    "text": _text, "long_text": _text, "integer": _integer, "amount": _amount, "percentage": _percentage,
    "date": _date, "yes_no": _yes_no, "choice": _choice, "choices": _choices, "siret": _siret,
}


def parse(question: dict, raw, documents=()):
    """The value of what was typed for ``question``, ``None`` if nothing; a French refusal else.
    ``documents`` are the dossier's (for a question asking for one of its documents)."""
    kind = question["type"]
    if kind == "document":
        return _document(question, raw, documents)
    if kind == "group":
        return _group(question, raw, documents)
    return PARSERS[kind](question, raw)


# --------------------------------------------------------------------------- JSON and back

def dump(question: dict, value):
    """A value as JSON: amounts and percentages as strings (exact), dates as ISO text."""
    if value is None:
        return None
    kind = question["type"]
    if kind in ("amount", "percentage"):
        return f"{value:.2f}"
    if kind == "date":
        return value.isoformat()
    if kind == "group":
        columns = question.get("columns", [])
        return [{column["key"]: dump(column, row.get(column["key"])) for column in columns} for row in value]
    return value


def load(question: dict, data):
    if data is None:
        return None
    kind = question["type"]
    if kind in ("amount", "percentage"):
        return Decimal(data)
    if kind == "date":
        return date.fromisoformat(data)
    if kind == "group":
        columns = question.get("columns", [])
        return [{column["key"]: load(column, row.get(column["key"])) for column in columns} for row in data]
    return data


_JSON_EXPECTED = {
    "integer": "un nombre entier", "document": "l'identifiant (nombre entier) d'une pièce du dossier",
    "amount": "un montant : nombre entier ou texte (« 12500.50 »)",
    "percentage": "un pourcentage : nombre entier ou texte (« 12.5 »)", "yes_no": "true ou false",
    "choices": "une liste de valeurs proposées", "group": "une liste de lignes (objets par colonne)",
}


def from_json(question: dict, data):
    """What an API client sent for ``question``, as the raw text a form would post (``parse`` then
    judges it like any typed answer); a French refusal when the JSON type is not the question's."""
    kind = question["type"]
    if data is None:
        return [] if kind in ("choices", "group") else ""
    expected = _JSON_EXPECTED.get(kind, "un texte")
    if kind == "yes_no" and isinstance(data, bool):
        return "oui" if data else "non"
    if kind == "choices" and isinstance(data, list) and all(isinstance(item, str) for item in data):
        return data
    if kind == "group" and isinstance(data, list) and all(isinstance(row, dict) for row in data):
        columns = question.get("columns", [])
        rows = []
        for number, row in enumerate(data, start=1):
            unknown = set(row) - {column["key"] for column in columns}
            if unknown:
                raise ActionRefused(f"Ligne {number} : colonne inconnue « {sorted(unknown)[0]} » (colonnes : "
                                    + ", ".join(column["key"] for column in columns) + ").")
            cells = {}
            for column in columns:
                try:
                    cells[column["key"]] = from_json(column, row.get(column["key"]))
                except ActionRefused as refused:
                    message = f"Ligne {number}, « {column['label']} » : {refused.message}"
                    raise ActionRefused(message) from None
            rows.append(cells)
        return rows
    whole = isinstance(data, int) and not isinstance(data, bool)
    if kind in ("integer", "document", "amount", "percentage") and whole:
        return str(data)
    if isinstance(data, str) and kind not in ("yes_no", "choices", "group", "document"):
        return data
    raise ActionRefused(f"Valeur attendue : {expected}.")


# --------------------------------------------------------------------------- shown

def _percent(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") + " %"


def as_raw(question: dict, value):
    """What a form field shows for a stored value (the inverse of ``parse``)."""
    if value is None:
        return [] if question["type"] in ("choices", "group") else ""
    kind = question["type"]
    if kind in ("amount", "percentage"):
        return f"{value:.2f}".replace(".", ",")
    if kind == "date":
        return value.isoformat()
    if kind == "yes_no":
        return "oui" if value else "non"
    if kind in ("integer", "document"):
        return str(value)
    if kind == "group":
        columns = question.get("columns", [])
        return [{column["key"]: as_raw(column, row.get(column["key"])) for column in columns}
                for row in value]
    return value


def shown(question: dict, value, documents=()) -> str:
    """The value as a page says it (French formats); groups are shown as tables by the templates."""
    if is_empty(value):
        return "—"
    kind = question["type"]
    labels = dict(question.get("choices", []))
    if kind == "amount":
        return money(value)
    if kind == "percentage":
        return _percent(value)
    if kind == "date":
        return value.strftime("%d/%m/%Y")
    if kind == "yes_no":
        return "Oui" if value else "Non"
    if kind == "choice":
        return labels.get(value, value)
    if kind == "choices":
        return ", ".join(labels.get(item, item) for item in value)
    if kind == "integer":
        return f"{value:,}".replace(",", "\u202f")
    if kind == "siret":
        return f"{value[:3]} {value[3:6]} {value[6:9]} {value[9:]}"
    if kind == "document":
        names = {document.id: document.filename for document in documents}
        return names.get(value, "Pièce retirée du dossier")
    return str(value)


def condition_met(condition: dict | None, answers: dict) -> bool:
    """Whether a question shown "only when answer <key> equals <value>" is shown, given the values
    by key (hidden questions absent): yes/no compares as ``oui``/``non``, several choices if one is."""
    if not condition:
        return True
    value = answers.get(condition["key"])
    if is_empty(value):
        return False
    if isinstance(value, bool):
        return ("oui" if value else "non") == condition["equals"]
    if isinstance(value, list):
        return condition["equals"] in value
    if isinstance(value, Decimal):
        return value == _decimal_or_none(condition["equals"])
    return str(value) == condition["equals"]


def _decimal_or_none(text: str):
    try:
        return Decimal(text.replace(",", "."))
    except ArithmeticError:
        return None
