"""Accounts: registration of applicants, creation of agents/secretaries/admins, authentication."""
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

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
    return db.session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


def create_user(*, email: str, name: str, password: str, role: str = "applicant",
                agency_slug: str | None = None, agency: Agency | None = None,
                is_secretary: bool = False) -> User:
    address = normalise_email(email)
    if find_user_by_email(address) is not None:
        raise ActionRefused("Un compte existe déjà avec cette adresse électronique.", "email")
    if not (name or "").strip():
        raise ActionRefused("Le nom est obligatoire.", "name")
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


def authenticate(email: str, password: str) -> User | None:
    """The user if the password matches and the account is active; the same ``None`` otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.active or not user.check_password(password or ""):
        return None
    return user
