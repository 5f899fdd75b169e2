"""The one rule for what enters: every string of a request is checked before any view sees it.

Checked: the path, every name and value of the query string, every name and value of a posted form
(file names and contents are the uploads' business), and every key and string of a JSON body.
Refused wherever it appears:

- NUL (U+0000): nobody types it, PostgreSQL cannot store it in text, and C code reading the value
  would stop at it;
- a lone surrogate (U+D800–U+DFFF without its pair, as the JSON escape ``"\\ud800"`` gives): it is
  not a character and cannot be encoded in UTF-8, so it can be neither stored nor sent back.

Other control characters are not refused here: text pasted from a word processor can carry them,
the database stores them, and the single-line fields drop them (``forms.one_line``).

JSON bodies are bounded too, on their bytes and before anything parses them — Python's parser
recurses, and a body nested 100 000 levels deep would exhaust its stack: at most ``JSON_MAX_DEPTH``
levels of arrays and objects and ``JSON_MAX_BYTES`` bytes (settings).

How a refusal is said, always in French:

- in the path or the query string: 400, a page (``application/problem+json`` under ``/api/``);
- in a JSON body: 422 problem naming each field (too deep: 400; too large: 413);
- in a field of a page's form: the form comes back with the message beside that field
  (``forms.FrenchForm`` reads ``refused_fields()``), the character removed from what it shows.
  The view never sees the character: the request's form holds the cleaned values.
"""
import json
import re

from flask import Flask, current_app, has_request_context, render_template, request
from werkzeug.datastructures import ImmutableMultiDict

API_PREFIX = "/api/"
REFUSED_FIELDS_KEY = "atelier.refused_fields"  # in the request's environ (``g`` outlives a request in tests)
_FORM_MIMETYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# A JSON string (escapes included), removed before counting brackets: brackets inside strings are text.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPENING = frozenset(b"[{")
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")  # NUL, and a surrogate (in a str, always a lone one)
MAX_REPORTED = 20  # a body full of forbidden characters gets this many field errors, not thousands


# --------------------------------------------------------------------------- the rule

def forbidden_in(text: str) -> str | None:
    """What makes ``text`` unacceptable, said in French (``un caractère nul (U+0000)``), or ``None``."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    if found.group() == "\x00" or "\x00" in text:
        return "un caractère nul (U+0000)"
    return f"un demi-caractère Unicode isolé (U+{ord(found.group()):04X})"


def without_forbidden(text: str) -> str:
    return _FORBIDDEN.sub("", text)


def shown(text: str, limit: int = 40) -> str:
    """``text`` as it may be written in a message: forbidden characters as U+FFFD, at most ``limit``."""
    visible = _FORBIDDEN.sub("\ufffd", text)
    return visible if len(visible) <= limit else visible[:limit] + "…"


def field_message(what: str) -> str:
    return (f"Ce champ contient {what}, qui ne peut pas être enregistré : retirez-le (il vient souvent "
            "d'un copier-coller), puis recommencez.")


def json_too_deep(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``raw``, found without parsing
    it (no recursion): strings are removed, then the brackets left are counted."""
    depth = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_refusals(document) -> list[dict]:
    """``{"field", "detail"}`` for each key or string of a parsed JSON document that the rule refuses.
    ``field`` is the path of the value (``title``, ``lines[0].reason``). Walked without recursion."""
    refusals = []
    pending = [("", document, False)]  # (path, value, whether the value is the name of a field)
    while pending and len(refusals) < MAX_REPORTED:
        path, value, is_name = pending.pop()
        if isinstance(value, str):
            what = forbidden_in(value)
            if what:
                detail = f"Le nom de ce champ contient {what}." if is_name else field_message(what)
                refusals.append({"field": path, "detail": detail})
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                child = f"{path}.{shown(key)}" if path else shown(key)
                children.append((child, key, True))
                if not forbidden_in(key):
                    children.append((child, item, False))
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item, False) for index, item in reversed(list(enumerate(value))))
    return refusals


# --------------------------------------------------------------------------- where input enters

class InputRefused(Exception):
    """A request refused as a whole: ``status`` and a French ``detail`` (``errors`` per field)."""

    def __init__(self, status: int, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def check_request() -> None:
    """Apply the rule to the current request (see the module's docstring), or raise ``InputRefused``."""
    what = forbidden_in(request.path)
    if what:
        raise InputRefused(400, f"L'adresse demandée contient {what} : elle ne mène à aucune page.")
    for name, value in request.args.items(multi=True):
        what = forbidden_in(name) or forbidden_in(value)
        if what:
            raise InputRefused(400, f"Le paramètre « {shown(name)} » de l'adresse contient {what} : "
                                    "corrigez l'adresse, puis recommencez.")
    if request.mimetype in _FORM_MIMETYPES:
        _check_form()
    elif _is_api():  # the API reads its bodies as JSON whatever their type; the pages never do
        _check_json_body()


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX)


def _check_form() -> None:
    refused, cleaned = {}, []
    for name, value in request.form.items(multi=True):
        what = forbidden_in(name) or forbidden_in(value)
        if what:
            refused.setdefault(without_forbidden(name), field_message(what))
        cleaned.append((without_forbidden(name), without_forbidden(value)))
    if not refused:
        return
    if _is_api():
        raise InputRefused(422, "Certaines données sont invalides : voyez le détail de chaque champ.",
                           [{"field": shown(name), "detail": detail} for name, detail in refused.items()])
    # The views and forms read the cleaned values; the forms say beside each field what was removed.
    request.form = ImmutableMultiDict(cleaned)
    request.__dict__.pop("values", None)
    request.environ[REFUSED_FIELDS_KEY] = refused


def _check_json_body() -> None:
    limit = current_app.config["JSON_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise _json_too_large(limit)
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise _json_too_large(limit)
    if not raw.strip():
        return
    depth = current_app.config["JSON_MAX_DEPTH"]
    if json_too_deep(raw, depth):
        raise InputRefused(400, f"Le document JSON imbrique plus de {depth} niveaux de tableaux ou "
                                "d'objets : simplifiez-le.")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: the view that reads it says so
    refusals = json_refusals(document)
    if refusals:
        raise InputRefused(422, "Certaines données sont invalides : voyez le détail de chaque champ.", refusals)


def _json_too_large(limit: int) -> InputRefused:
    return InputRefused(413, f"Le document JSON dépasse la taille autorisée ({limit // 1024} Kio).")


def refused_fields() -> dict[str, str]:
    """The form fields of this request whose value had forbidden characters: name → French message."""
    return request.environ.get(REFUSED_FIELDS_KEY, {}) if has_request_context() else {}


def refuse_forbidden_input():
    """Before every other hook and every view: the refusal as a page, or a problem under ``/api/``."""
    try:
        check_request()
    except InputRefused as refused:
        if _is_api():
            from .api.problems import problem_response

            return problem_response(refused.status, refused.detail, errors=refused.errors)
        return render_template("errors/input.html", message=refused.detail), refused.status
    return None


def init_inputs(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_forbidden_input)
