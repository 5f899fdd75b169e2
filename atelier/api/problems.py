"""Errors of the API as ``application/problem+json`` (RFC 9457), with a French ``detail``."""
from flask import Response, json, request

PROBLEM_TYPES = {
    400: ("requete-invalide", "Requête invalide"),
    401: ("authentification", "Authentification requise"),
    403: ("portee-insuffisante", "Action non autorisée pour ce jeton"),
    404: ("introuvable", "Ressource introuvable"),
    405: ("methode", "Méthode non autorisée"),
    409: ("conflit", "Action impossible dans l'état actuel"),
    413: ("trop-volumineux", "Requête trop volumineuse"),
    422: ("donnees-invalides", "Données invalides"),
    429: ("trop-de-requetes", "Trop de requêtes"),
    500: ("erreur-interne", "Erreur interne"),
    503: ("indisponible", "Service momentanément indisponible"),
}
PROBLEM_MIMETYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised anywhere in an API view: answered as a problem document."""

    def __init__(self, status: int, detail: str, *, errors: list[dict] | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def field_error(field: str, detail: str) -> ApiProblem:
    return ApiProblem(422, "Certaines données sont invalides : voyez le détail de chaque champ.",
                      errors=[{"field": field, "detail": detail}])


def problem_response(status: int, detail: str, *, errors: list[dict] | None = None,
                     headers: dict | None = None) -> Response:
    slug, title = PROBLEM_TYPES.get(status, ("erreur", "Erreur"))
    body = {"type": f"{request.url_root.rstrip('/')}/api/v1/docs#probleme-{slug}", "title": title,
            "status": status, "detail": detail, "instance": request.path}
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIMETYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="atelier"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


NOT_FOUND = "Cette ressource n'existe pas ou n'est pas dans votre périmètre."


def not_found_response() -> Response:
    """The API's 404: the same whether the address is unknown, out of range or out of your perimeter."""
    return problem_response(404, NOT_FOUND)
