"""Accounts: registration of applicants, creation of agents/secretaries/admins, authentication,
password rules, password change and reset by a signed link."""
import hashlib
from functools import lru_cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..agencies.models import Agency
from ..common import ActionRefused
from ..extensions import db
from ..api.tokens import revoke_tokens_of
from .models import User
from .sessions import end_sessions

MIN_PASSWORD_LENGTH = 12


def normalise_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ActionRefused("Cette adresse électronique n'est pas valide.", "email") from None


COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")
COMMON_PASSWORD = ("Ce mot de passe fait partie des plus courants, les premiers qu'essaie un attaquant : "
                   "choisissez-en un autre (une phrase de plusieurs mots, par exemple).")
PASSWORD_IS_EMAIL = "Le mot de passe ne doit pas être votre adresse électronique, ni sa partie avant « @ »."


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10 000 most common passwords, lower-cased: the first 10 000 distinct entries of the list
    Django ships (django/contrib/auth/common-passwords.txt.gz, BSD licence; from public breach
    corpora compiled by Royce Williams), hashcat ``$hex[…]`` entries decoded."""
    with open(COMMON_PASSWORDS_FILE, encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def check_password_rules(password: str, email: str | None = None, field: str = "password") -> None:
    """At least 12 characters, not among the most common passwords, not the email or its local
    part (compared without case nor surrounding spaces)."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ActionRefused(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
                            field)
    lowered = password.strip().lower()
    if lowered in common_passwords():
        raise ActionRefused(COMMON_PASSWORD, field)
    address = (email or "").strip().lower()
    if address and lowered in {address, address.rsplit("@", 1)[0]}:
        raise ActionRefused(PASSWORD_IS_EMAIL, field)


def find_user_by_email(email: str) -> User | None:
    address = (email or "").strip().lower()
    if "\x00" in address:  # no account has one (normalise_email refuses it), and PostgreSQL refuses it
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == address))


def check_name(name: str) -> str:
    """A person's name as stored: required, 200 characters at most, without surrounding spaces."""
    if not (name or "").strip():
        raise ActionRefused("Le nom est obligatoire.", "name")
    if len(name.strip()) > 200:
        raise ActionRefused("Le nom ne peut pas dépasser 200 caractères.", "name")
    return name.strip()


def create_user(*, email: str, name: str, password: str, role: str = "applicant",
                agency_slug: str | None = None, agency: Agency | None = None,
                is_secretary: bool = False) -> User:
    address = normalise_email(email)
    if find_user_by_email(address) is not None:
        raise ActionRefused("Un compte existe déjà avec cette adresse électronique.", "email")
    name = check_name(name)
    check_password_rules(password, address)
    if role not in ("applicant", "agent", "admin"):
        raise ActionRefused("Rôle inconnu.", "role")
    if role == "agent" and agency is None:
        agency = db.session.scalar(select(Agency).where(Agency.slug == agency_slug)) if agency_slug else None
        if agency is None:
            raise ActionRefused("Un agent doit appartenir à un organisme existant.", "agency")
    if is_secretary and role != "agent":
        raise ActionRefused("Seul un agent peut être secrétaire de comité.", "is_secretary")
    user = User(email=address, name=name, role=role,
                agency=agency if role == "agent" else None, is_secretary=is_secretary)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


WRONG_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."
ACCOUNT_DEACTIVATED = ("Ce compte est désactivé. Adressez-vous à l'administrateur de la plateforme "
                       "si vous pensez qu'il s'agit d'une erreur.")
_dummy_hash: str | None = None


def authenticate(email: str, password: str) -> User:
    """The user whose password matches, else a refusal.

    An unknown address and a wrong password get the same message, and take the same time (a hash
    is checked either way), so the login form does not tell which addresses have an account. Only
    someone who knows the password learns that the account is deactivated.
    """
    global _dummy_hash
    user = find_user_by_email(email)
    if user is None:
        if _dummy_hash is None:
            _dummy_hash = generate_password_hash("personne", method="scrypt")
        check_password_hash(_dummy_hash, password or "")
        raise ActionRefused(WRONG_CREDENTIALS)
    if not user.check_password(password or ""):
        raise ActionRefused(WRONG_CREDENTIALS)
    if not user.active:
        raise ActionRefused(ACCOUNT_DEACTIVATED)
    return user


def _check_admin(actor: User) -> None:
    if not actor.is_admin:
        raise ActionRefused("Seul un administrateur de la plateforme peut gérer les comptes.")


def deactivate_user(actor: User, user: User) -> None:
    """The account can no longer log in; its sessions end and its API tokens are revoked for good (a
    reactivation revives neither)."""
    _check_admin(actor)
    if user.id == actor.id:
        raise ActionRefused("Vous ne pouvez pas désactiver votre propre compte.")
    if not user.active:
        raise ActionRefused("Ce compte est déjà désactivé.")
    user.active = False
    end_sessions(user)
    revoke_tokens_of(user)
    db.session.flush()


def reactivate_user(actor: User, user: User) -> None:
    _check_admin(actor)
    if user.active:
        raise ActionRefused("Ce compte est déjà actif.")
    user.active = True
    db.session.flush()


# --------------------------------------------------------------------------- password change and reset

def password_fingerprint(user: User) -> str:
    """A short digest of the password hash: it changes when the password does, so a reset link that
    carries it stops being valid then (single use)."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def change_password(user: User, *, current: str, new: str, revoke_tokens: bool = False) -> None:
    """A new password: every session of the account ends (the page opens a new one for the browser
    that asked, so that a copy of its former cookie ends too), and the API tokens are revoked when
    the person asks for it."""
    if not user.check_password(current or ""):
        raise ActionRefused("Le mot de passe actuel est incorrect.", "current")
    if current == new:
        raise ActionRefused("Choisissez un mot de passe différent de l'actuel.", "password")
    check_password_rules(new, user.email)
    user.set_password(new)
    end_sessions(user)
    if revoke_tokens:
        revoke_tokens_of(user)
    db.session.flush()


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="atelier-password-reset")


def password_reset_token(user: User) -> str:
    """A new reset link's token (flushes: the caller commits before sending it). Signed, dated, and
    bound to the current password and to the number of links made so far: valid
    PASSWORD_RESET_MAX_AGE seconds, once only (using it changes the password, hence the fingerprint),
    and only until a newer link is made."""
    user.reset_count = (user.reset_count or 0) + 1
    db.session.flush()
    return _reset_serializer().dumps({"user": user.id, "password": password_fingerprint(user),
                                      "link": user.reset_count})


INVALID_RESET_LINK = ("Ce lien de réinitialisation n'est pas valable : il a déjà servi, il a été remplacé "
                      "par un plus récent, ou il est incomplet. Demandez-en un nouveau.")
EXPIRED_RESET_LINK = "Ce lien de réinitialisation a expiré. Demandez-en un nouveau."
SUPERSEDED_RESET_LINK = ("Ce lien de réinitialisation a été remplacé par un plus récent : utilisez le lien "
                         "du dernier message reçu, ou demandez-en un nouveau.")


def user_for_reset_token(token: str) -> User:
    """The account the link was made for, else a refusal saying why (expired, used, forged)."""
    try:
        payload = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired:
        raise ActionRefused(EXPIRED_RESET_LINK) from None
    except BadSignature:
        raise ActionRefused(INVALID_RESET_LINK) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int) \
            or not 0 < payload["user"] < 2**31:
        raise ActionRefused(INVALID_RESET_LINK)
    user = db.session.get(User, payload["user"])
    if user is None or not user.active or payload.get("password") != password_fingerprint(user):
        raise ActionRefused(INVALID_RESET_LINK)
    if payload.get("link") != user.reset_count:
        raise ActionRefused(SUPERSEDED_RESET_LINK)
    return user


def reset_password(token: str, new: str, *, keep_tokens: bool = False) -> User:
    """A new password from a reset link: every session of the account ends and, unless the person
    chose to keep them, its API tokens are revoked (whoever knew the old password may have made some)."""
    user = user_for_reset_token(token)
    check_password_rules(new, user.email)
    user.set_password(new)
    end_sessions(user)
    if not keep_tokens:
        revoke_tokens_of(user)
    db.session.flush()
    return user


def active_user_by_email(email: str) -> User | None:
    """For the "forgotten password" form: an active account with that address, if any."""
    try:
        address = normalise_email(email)
    except ActionRefused:
        return None
    user = find_user_by_email(address)
    return user if user is not None and user.active else None
