"""Running what a request asks through the pages' own forms and operations, answering problems.

The API has no path of its own for changing a dossier: the JSON body fills the very form class the
page posts (``event_forms.CASE_FORMS`` / ``LINE_FORMS``, ``cases/forms.py``), and the handler or the
operation the page calls runs, then one commit — as ``web.perform`` does, but every refusal becomes
a problem document instead of a flash: a refusal about a field is 422 with that field, any other
refusal (state, rights, guards) is 409, and so is a stale version.
"""
from decimal import Decimal
from typing import Callable, TypeVar

from flask import json, request
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from ..common import ActionRefused, ModifiedMeanwhile
from ..extensions import db
from ..forms import MAX_ID
from .problems import ApiProblem, field_error

T = TypeVar("T")
INVALID = "Certaines données sont invalides : voyez le détail de chaque champ."
HIDDEN_FORM_FIELDS = ("csrf_token", "next")


def json_body() -> dict:
    """The request's JSON object (amounts with decimals kept exact), or a 400/422 problem."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "Le corps de la requête n'est pas un document JSON valide.") from None
    if not isinstance(body, dict):
        raise ApiProblem(422, "Le corps de la requête doit être un objet JSON.",
                         errors=[{"field": "", "detail": "Un objet JSON est attendu ({…})."}])
    return body


def version_of(body: dict, current: int) -> int:
    """The version the client read (``version``), or the current one when it sends none."""
    if "version" not in body or body["version"] is None:
        return current
    value = body["version"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise field_error("version", "La version doit être un nombre entier (celle que vous avez lue).")
    return value


def form_data(body: dict, *, skip=("event",)) -> MultiDict:
    """The JSON fields as the strings a page would post: true is a ticked box, null is left out."""
    data = MultiDict()
    errors = []
    for key, value in body.items():
        if key in skip or key in HIDDEN_FORM_FIELDS or value is None or value is False:
            continue
        if value is True:
            data[key] = "y"
        elif isinstance(value, (str, int, Decimal)):
            data[key] = str(value)
        else:
            errors.append({"field": key, "detail": "Une valeur simple est attendue (texte, nombre ou booléen)."})
    if errors:
        raise ApiProblem(422, INVALID, errors=errors)
    return data


AMOUNT_SCHEMA = {"type": ["string", "number"],
                 "description": "Montant en euros : nombre ou texte (« 12500.50 », « 12 500,50 »)."}
_JSON_TYPES = {"string": str, "integer": int, "number": (int, Decimal), "boolean": bool}


def field_schema(field) -> dict:
    """The JSON Schema of one form field, as the API documents and checks it."""
    from ..forms import AmountField, DayField, IdSelectField, VersionField

    if isinstance(field, VersionField):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                  "description": "Version lue (facultatif) : si elle a changé, la réponse est 409."}
    elif isinstance(field, AmountField):
        schema = dict(AMOUNT_SCHEMA)
    elif isinstance(field, DayField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, IdSelectField):
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    elif field.type == "BooleanField":
        schema = {"type": "boolean"}
    elif field.type in ("RadioField", "SelectField", "ChoiceField") and field.choices:
        values = [str(choice[0]) if isinstance(choice, tuple) else str(choice.value)
                  for choice in field.choices]
        schema = {"type": "string", "enum": [value for value in values if value]}
    else:
        schema = {"type": "string"}
        for validator in field.validators:
            if getattr(validator, "max", -1) not in (-1, None) and type(validator).__name__ == "Length":
                schema["maxLength"] = validator.max
    schema.setdefault("description", str(field.label.text))
    if "description" in schema and schema["description"] != str(field.label.text):
        schema["description"] = f"{field.label.text}. {schema['description']}"
    return schema


def form_fields(form_class) -> list:
    form = form_class(formdata=None, meta={"csrf": False})
    return [field for field in form if field.name not in HIDDEN_FORM_FIELDS]


def is_required(field) -> bool:
    return any(type(v).__name__ in ("DataRequired", "InputRequired", "Present") for v in field.validators)


def check_types(form_class, body: dict) -> None:
    """Each field of the body of the type the document gives it: else 422, one entry per field."""
    errors = []
    for field in form_fields(form_class):
        if field.name == "version" or body.get(field.name) is None:
            continue
        value = body[field.name]
        schema = field_schema(field)
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        python_types = tuple(t for kind in kinds for t in (
            _JSON_TYPES[kind] if isinstance(_JSON_TYPES[kind], tuple) else (_JSON_TYPES[kind],)))
        if (isinstance(value, bool) and "boolean" not in kinds) or not isinstance(value, python_types):
            errors.append({"field": field.name, "detail": _TYPE_MESSAGES.get(kinds[0], "Type invalide.")})
        elif "enum" in schema and value not in schema["enum"]:
            errors.append({"field": field.name,
                           "detail": "Valeurs possibles : " + ", ".join(schema["enum"]) + "."})
    if errors:
        raise ApiProblem(422, INVALID, errors=errors)


_TYPE_MESSAGES = {"string": "Un texte est attendu.", "integer": "Un nombre entier (identifiant) est attendu.",
                  "boolean": "true ou false est attendu.", "number": "Un nombre est attendu."}


def filled_form(form_class, body: dict, **extra):
    """``form_class`` filled from ``body`` (CSRF off: a bearer token is no cookie), validated."""
    check_types(form_class, body)
    data = form_data(body)
    for key, value in extra.items():
        data[key] = str(value)
    form = form_class(formdata=data, meta={"csrf": False})
    if not form.validate():
        raise ApiProblem(422, INVALID, errors=form_errors(form))
    return form


def form_errors(form) -> list[dict]:
    errors = [{"field": field.name, "detail": str(message)}
              for field in form for message in field.errors]
    errors.extend({"field": "", "detail": str(message)} for message in form.form_errors)
    return errors


def api_field(name: str | None, known) -> str | None:
    """The API's name of an operation's field: the operations say ``agency`` where forms say ``agency_id``."""
    if name is None:
        return None
    if name in known:
        return name
    if f"{name}_id" in known:
        return f"{name}_id"
    return name


def perform(action: Callable[[], T], fields=()) -> T:
    """Run ``action`` (operations), commit once; any refusal rolls back and becomes a problem."""
    try:
        result = action()
        db.session.commit()
    except ModifiedMeanwhile as refused:
        db.session.rollback()
        raise ApiProblem(409, refused.message) from None
    except ActionRefused as refused:
        db.session.rollback()
        if refused.field:
            raise ApiProblem(422, INVALID, errors=[{"field": api_field(refused.field, fields),
                                                    "detail": refused.message}]) from None
        raise ApiProblem(409, refused.message) from None
    except StaleDataError:
        db.session.rollback()
        raise ApiProblem(409, ModifiedMeanwhile().message) from None
    except DataError:
        db.session.rollback()
        raise ApiProblem(422, "Certaines données ne peuvent pas être enregistrées (caractères interdits ou "
                              "valeur hors limites).", errors=[]) from None
    except IntegrityError:
        db.session.rollback()
        raise ApiProblem(409, "Cette modification entre en conflit avec des données enregistrées "
                              "entre-temps (doublon ou donnée modifiée). Relisez la ressource.") from None
    return result
