"""Creating, finding and revoking personal API tokens. Operations flush, never commit.

A token is ``atl_`` followed by 43 URL-safe characters (256 random bits). The database keeps its
SHA-256 only (a slow password hash is pointless for that much entropy) and its first characters,
so that a person recognises it in the list; the token itself is shown once, at creation.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..auth.models import User
from ..common import ActionRefused, utcnow
from ..extensions import db
from .models import TOKEN_SCOPES, ApiToken

TOKEN_PREFIX = "atl_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
LAST_USE_PRECISION = timedelta(minutes=1)  # the last use is written at most once a minute


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(user: User, *, name: str, scope: str, days: int | None = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """A new token of ``user``: the row, and the token in clear (to show once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ActionRefused("Donnez un nom au jeton (par exemple le logiciel qui l'utilise).", "name")
    if len(name) > 100:
        raise ActionRefused("Le nom du jeton ne peut pas dépasser 100 caractères.", "name")
    if scope not in TOKEN_SCOPES:
        raise ActionRefused("Choisissez la portée du jeton : lecture seule ou lecture et écriture.", "scope")
    if days is None:
        days = DEFAULT_DAYS
    if not 1 <= int(days) <= MAX_DAYS:
        raise ActionRefused(f"La durée de validité doit être comprise entre 1 et {MAX_DAYS} jours.", "days")
    if not user.active:
        raise ActionRefused("Ce compte est désactivé : il ne peut pas recevoir de jeton.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user=user, name=name, scope=scope, token_hash=hash_token(token),
                   prefix=token[:12], created_at=now, expires_at=now + timedelta(days=int(days)))
    db.session.add(row)
    db.session.flush()
    return row, token


def find_token(token: str) -> ApiToken | None:
    """The usable token (not revoked, not expired, its user active) matching ``token``, else None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or not row.is_usable(utcnow()):
        return None
    return row


def record_use(row: ApiToken, now: datetime | None = None) -> bool:
    """Note the use of ``row``; True when something was written (at most once a minute)."""
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_PRECISION:
        row.last_used_at = now
        db.session.flush()
        return True
    return False


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(user: User, row: ApiToken) -> None:
    if row.user_id != user.id:
        raise ActionRefused("Ce jeton n'est pas le vôtre.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()


def revoke_tokens_of(user: User) -> int:
    """Revoke every token of ``user`` not revoked yet, for good (reactivating the account later
    revives none); how many there were."""
    result = db.session.execute(update(ApiToken)
                                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow()))
    db.session.flush()
    return result.rowcount
