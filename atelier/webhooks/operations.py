"""What an administrator does with an agency's webhooks. Operations flush, never commit.

There is no "agency administrator" role: the platform's admins manage the webhooks of every agency.
"""
import secrets
from urllib.parse import urlsplit

from sqlalchemy import update

from ..agencies.models import Agency
from ..auth.models import User
from ..common import ActionRefused, utcnow
from ..extensions import db
from ..forms import one_line
from .delivery import allowed_networks, setting
from .network import literal_address, permitted
from .models import Webhook, WebhookDelivery

MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200
MAX_URL_LENGTH = 500


def _admin_only(actor: User | None) -> None:
    if actor is None or not actor.is_admin:
        raise ActionRefused("Seul un administrateur de la plateforme gère les webhooks.")


def parse_webhook_url(value, field: str | None = "url") -> str:
    """An https:// address (http:// too where WEBHOOKS_ALLOW_HTTP is set), or a French refusal.

    An IP address written in the URL must be public (or in WEBHOOKS_ALLOWED_NETWORKS)."""
    url = one_line(value or "")
    if not url:
        raise ActionRefused("Indiquez l'adresse qui recevra les événements.", field)
    if len(url) > MAX_URL_LENGTH:
        raise ActionRefused(f"L'adresse est trop longue ({MAX_URL_LENGTH} caractères au plus).", field)
    if any(char.isspace() for char in url):
        raise ActionRefused("L'adresse ne peut pas contenir d'espace.", field)
    allow_http = bool(setting("WEBHOOKS_ALLOW_HTTP"))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
    except ValueError:
        raise ActionRefused("Cette adresse n'est pas valide (par exemple https://exemple.fr/atelier).",
                            field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ActionRefused("Indiquez une adresse complète commençant par https:// "
                            "(par exemple https://exemple.fr/atelier).", field)
    if scheme == "http" and not allow_http:
        raise ActionRefused("L'adresse doit commencer par https:// : les événements ne circulent "
                            "que chiffrés.", field)
    if parts.username is not None or parts.password is not None:
        raise ActionRefused("L'adresse ne peut pas contenir d'identifiant ni de mot de passe : "
                            "le secret sert à authentifier les envois.", field)
    if parts.fragment:
        raise ActionRefused("L'adresse ne peut pas contenir de fragment (#…).", field)
    # A name is checked at each delivery, once resolved; an address typed as such is refused now.
    address = literal_address(parts.hostname)
    if address is not None and not permitted(address, allowed_networks()):
        raise ActionRefused("Cette adresse désigne un réseau privé, local ou réservé : les événements "
                            "ne sont envoyés qu'à des adresses publiques.", field)
    return url


def parse_secret(value, field: str | None = "secret") -> str | None:
    """A typed secret (16 to 200 printable characters), or ``None`` to have one generated."""
    text = one_line(value or "")
    if not text:
        return None
    if len(text) < MIN_SECRET_LENGTH:
        raise ActionRefused(f"Le secret doit compter au moins {MIN_SECRET_LENGTH} caractères "
                            "(laissez vide pour qu'il soit créé pour vous).", field)
    if len(text) > MAX_SECRET_LENGTH:
        raise ActionRefused(f"Le secret est trop long ({MAX_SECRET_LENGTH} caractères au plus).", field)
    if any(char.isspace() for char in text) or not text.isprintable():
        raise ActionRefused("Le secret ne peut contenir ni espace ni caractère invisible.", field)
    return text


def parse_description(value, field: str | None = "description") -> str:
    text = one_line(value or "")
    if len(text) > 200:
        raise ActionRefused("La description est trop longue (200 caractères au plus).", field)
    return text


def create_webhook(actor: User, agency: Agency, *, url, secret=None, description="") -> tuple[Webhook, str]:
    """The new webhook and its secret (generated when none is typed), to be shown once."""
    _admin_only(actor)
    url = parse_webhook_url(url)
    chosen = parse_secret(secret)
    description = parse_description(description)
    secret = chosen or secrets.token_urlsafe(32)
    webhook = Webhook(agency=agency, url=url, secret=secret, description=description, created_by=actor,
                      active=True)
    db.session.add(webhook)
    db.session.flush()
    return webhook, secret


def deactivate_webhook(actor: User, webhook: Webhook) -> None:
    """No more deliveries are queued; those already queued wait (and go when it is reactivated)."""
    _admin_only(actor)
    if not webhook.active:
        raise ActionRefused("Ce webhook est déjà désactivé.")
    webhook.active, webhook.deactivated_at = False, utcnow()
    db.session.flush()


def reactivate_webhook(actor: User, webhook: Webhook) -> None:
    _admin_only(actor)
    if webhook.active:
        raise ActionRefused("Ce webhook est déjà actif.")
    webhook.active, webhook.deactivated_at = True, None
    db.session.flush()


def delete_webhook(actor: User, webhook: Webhook) -> None:
    """The webhook, its deliveries and their attempts are deleted."""
    _admin_only(actor)
    db.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.webhook_id == webhook.id))
    db.session.delete(webhook)
    db.session.flush()


def _requeue(*conditions) -> int:
    now = utcnow()
    result = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status == "failed", *conditions)
        .values(status="pending", queued_at=now, next_attempt_at=now)
        .execution_options(synchronize_session=False))
    db.session.flush()
    return result.rowcount


def retry_delivery(actor: User, delivery: WebhookDelivery) -> int:
    """Send a failed delivery again, with the failed ones after it on the same dossier (in order).

    Returns how many deliveries are queued again.
    """
    _admin_only(actor)
    if delivery.status != "failed":
        raise ActionRefused("Seul un envoi abandonné peut être relancé.")
    return _requeue(WebhookDelivery.webhook_id == delivery.webhook_id,
                    WebhookDelivery.case_id == delivery.case_id,
                    WebhookDelivery.event_id >= delivery.event_id)


def retry_failed_deliveries(actor: User, webhook: Webhook) -> int:
    """Send every failed delivery of ``webhook`` again. Returns how many are queued again."""
    _admin_only(actor)
    count = _requeue(WebhookDelivery.webhook_id == webhook.id)
    if not count:
        raise ActionRefused("Aucun envoi abandonné à relancer pour ce webhook.")
    return count
