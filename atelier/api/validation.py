"""The OpenAPI document checks every request before a view reads it: one source for what is accepted.

The query parameters and the JSON body of a request are validated against the schemas of its
operation in the very document served at ``/api/v1/openapi.json`` (``openapi.py``), so the
document cannot promise more, or less, than the API accepts. What the document refuses is a 422
with one French message per field; what it accepts reaches the pages' forms and operations, whose
rules the document cannot say (a ceiling, a date after another, a meeting of the right committee)
answer 409 (``dispatch.perform``).
"""
import re

from flask import current_app, request
from jsonschema import Draft202012Validator, FormatChecker

from .dispatch import json_body
from .problems import ApiProblem

INVALID = "Certaines données sont invalides : voyez le détail de chaque champ."
_INTEGER = re.compile(r"-?[0-9]+")


def _document() -> dict:
    """The document of this application, built once (it depends on the configuration only)."""
    cache = current_app.extensions.setdefault("atelier-openapi", {})
    if "document" not in cache:
        from .openapi import openapi_document

        cache["document"] = openapi_document()
    return cache["document"]


def _validator(schema: dict) -> Draft202012Validator:
    """A validator of ``schema`` whose ``$ref`` point into the document's components."""
    document = _document()
    return Draft202012Validator({**schema, "components": document["components"]},
                                format_checker=FormatChecker())


def _operation() -> dict | None:
    """The operation of the document this request's route serves (None outside the document)."""
    from .openapi import API_PREFIX, document_path

    rule = request.url_rule
    if rule is None or not rule.rule.startswith(API_PREFIX):
        return None
    method = "get" if request.method == "HEAD" else request.method.lower()  # HEAD runs the GET view
    return _document()["paths"].get(document_path(rule.rule), {}).get(method)


def _typed(text: str, schema: dict):
    """A query string value as the type its schema gives (a non-number stays text: refused)."""
    if schema.get("type") == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    return text


def check_request() -> None:
    """Refuse (422) a request whose query or body the document does not allow."""
    operation = _operation()
    if operation is None:
        return
    errors = []
    for parameter in operation.get("parameters", ()):
        if parameter["in"] != "query" or parameter["name"] not in request.args:
            continue
        value = _typed(request.args[parameter["name"]], parameter["schema"])
        errors += [{"field": parameter["name"], "detail": _message(error)}
                   for error in _validator(parameter["schema"]).iter_errors(value)][:1]
    request_body = operation.get("requestBody", {})
    body_schema = request_body.get("content", {}).get("application/json", {}).get("schema")
    if request_body.get("required") and not request.get_data(cache=True).strip():
        errors.append({"field": "", "detail": "Le corps de la requête est obligatoire : un objet JSON ({…})."})
    elif body_schema is not None:
        errors += body_errors(json_body(), body_schema)
    if errors:
        raise ApiProblem(422, INVALID, errors=errors)


def body_errors(body: dict, schema: dict) -> list[dict]:
    """One French message per field of ``body`` that ``schema`` refuses.

    A choice between bodies (``oneOf`` keyed by a constant ``event``) is judged against the body of
    the event named, so the messages speak of that event's fields.
    """
    schema = _resolved(schema)
    if "oneOf" in schema and all("event" in _resolved(v).get("properties", {}) for v in schema["oneOf"]):
        variants = {_resolved(v)["properties"]["event"]["const"]: _resolved(v) for v in schema["oneOf"]}
        if not isinstance(body.get("event"), str) or body["event"] not in variants:
            return [{"field": "event", "detail": "Événement inconnu. Événements possibles : "
                                                 + ", ".join(variants) + "."}]
        schema = variants[body["event"]]
    found: dict[str, str] = {}
    for error in sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.path)):
        field = _field(error)
        found.setdefault(field, _message(error))
    return [{"field": field, "detail": detail} for field, detail in found.items()]


def _resolved(schema: dict) -> dict:
    reference = schema.get("$ref")
    if reference:
        return _document()["components"]["schemas"][reference.rsplit("/", 1)[1]]
    return schema


def _field(error) -> str:
    if error.validator == "required":
        return re.findall(r"'([^']*)'", error.message)[0] if "'" in error.message else ""
    if error.validator == "additionalProperties":
        extras = re.findall(r"'([^']*)'", error.message)
        return extras[0] if extras else ""
    return str(error.path[0]) if error.path else ""


def _message(error) -> str:
    """What is wrong, in French, from the schema the value broke."""
    schema, keyword = error.schema, error.validator
    if keyword == "required":
        return "Ce champ est obligatoire."
    if keyword == "additionalProperties":
        return "Champ inconnu : les champs possibles sont ceux du document OpenAPI."
    if isinstance(schema, dict) and schema.get("x-invalid"):
        return schema["x-invalid"]
    if keyword in ("anyOf", "oneOf"):
        for branch in error.schema[keyword]:
            if isinstance(branch, dict) and branch.get("x-invalid"):
                return branch["x-invalid"]
        return "Valeur invalide."
    if keyword == "enum":
        return "Valeurs possibles : " + ", ".join(str(v) for v in schema["enum"] if v is not None) + "."
    if keyword == "const":
        return f"Valeur attendue : {schema['const']}."
    if keyword == "type":
        expected = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return _TYPE_MESSAGES.get(expected[0], "Type invalide.")
    if keyword == "maxLength":
        return f"{schema['maxLength']} caractères au plus."
    if keyword in ("minLength", "pattern"):
        return "Ce champ ne peut pas être vide." if keyword == "minLength" else "Format invalide."
    if keyword in ("minimum", "maximum"):
        return f"Valeur entre {schema.get('minimum', '…')} et {schema.get('maximum', '…')}."
    if keyword == "format":
        return "Format invalide (dates : AAAA-MM-JJ ; horodatages : ISO 8601)."
    return "Valeur invalide."


_TYPE_MESSAGES = {"string": "Un texte est attendu.", "integer": "Un nombre entier est attendu.",
                  "boolean": "true ou false est attendu.", "number": "Un nombre est attendu.",
                  "object": "Un objet JSON est attendu ({…})."}
