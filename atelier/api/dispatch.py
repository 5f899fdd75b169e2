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


def _json_number(text: str) -> Decimal | int:
    """A JSON number with a fraction or an exponent, kept exact; a whole one (``37.0``) is an integer,
    as JSON Schema counts it (not for huge exponents, which no field accepts anyway)."""
    number = Decimal(text)
    if number.is_finite() and number == number.to_integral_value() and number.adjusted() < 18:
        return int(number)
    return number


def json_body() -> dict:
    """The request's JSON object (amounts with decimals kept exact), or a 400/422 problem."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_float=_json_number)
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


# What the document says of typed values, and so what the API accepts (``validation.py``): a
# subset of what the pages' rules read (``common.parse_amount``, ``forms.DayField``), never more.
_SPACE = "[ \u00a0\u202f]"
_EUROS = f"(?:{_SPACE}?€)?"
_WHOLE = f"(?:[1-9][0-9]{{0,11}}|[1-9][0-9]{{0,2}}(?:{_SPACE}[0-9]{{3}}){{1,3}})"
_CENTS = "(?:[.,][0-9]{1,2})?"
POSITIVE_AMOUNT_PATTERN = f"^(?:{_WHOLE}{_CENTS}|0[.,](?:0[1-9]|[1-9][0-9]?)){_EUROS}$"
AMOUNT_PATTERN = f"^(?:{_WHOLE}|0){_CENTS}{_EUROS}$"
MAX_WHOLE_EUROS = 999_999_999_999
AMOUNT_MESSAGE = ("Un montant en euros est attendu : un nombre entier, ou un texte comme « 12500.50 », "
                  "« 12 500,50 » ou « 12500 € » (deux décimales au plus, moins de mille milliards).")


def amount_schema(*, allow_zero: bool = False, nullable: bool = False) -> dict:
    """A sum in euros as the API takes it: a whole number, or a text with up to two decimals."""
    pattern = AMOUNT_PATTERN if allow_zero else POSITIVE_AMOUNT_PATTERN
    variants = [{"type": "integer", "minimum": 0 if allow_zero else 1, "maximum": MAX_WHOLE_EUROS},
                {"type": "string", "pattern": pattern}]
    if nullable:
        variants.append({"type": "null"})
    return {"anyOf": variants, "x-invalid": AMOUNT_MESSAGE + (" Zéro est accepté." if allow_zero else ""),
            "description": "Montant en euros : nombre entier, ou texte (« 12500.50 », « 12 500,50 »)."
                           + (" Zéro est accepté." if allow_zero else " Supérieur à zéro.")}


AMOUNT_SCHEMA = amount_schema()
DATE_SCHEMA = {"type": "string", "format": "date", "pattern": "^(?:19[0-9]{2}|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$",
               "x-invalid": "Indiquez une date AAAA-MM-JJ entre 1900 et 2100."}
# Some character that is neither a space nor a control character (which the pages' filters remove).
FILLED_PATTERN = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"


def _allows_zero(field) -> bool:
    """Whether the field's own amount rule takes 0 (asked of the rule itself)."""
    from ..forms import Checked

    for validator in field.validators:
        if isinstance(validator, Checked):
            try:
                validator.rule("0", field.name, *validator.args, **validator.kwargs)
            except ActionRefused:
                return False
            return True
    return False


def field_schema(field, *, required: bool = False) -> dict:
    """The JSON Schema of one form field: what the API accepts for it (null: left empty)."""
    from ..forms import AmountField, DayField, IdSelectField, VersionField

    if isinstance(field, VersionField):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                  "description": "Version lue (facultatif) : si elle a changé, la réponse est 409."}
    elif isinstance(field, AmountField):
        return {**amount_schema(allow_zero=_allows_zero(field), nullable=not required),
                "description": f"{field.label.text}. " + amount_schema()["description"].split(" Supérieur")[0]}
    elif isinstance(field, DayField):
        schema = dict(DATE_SCHEMA)
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
        if required:
            schema.update(minLength=1, pattern=FILLED_PATTERN, **{"x-invalid": "Ce champ ne peut pas être vide."})
    schema.setdefault("description", str(field.label.text))
    if schema["description"] != str(field.label.text):
        schema["description"] = f"{field.label.text}. {schema['description']}"
    if not required:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        schema["type"] = [schema["type"], "null"]
    return schema


def form_fields(form_class) -> list:
    form = form_class(formdata=None, meta={"csrf": False})
    return [field for field in form if field.name not in HIDDEN_FORM_FIELDS]


def is_required(field) -> bool:
    return any(type(v).__name__ in ("DataRequired", "InputRequired", "Present") for v in field.validators)


def filled_form(form_class, body: dict, **extra):
    """``form_class`` filled from ``body`` (CSRF off: a bearer token is no cookie), validated. The body
    was already checked against the document (``validation.py``)."""
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
        if isinstance(getattr(refused, "errors", None), dict):  # values judged by their own rules
            errors = [{"field": field, "detail": detail} for field, detail in refused.errors.items()]
            raise ApiProblem(422, refused.message, errors=errors) from None
        # Well-formed (the document was checked first) but refused by a rule of the product: 409,
        # with the field the rule is about when there is one.
        errors = [{"field": api_field(refused.field, fields), "detail": refused.message}] if refused.field else None
        raise ApiProblem(409, refused.message, errors=errors) from None
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
