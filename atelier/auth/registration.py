"""Registration by a confirmed address.

The registration form answers the same whatever the address, so that it does not tell who has an
account: a new address receives a link that creates the account when followed; an address that
already has an account receives a "you already have an account" email instead. Nothing is written
to the database before the link is followed (no pending accounts).

The link carries what the form received — address, name and the password already hashed — encrypted
and authenticated with a key derived from ``SECRET_KEY`` (Fernet), so that neither the hash nor the
address can be read or changed by whoever sees the link. It is valid ``REGISTRATION_LINK_MAX_AGE``
seconds, and creates one account only: once the address has an account, the link is refused.
"""
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from werkzeug.security import generate_password_hash

from ..common import ActionRefused
from ..extensions import db
from .models import User
from .operations import check_name, check_password_rules, find_user_by_email, normalise_email

INVALID_LINK = ("Ce lien de confirmation n'est pas valable : il est incomplet ou a été modifié. "
                "Ouvrez le lien exact du courriel, ou inscrivez-vous de nouveau.")
EXPIRED_LINK = "Ce lien de confirmation a expiré. Inscrivez-vous de nouveau pour en recevoir un autre."
ACCOUNT_EXISTS = ("Un compte existe déjà avec cette adresse (ce lien a peut-être déjà servi) : "
                  "connectez-vous, ou demandez un nouveau mot de passe si vous l'avez oublié.")


@dataclass(frozen=True)
class Registration:
    """What a registration form asked for: the address, the name, and either the link that creates
    the account (a new address) or the account that already has this address."""

    email: str
    name: str
    token: str | None = None
    existing: User | None = None


def link_max_age() -> int:
    return int(current_app.config.get("REGISTRATION_LINK_MAX_AGE") or 24 * 3600)


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode("utf-8") if isinstance(secret, str) else secret
    key = hmac.new(secret, b"atelier-registration-link", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def request_registration(*, email: str, name: str, password: str) -> Registration:
    """Check the form's values by the account rules and prepare the email to send.

    The password is hashed and the link made whether the address is new or not: both answers cost
    the same time, so the time does not tell either.
    """
    address = normalise_email(email)
    name = check_name(name)
    check_password_rules(password, address)
    password_hash = generate_password_hash(password, method="scrypt")
    payload = json.dumps({"email": address, "name": name, "password_hash": password_hash},
                         ensure_ascii=False, separators=(",", ":"))
    token = _fernet().encrypt(payload.encode("utf-8")).decode("ascii")
    existing = find_user_by_email(address)
    if existing is not None:
        return Registration(email=address, name=name, existing=existing)
    return Registration(email=address, name=name, token=token)


def pending_registration(token: str) -> dict:
    """The address, name and password hash the link was made for, else a refusal saying why
    (forged or incomplete, expired, or the address has an account by now)."""
    fernet = _fernet()
    try:
        payload = json.loads(fernet.decrypt((token or "").encode("ascii")))
        issued = fernet.extract_timestamp(token.encode("ascii"))
    except (InvalidToken, ValueError, UnicodeError, TypeError):
        raise ActionRefused(INVALID_LINK) from None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(key), str)
                                                for key in ("email", "name", "password_hash")):
        raise ActionRefused(INVALID_LINK)
    if time.time() - issued > link_max_age():
        raise ActionRefused(EXPIRED_LINK)
    if find_user_by_email(payload["email"]) is not None:
        raise ActionRefused(ACCOUNT_EXISTS)
    return payload


def confirm_registration(token: str) -> User:
    """Create the applicant's account the link was made for (once: a second use is refused)."""
    payload = pending_registration(token)
    user = User(email=payload["email"], name=payload["name"], role="applicant",
                password_hash=payload["password_hash"])
    db.session.add(user)
    db.session.flush()
    return user
