"""Accounts: registration of applicants, creation of agents/secretaries/admins, authentication."""
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..agencies.models import Agency
from ..common import ActionRefused
from ..extensions import db
from .models import User

MIN_PASSWORD_LENGTH = 12


def normalise_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ActionRefused("Cette adresse électronique n'est pas valide.", "email") from None


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ActionRefused(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
                            "password")


def find_user_by_email(email: str) -> User | None:
    address = (email or "").strip().lower()
    if "\x00" in address:  # no account has one (normalise_email refuses it), and PostgreSQL refuses it
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == address))


def create_user(*, email: str, name: str, password: str, role: str = "applicant",
                agency_slug: str | None = None, agency: Agency | None = None,
                is_secretary: bool = False) -> User:
    address = normalise_email(email)
    if find_user_by_email(address) is not None:
        raise ActionRefused("Un compte existe déjà avec cette adresse électronique.", "email")
    if not (name or "").strip():
        raise ActionRefused("Le nom est obligatoire.", "name")
    if len(name.strip()) > 200:
        raise ActionRefused("Le nom ne peut pas dépasser 200 caractères.", "name")
    check_password_rules(password)
    if role not in ("applicant", "agent", "admin"):
        raise ActionRefused("Rôle inconnu.", "role")
    if role == "agent" and agency is None:
        agency = db.session.scalar(select(Agency).where(Agency.slug == agency_slug)) if agency_slug else None
        if agency is None:
            raise ActionRefused("Un agent doit appartenir à un organisme existant.", "agency")
    if is_secretary and role != "agent":
        raise ActionRefused("Seul un agent peut être secrétaire de comité.", "is_secretary")
    user = User(email=address, name=name.strip(), role=role,
                agency=agency if role == "agent" else None, is_secretary=is_secretary)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def register_applicant(*, email: str, name: str, password: str) -> User:
    return create_user(email=email, name=name, password=password, role="applicant")


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
    """The account can no longer log in, and an open session ends at its next request."""
    _check_admin(actor)
    if user.id == actor.id:
        raise ActionRefused("Vous ne pouvez pas désactiver votre propre compte.")
    if not user.active:
        raise ActionRefused("Ce compte est déjà désactivé.")
    user.active = False
    db.session.flush()


def reactivate_user(actor: User, user: User) -> None:
    _check_admin(actor)
    if user.active:
        raise ActionRefused("Ce compte est déjà actif.")
    user.active = True
    db.session.flush()
