"""The OpenAPI 3.1 document of ``/api/v1``: what the API accepts — every request is checked against it
before a view runs (``validation.py``) — and what it answers. Event bodies are generated from the pages' form classes
(``CASE_FORMS`` / ``LINE_FORMS``), so a new event or field appears here with no further change."""
import re

from flask import current_app

from ..cases.actions import CASE_HANDLERS, LINE_HANDLERS
from ..cases.event_forms import CASE_FORMS, LINE_FORMS, AskOpinionForm, GiveOpinionForm
from ..cases.forms import EditProjectForm, MinimisForm, ProjectForm
from ..forms import MAX_ID
from ..workflow import CASE_RULES, CASE_STATES, LINE_RULES, LINE_STATES
from .dispatch import AMOUNT_SCHEMA, field_schema, form_fields, is_required
from .problems import PROBLEM_MIMETYPE, PROBLEM_TYPES
from .views import CURSOR_PATTERN, DEFAULT_RATE_LIMIT, MAX_LIMIT

REF = "#/components/schemas/"
API_PREFIX = "/api/v1"


def _ref(name: str) -> dict:
    return {"$ref": REF + name}


NULLABLE_STRING = {"type": ["string", "null"]}
MONEY = {"type": ["string", "null"], "description": "Montant en euros, deux décimales (« 12500.00 »)."}
DATE = {"type": ["string", "null"], "format": "date"}
MOMENT = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer"}


def _object(properties: dict, required=(), **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _list_of(name: str, **more) -> dict:
    return _object({"items": {"type": "array", "items": _ref(name)}, **more}, ["items"])


def _form_body(form_class, *, extra: dict | None = None, required=(), title=None, partial=False) -> dict:
    """The body that fills ``form_class``: its fields and nothing else (an unknown field is refused).
    ``partial``: a PATCH, where every field may be left out, but a required one is never emptied."""
    properties, needed = {}, list(required)
    for field in form_fields(form_class):
        needs_value = is_required(field) and field.name != "version"
        properties[field.name] = field_schema(field, required=needs_value)
        if needs_value and not partial:
            needed.append(field.name)
    properties.update(extra or {})
    schema = _object(properties, needed, additionalProperties=False)
    if title:
        schema["title"] = title
    return schema


def _event_bodies(handlers, forms, rules) -> dict:
    variants = []
    for name in handlers:
        body = _form_body(forms[name], extra={"event": {"const": name, "type": "string"}},
                          required=("event",), title=name)
        body["description"] = rules[name].label if name in rules else name
        variants.append(body)
    return {"oneOf": variants}


# The JSON of an answer's value, by question type (``questionnaires.types.dump``); null: unanswered.
ANSWER_VALUES = {
    "text": {"type": ["string", "null"]}, "long_text": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "amount": {**MONEY, "description": "Montant en euros, deux décimales (« 12500.00 »)."},
    "percentage": {"type": ["string", "null"], "description": "Pourcentage, deux décimales (« 12.50 »)."},
    "date": DATE, "yes_no": {"type": ["boolean", "null"]}, "choice": {"type": ["string", "null"]},
    "choices": {"type": ["array", "null"], "items": {"type": "string"}},
    "siret": {"type": ["string", "null"], "pattern": "^[0-9]{14}$"},
    "document": {"type": ["integer", "null"], "description": "Identifiant d'une pièce du dossier."},
    "group": {"type": ["array", "null"], "items": {"type": "object"},
              "description": "Une ligne par objet : la valeur de chaque colonne par sa clé "
                             "(types ci-dessus)."},
}
ANSWER_INPUT = {
    "anyOf": [{"type": ["string", "integer", "boolean", "null"]},
              {"type": "array", "maxItems": 100,
               "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}}],
    "x-invalid": "Valeur attendue : un texte, un nombre entier, true/false, une liste, ou null.",
    "description": "La valeur, du type de la question (voir « type » dans « answers » du dossier) : "
                   "montants et pourcentages en nombre entier ou en texte (« 12500.50 »), dates AAAA-MM-JJ, "
                   "oui/non en true/false, plusieurs choix en liste, tableau en liste d'objets ; "
                   "null efface.",
}


def _answer_schema() -> dict:
    """An answer as the API shows it: one variant per question type, so its value is typed."""
    variants = []
    for kind, value in ANSWER_VALUES.items():
        properties = {
            "line_id": {"type": ["integer", "null"],
                        "description": "La demande dont le dispositif pose cette question ; null : question "
                                       "commune, posée une fois pour le dossier."},
            "question_key": {"type": "string"}, "label": {"type": "string",
                                                          "description": "Libellé de la version répondue."},
            "type": {"type": "string", "const": kind}, "required": {"type": "boolean"},
            "version": {"type": ["integer", "null"], "description": "Numéro de la version du questionnaire "
                                                                    "dont le libellé a été montré."},
            "value": value,
        }
        if kind in ("choice", "choices"):
            properties["choices"] = {"type": "array", "items": {"type": "string"}}
        if kind == "group":
            properties["columns"] = {"type": "array", "items": _object({
                "key": {"type": "string"}, "label": {"type": "string"}, "type": {"type": "string"}})}
        required = ["line_id", "question_key", "label", "type", "value"]
        variants.append(_object(properties, required, title=kind))
    return {"oneOf": variants}


def _schemas() -> dict:
    problem = _object({
        "type": {"type": "string", "description": "Adresse de l'explication de ce type d'erreur."},
        "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Ce qui ne va pas, en français."},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": _object({"field": {"type": "string"}, "detail": {"type": "string"}},
                                                     ["field", "detail"])},
    }, ["type", "title", "status", "detail"])
    agency = _object({"id": ID, "name": {"type": "string"}, "short_name": {"type": "string"},
                      "kind": {"type": "string"}, "code": {"type": "string"}}, ["id", "name", "short_name"])
    nullable_agency = {"oneOf": [{"type": "null"}, _ref("Agency")]}
    opinion = _object({
        "id": ID, "line_id": ID, "case_reference": {"type": "string"}, "agency": _ref("Agency"),
        "question": {"type": "string"}, "due_on": DATE,
        "verdict": {"type": ["string", "null"], "enum": ["favourable", "reserved", "unfavourable", None]},
        "intended_amount": MONEY, "comment": NULLABLE_STRING, "answered_at": MOMENT, "created_at": MOMENT,
        "overdue": {"type": "boolean"},
    }, ["id", "line_id", "agency", "due_on", "verdict"])
    line = _object({
        "id": ID, "case_reference": {"type": "string"}, "position": ID,
        "state": {"type": "string", "enum": list(LINE_STATES)}, "state_label": {"type": "string"},
        "version": ID,
        "scheme": _object({"id": ID, "code": {"type": "string"}, "name": {"type": "string"},
                           "instrument": {"type": "string"}}, ["id", "code"]),
        "agency": _ref("Agency"),
        **{key: MONEY for key in ("requested_amount", "proposed_amount", "granted_amount",
                                  "gross_grant_equivalent", "released_amount", "paid_total", "remaining_to_pay")},
        "decided_at": MOMENT, "agreement_signed_on": DATE, "settled_at": MOMENT, "updated_at": MOMENT,
        "payments": {"type": "array", "items": _object({"id": ID, "amount": MONEY, "paid_on": DATE})},
        "repayment": {"oneOf": [{"type": "null"}, _object({
            "frequency_months": {"type": "integer", "enum": [1, 3, 6, 12]},
            "deferral_months": {"type": "integer"},
            **{key: MONEY for key in ("repaid_total", "owed", "written_off_amount", "late_total")},
            "instalments": {"type": "array", "items": _object({
                "number": ID, "due_on": DATE, "amount": MONEY, "repaid": MONEY, "late_amount": MONEY})},
            "repayments": {"type": "array", "items": _object({"id": ID, "amount": MONEY, "repaid_on": DATE})},
        }, ["instalments", "owed"])],
            "description": "Avance remboursable ou prêt à taux zéro : l'échéancier fixé à la convention, "
                           "les remboursements, le reste dû et le retard ; null pour les autres aides."},
        "opinions": {"type": "array", "items": _ref("Opinion"),
                     "description": "Avis des partenaires (agents et administrateurs seulement)."},
        "allowed_events": {"type": "array", "items": {"type": "string", "enum": list(LINE_RULES)},
                           "description": "Événements que vous avez le droit de déclencher depuis cet état "
                                          "(leurs conditions peuvent encore les refuser)."},
    }, ["id", "state", "version", "scheme", "agency", "requested_amount"])
    case_summary = _object({
        "reference": {"type": "string"}, "state": {"type": "string", "enum": list(CASE_STATES)},
        "state_label": {"type": "string"}, "version": ID, "title": {"type": "string"},
        "company": _object({"id": ID, "siret": {"type": "string"}, "name": {"type": "string"}}, ["id"]),
        "lead_agency_id": {"type": ["integer", "null"]}, "eligible_cost": MONEY, "requested_total": MONEY,
        "lines": {"type": "array", "items": _object({"id": ID, "state": {"type": "string"},
                                                     "scheme_code": {"type": "string"}, "agency_id": ID,
                                                     "requested_amount": MONEY})},
        "submitted_at": MOMENT, "created_at": MOMENT, "updated_at": MOMENT,
    }, ["reference", "state", "version", "title", "company", "lines", "updated_at"])
    case = {"allOf": [_ref("CaseSummary"), _object({
        "description": {"type": "string"}, "starts_on": DATE, "ends_on": DATE,
        "company": _object({"id": ID, "siret": {"type": "string"}, "siren": {"type": "string"},
                            "name": {"type": "string"}}, ["id", "siret", "name"]),
        "lead_agency": nullable_agency, "minimis_declared": {"type": "boolean"},
        "declared_minimis": {"type": "array", "items": _object({
            "id": ID, "granted_on": DATE, "granting_body": {"type": "string"}, "amount": MONEY,
            "regime": {"type": "string"}})},
        "completed_at": MOMENT, "closed_at": MOMENT,
        "lines": {"type": "array", "items": _ref("Line")},
        "documents": {"type": "array", "items": _object({
            "id": ID, "kind": {"type": "string"}, "filename": {"type": "string"},
            "content_type": {"type": "string"}, "size_bytes": ID, "created_at": MOMENT,
            "download_url": {"type": "string"}}, ["id", "download_url"])},
        "events": {"type": "array", "items": _object({
            "id": ID, "entity": {"type": "string"}, "name": {"type": "string"},
            "line_id": {"type": ["integer", "null"]}, "from_state": NULLABLE_STRING, "to_state": NULLABLE_STRING,
            "actor": NULLABLE_STRING, "agency_id": {"type": ["integer", "null"]}, "reason": NULLABLE_STRING,
            "data": {"type": "object"}, "created_at": MOMENT}, ["id", "entity", "name", "created_at"])},
        "answers": {"type": "array", "items": _ref("Answer"),
                    "description": "Les questions que le dossier pose (questions communes : line_id null ; "
                                   "celles d'un dispositif : la demande), avec leur réponse typée (null : "
                                   "sans réponse) et le libellé de la version répondue."},
        "allowed_events": {"type": "array", "items": {"type": "string", "enum": list(CASE_RULES)}},
    }, ["lines", "documents", "answers", "events", "allowed_events"])]}
    scheme = _object({
        "id": ID, "code": {"type": "string"}, "name": {"type": "string"}, "agency_id": ID, "committee_id": ID,
        "instrument": {"type": "string"}, "instrument_label": {"type": "string"}, "regime": {"type": "string"},
        "ceiling": MONEY, "max_rate": {"type": "string"}, "annual_budget": MONEY, "opens_on": DATE,
        "closes_on": DATE, "required_documents": {"type": "array", "items": {"type": "string"}},
        "eligible_sizes": {"type": "array", "items": {"type": "string"}},
        "eligible_departements": {"type": "array", "items": {"type": "string"}},
        "excluded_naf": {"type": "array", "items": {"type": "string"}}, "description": {"type": "string"},
    }, ["id", "code", "name", "agency_id", "instrument"])
    meeting = _object({
        "id": ID, "committee": _object({"id": ID, "name": {"type": "string"}, "agency_id": ID}, ["id"]),
        "meets_on": DATE, "place": {"type": "string"}, "items": ID, "pending": ID,
        "pack_url": {"type": "string"},
        "agenda": {"type": "array", "items": _object({
            "id": ID, "line_id": ID, "case_reference": {"type": "string"}, "proposed_amount": MONEY,
            "outcome": {"type": "string"}, "granted_amount": MONEY, "decision_reason": NULLABLE_STRING,
            "decided_at": MOMENT, "presented": {"type": "object"}}, ["id", "line_id", "outcome"])},
    }, ["id", "committee", "meets_on"])
    token = _object({"id": ID, "name": {"type": "string"}, "scope": {"type": "string", "enum": ["read", "write"]},
                     "prefix": {"type": "string"}, "created_at": MOMENT, "expires_at": MOMENT,
                     "last_used_at": MOMENT}, ["id", "scope", "expires_at"])
    me = _object({"id": ID, "name": {"type": "string"}, "email": {"type": "string"},
                  "role": {"type": "string", "enum": ["applicant", "agent", "admin"]},
                  "is_secretary": {"type": "boolean"}, "agency": nullable_agency,
                  "companies": {"type": "array", "items": _object({"id": ID, "siret": {"type": "string"},
                                                                   "name": {"type": "string"}})},
                  "token": _ref("Token")}, ["id", "role", "token"])
    new_case = _form_body(ProjectForm, extra={"company_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                                                             "description": "Entreprise dont vous êtes membre."}},
                          required=("company_id",))
    edit_project = _form_body(EditProjectForm, partial=True)  # a PATCH sends only what changes
    new_line = _object({"scheme": {"type": "string", "minLength": 1, "maxLength": 40,
                                   "description": "Code du dispositif (voir /schemes)."},
                        "requested_amount": AMOUNT_SCHEMA}, ["scheme", "requested_amount"],
                       additionalProperties=False)
    return {
        "Problem": problem, "Agency": agency, "Opinion": opinion, "Line": line, "CaseSummary": case_summary,
        "Case": case, "Scheme": scheme, "Meeting": meeting, "Token": token, "Me": me,
        "NewCase": new_case, "ProjectUpdate": edit_project, "NewLine": new_line,
        "MinimisAid": _form_body(MinimisForm),
        "Answer": _answer_schema(),
        "AnswersUpdate": _object({
            "version": {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                        "description": "Version lue du dossier (facultatif) : si elle a changé, "
                                       "la réponse est 409."},
            "answers": {"type": "array", "maxItems": 500, "items": _object({
                "line_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID},
                "question_key": {"type": "string", "minLength": 1, "maxLength": 40},
                "value": ANSWER_INPUT,
                **{name: {"description": "Lu seulement (ignoré)."} for name in
                   ("label", "type", "required", "version", "choices", "columns")},
            }, ["question_key"], additionalProperties=False)},
        }, ["answers"], additionalProperties=False),
        "CaseEvent": _event_bodies(CASE_HANDLERS, CASE_FORMS, CASE_RULES),
        "LineEvent": _event_bodies(LINE_HANDLERS, LINE_FORMS, LINE_RULES),
        "OpinionRequest": _form_body(AskOpinionForm),
        "OpinionAnswer": _form_body(GiveOpinionForm),
    }


PROBLEM_DESCRIPTIONS = {
    400: "Le corps n'est pas du JSON valide.",
    405: "Méthode non prévue sur cette adresse (voir l'en-tête Allow).",
    401: "Aucun jeton, ou un jeton inconnu, expiré, révoqué, ou d'un compte désactivé.",
    403: "Un jeton en lecture seule ne peut pas écrire.",
    404: "Inconnu, ou hors de votre périmètre (la réponse ne dit pas lequel).",
    409: "Action impossible dans l'état actuel, refusée par une règle (alors `errors` nomme le champ en "
         "cause : plafond, date, séance…) ou par les droits, ou version périmée (relisez).",
    422: "Données que ce document n'admet pas : une entrée par champ dans `errors`.",
    429: "Trop de requêtes pour ce jeton : attendez le délai de l'en-tête Retry-After.",
}


def _problems(*statuses) -> dict:
    responses = {}
    for status in statuses:
        response = {"description": PROBLEM_DESCRIPTIONS[status],
                    "content": {PROBLEM_MIMETYPE: {"schema": _ref("Problem")}}}
        if status == 405:
            response["headers"] = {"Allow": {"schema": {"type": "string"},
                                             "description": "Méthodes possibles sur cette adresse."}}
        if status == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                                   "description": "Secondes à attendre."}}
        responses[str(status)] = response
    return responses


def _json(description: str, schema: dict, status: int = 200) -> dict:
    return {str(status): {"description": description, "content": {"application/json": {"schema": schema}}}}


def _op(summary: str, responses: dict, *, write: bool = False, body: dict | None = None, params=(),
        tags=(), description: str | None = None, not_found: bool = True) -> dict:
    statuses = [401, 429]
    if not_found:
        statuses.append(404)
    if params and any(p.get("in") == "query" for p in params):
        statuses.append(422)
    if write:
        statuses += [403, 409, 422]
    if body is not None:
        statuses.append(400)
    operation = {"summary": summary, "tags": list(tags), "parameters": list(params),
                 "responses": {**responses, **_problems(*sorted(set(statuses)))}}
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _path(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# An instant as Python reads it (``datetime.fromisoformat``), between 1900 and 2100.
MOMENT_QUERY = {"type": "string", "format": "date-time",
                "pattern": "^(?:19[0-9]{2}|20[0-9]{2})-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                           "(?:[.][0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$",
                "x-invalid": "Indiquez un horodatage ISO 8601 entre 1900 et 2099 (par exemple 2026-01-31T08:00:00Z)."}
CURSOR_SCHEMA = {"type": "string", "pattern": CURSOR_PATTERN,
                 "x-invalid": "Ce curseur n'est pas valide : reprenez celui de la page précédente (next_cursor)."}

REFERENCE = _path("reference", {"type": "string", "pattern": "^AP-[0-9]{4}-[0-9]{5}$"},
                  "Référence du dossier (AP-aaaa-nnnnn).")


def _id(name: str, what: str) -> dict:
    return _path(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, f"Identifiant {what}.")


def _binary(description: str, mimetype: str) -> dict:
    return {"200": {"description": description, "content": {mimetype: {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}}


UNDOCUMENTED_ENDPOINTS = frozenset({"api.index", "api.openapi_document", "api.docs", "api.unknown"})
_RULE_PARAMETER = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def document_path(rule: str) -> str:
    """The document's path of a route of the blueprint: ``/api/v1/lines/<int:line_id>`` → ``/lines/{line_id}``."""
    return _RULE_PARAMETER.sub(r"{\1}", rule.removeprefix(API_PREFIX))


def _name_operations(paths: dict) -> None:
    """Each operation is named (``operationId``) after the view that serves it, read from the routes."""
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths.get(document_path(rule.rule), {}).get(method.lower())
            if operation is not None:
                operation["operationId"] = rule.endpoint.removeprefix("api.")


def _link(operation_id: str, description: str, **parameters) -> dict:
    return {"operationId": operation_id, "parameters": parameters, "description": description}


CASE_REFERENCE = "$response.body#/reference"
LINE_ID = "$response.body#/id"


def _add_links(paths: dict) -> None:
    """What a response leads to: a created draft to its page, its lines, its events; a line to its
    events and opinions (a client, or a test's state machine, follows them with the real ids)."""
    of_case = {
        "ShowCase": _link("show_case", "Relire le dossier.", reference=CASE_REFERENCE),
        "UpdateProject": _link("update_case", "Modifier le projet.", reference=CASE_REFERENCE),
        "AddLine": _link("add_line", "Ajouter une demande.", reference=CASE_REFERENCE),
        "DeclareMinimisAid": _link("declare_minimis_aid", "Déclarer une aide de minimis.",
                                   reference=CASE_REFERENCE),
        "DeclareNoMinimis": _link("declare_no_minimis", "Déclarer n'en avoir reçu aucune.",
                                  reference=CASE_REFERENCE),
        "CaseEvent": _link("case_event", "Faire avancer le dossier.", reference=CASE_REFERENCE),
        "ReplaceAnswers": _link("replace_answers", "Répondre aux questionnaires.", reference=CASE_REFERENCE),
    }
    of_line = {
        "ShowLine": _link("show_line", "Relire la demande.", line_id=LINE_ID),
        "LineEvent": _link("line_event", "Faire avancer la demande.", line_id=LINE_ID),
        "AskOpinion": _link("ask_opinion", "Demander un avis sur la demande.", line_id=LINE_ID),
        "RemoveLine": _link("remove_line", "Retirer la demande du brouillon.",
                            reference="$response.body#/case_reference", line_id=LINE_ID),
    }
    of_opinion = {
        "ShowOpinion": _link("show_opinion", "Relire l'avis.", opinion_id="$response.body#/id"),
        "GiveOpinion": _link("give_opinion", "Rendre l'avis.", opinion_id="$response.body#/id"),
    }
    first_line = {"ShowFirstLine": _link("show_line", "La première demande du dossier.",
                                         line_id="$response.body#/lines/0/id")}
    for path, method, status, links in (
            ("/cases", "post", "201", {**of_case, **first_line}),
            ("/cases/{reference}", "get", "200", {**of_case, **first_line}),
            ("/cases/{reference}", "patch", "200", of_case),
            ("/cases/{reference}/answers", "put", "200", of_case),
            ("/cases/{reference}/events", "post", "200", {**of_case, **first_line}),
            ("/cases/{reference}/lines", "post", "201", of_line),
            ("/lines/{line_id}", "get", "200", of_line),
            ("/lines/{line_id}/events", "post", "200", of_line),
            ("/lines/{line_id}/opinions", "post", "201", of_opinion),
            ("/opinions/{opinion_id}", "get", "200", of_opinion)):
        paths[path][method]["responses"][status]["links"] = links
    # A draft is created for one of the companies the user belongs to: /me says which.
    paths["/me"]["get"]["responses"]["200"]["links"] = {"CreateCase": {
        "operationId": "create_case", "description": "Créer un brouillon pour une de vos entreprises.",
        "requestBody": {"company_id": "$response.body#/companies/0/id", "title": "Nouveau projet"}}}


def openapi_document() -> dict:
    rate = current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT
    case_events = ", ".join(CASE_HANDLERS)
    line_events = ", ".join(LINE_HANDLERS)
    paths = {
        "/me": {"get": _op("Qui suis-je : l'utilisateur et le jeton de la requête",
                           _json("Utilisateur et jeton", _ref("Me")), tags=["Compte"], not_found=False)},
        "/agencies": {"get": _op("Organismes partenaires", _json("Organismes", _list_of("Agency")),
                                 tags=["Référentiels"], not_found=False)},
        "/schemes": {"get": _op("Dispositifs d'aide", _json("Dispositifs", _list_of("Scheme")),
                                tags=["Référentiels"], not_found=False)},
        "/schemes/{code}": {"get": _op("Un dispositif d'aide", _json("Dispositif", _ref("Scheme")),
                                       params=[_path("code", {"type": "string"}, "Code du dispositif.")],
                                       tags=["Référentiels"])},
        "/cases": {
            "get": _op("Dossiers de votre périmètre, les plus récemment modifiés d'abord",
                       _json("Une page de dossiers", _list_of("CaseSummary",
                                                               next_cursor={"type": ["string", "null"]})),
                       params=[_query("state", {"type": "string", "enum": list(CASE_STATES)}, "État du dossier."),
                               _query("scheme", {"type": "string"}, "Code d'un dispositif d'une des demandes."),
                               _query("agency", {"type": "string"},
                                      "Code d'un organisme, pilote ou titulaire d'une demande."),
                               _query("updated_since", MOMENT_QUERY, "Modifiés depuis (ISO 8601 avec fuseau : Z ou ±hh:mm)."),
                               _query("cursor", CURSOR_SCHEMA, "Curseur : next_cursor de la page précédente."),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                                      "Dossiers par page (25 par défaut).")],
                       tags=["Dossiers"], not_found=False),
            "post": _op("Créer un brouillon (demandeur)", _json("Brouillon créé", _ref("Case"), 201),
                        write=True, body=_ref("NewCase"), tags=["Brouillons"], not_found=False),
        },
        "/cases/{reference}": {
            "get": _op("Un dossier : entreprise, demandes, avis, pièces, historique",
                       _json("Dossier", _ref("Case")), params=[REFERENCE], tags=["Dossiers"]),
            "patch": _op("Modifier le projet d'un brouillon ou d'un dossier incomplet (demandeur)",
                         _json("Dossier modifié", _ref("Case")), write=True, body=_ref("ProjectUpdate"),
                         params=[REFERENCE], tags=["Brouillons"]),
        },
        "/cases/{reference}/lines": {
            "post": _op("Ajouter une demande de financement au plan (demandeur)",
                        _json("Demande ajoutée", _ref("Line"), 201), write=True, body=_ref("NewLine"),
                        params=[REFERENCE], tags=["Brouillons"]),
        },
        "/cases/{reference}/lines/{line_id}": {
            "delete": _op("Retirer une demande d'un brouillon (demandeur)",
                          {"204": {"description": "Demande retirée"}}, write=True,
                          params=[REFERENCE, _id("line_id", "de la demande")], tags=["Brouillons"]),
        },
        "/cases/{reference}/minimis-aids": {
            "post": _op("Déclarer une aide de minimis reçue (demandeur)",
                        _json("Dossier avec la déclaration", _ref("Case"), 201), write=True,
                        body=_ref("MinimisAid"), params=[REFERENCE], tags=["Brouillons"]),
        },
        "/cases/{reference}/no-minimis": {
            "post": _op("Déclarer n'avoir reçu aucune aide de minimis (demandeur)",
                        _json("Dossier avec la déclaration", _ref("Case")), write=True,
                        params=[REFERENCE], tags=["Brouillons"]),
        },
        "/cases/{reference}/answers": {
            "put": _op("Répondre aux questionnaires d'un brouillon ou d'un dossier incomplet (demandeur)",
                       _json("Dossier avec ses réponses", _ref("Case")), write=True,
                       body=_ref("AnswersUpdate"),
                       params=[REFERENCE], tags=["Brouillons"],
                       description="Toutes les réponses, comme `answers` du dossier les donne "
                                   "(`label`, `type`… relus sont ignorés) : chacune est vérifiée par la "
                                   "règle de son type, comme sur la page du questionnaire ; une question "
                                   "cachée par sa condition ne garde pas de réponse ; une question absente "
                                   "ou à null perd la sienne. "
                                   "Une réponse refusée : 422, une entrée par réponse (`answers/<n>/value`) "
                                   "nommant la question ; rien n'est enregistré."),
        },
        "/cases/{reference}/events": {
            "post": _op("Faire avancer un dossier", _json("Dossier après l'événement", _ref("Case")),
                        write=True, body=_ref("CaseEvent"), params=[REFERENCE], tags=["Événements"],
                        description=f"Événements : {case_events}. Le dépôt (`submit`) et le renvoi "
                                    "(`resubmit`) sont ceux du demandeur ; les autres, ceux des agents, "
                                    "selon les mêmes droits que les pages. `version` (facultatif) : la "
                                    "version du dossier lue."),
        },
        "/cases/{reference}/documents/{document_id}": {
            "get": _op("Télécharger une pièce",
                       _binary("Le fichier, de son type (PDF, image, bureautique)", "*/*"),
                       params=[REFERENCE, _id("document_id", "de la pièce")], tags=["Dossiers"]),
        },
        "/lines/{line_id}": {
            "get": _op("Une demande de financement", _json("Demande", _ref("Line")),
                       params=[_id("line_id", "de la demande")], tags=["Demandes"]),
        },
        "/lines/{line_id}/events": {
            "post": _op("Faire avancer une demande de financement", _json("Demande après l'événement",
                                                                           _ref("Line")),
                        write=True, body=_ref("LineEvent"), params=[_id("line_id", "de la demande")],
                        tags=["Événements"],
                        description=f"Événements : {line_events}. `version` (facultatif) : la version de "
                                    "la demande lue."),
        },
        "/lines/{line_id}/opinions": {
            "post": _op("Demander l'avis d'un organisme partenaire", _json("Avis demandé", _ref("Opinion"), 201),
                        write=True, body=_ref("OpinionRequest"), params=[_id("line_id", "de la demande")],
                        tags=["Avis"]),
        },
        "/opinions": {
            "get": _op("Avis demandés à votre organisme (100 au plus)", _json("Avis", _list_of("Opinion")),
                       params=[_query("status", {"type": "string", "enum": ["pending", "answered", "all"]},
                                      "Avis attendus (par défaut), rendus, ou tous.")],
                       tags=["Avis"], not_found=False),
        },
        "/opinions/{opinion_id}": {
            "get": _op("Un avis", _json("Avis", _ref("Opinion")), params=[_id("opinion_id", "de l'avis")],
                       tags=["Avis"]),
        },
        "/opinions/{opinion_id}/answer": {
            "post": _op("Rendre un avis (agent de l'organisme consulté)", _json("Avis rendu", _ref("Opinion")),
                        write=True, body=_ref("OpinionAnswer"), params=[_id("opinion_id", "de l'avis")],
                        tags=["Avis"]),
        },
        "/meetings": {
            "get": _op("Séances des comités de votre organisme (100 au plus)",
                       _json("Séances", _list_of("Meeting")), tags=["Comités"], not_found=False),
        },
        "/meetings/{meeting_id}": {
            "get": _op("Une séance et son ordre du jour", _json("Séance", _ref("Meeting")),
                       params=[_id("meeting_id", "de la séance")], tags=["Comités"]),
        },
        "/meetings/{meeting_id}/pack": {
            "get": _op("Le dossier de séance (classeur Excel)",
                       _binary("Le classeur", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                       params=[_id("meeting_id", "de la séance")], tags=["Comités"]),
        },
    }
    _name_operations(paths)
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Atelier des projets — API des partenaires",
            "version": "1.0.0",
            "description": (
                "L'API REST du guichet unique des aides aux entreprises en Bourgogne-Franche-Comté. "
                "Un jeton personnel (page « Mon compte », ou `flask --app atelier create-token`) est envoyé "
                "dans l'en-tête `Authorization: Bearer <jeton>` ; il voit et fait exactement ce que son "
                "utilisateur voit et fait dans les pages. Un jeton `read` ne fait que lire. "
                f"Limite : {rate} par jeton (au-delà : 429 et l'en-tête Retry-After). "
                "Erreurs : `application/problem+json` (RFC 9457), avec un `detail` en français."),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": name} for name in ("Compte", "Référentiels", "Dossiers", "Brouillons", "Événements",
                                             "Demandes", "Avis", "Comités")],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Jeton personnel d'accès à l'API (atl_…)."}},
        },
        "x-problem-types": {f"probleme-{slug}": {"status": status, "title": title}
                            for status, (slug, title) in PROBLEM_TYPES.items()},
    }
