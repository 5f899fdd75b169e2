"""Sessions kept in the database: each login opens a record, the signed cookie carries only its
random key (the database keeps the key's SHA-256). A session is valid while its record is open and
was seen within PERMANENT_SESSION_LIFETIME; logging out, a password change or reset and a
deactivation end records, so a copied cookie stops working on the server's side, not only in the
browser that logged out. Operations flush, never commit.
"""
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from ..common import ActionRefused, utcnow
from ..extensions import db
from .models import User, UserSession

SESSION_KEY = "session_key"  # the name of the key in Flask's session cookie
LAST_SEEN_PRECISION = timedelta(minutes=1)  # last_seen_at is written at most once a minute
SESSION_NOT_FOUND = "Cette session n'existe pas ou est déjà fermée."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _lifetime() -> timedelta:
    return current_app.config["PERMANENT_SESSION_LIFETIME"]


def _is_open(record: UserSession, now: datetime) -> bool:
    return record.ended_at is None and now - record.last_seen_at < _lifetime()


def open_session(user: User, *, user_agent: str | None, address: str | None) -> str:
    """A new session of ``user``; returns its key, to put in the session cookie (never stored).

    The user's sessions that ended, or expired, are forgotten at the same time."""
    now = utcnow()
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.ended_at.is_not(None), UserSession.last_seen_at <= now - _lifetime())))
    key = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, key_hash=hash_key(key), created_at=now, last_seen_at=now,
                               user_agent=(user_agent or "")[:300], address=(address or "")[:45]))
    db.session.flush()
    return key


def _usable_key(key) -> bool:
    return isinstance(key, str) and 0 < len(key) <= 100


def session_with_key(key) -> UserSession | None:
    """The open session whose key the cookie carries, else None."""
    if not _usable_key(key):
        return None
    record = db.session.scalars(select(UserSession).where(UserSession.key_hash == hash_key(key))).first()
    if record is None or not _is_open(record, utcnow()):
        return None
    return record


def user_of_session(user_id, key) -> tuple[User, UserSession] | None:
    """The active user the cookie names and the open session it carries, when they belong together.

    One query for both (every page asks it): a session costs no statement more than the user did."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    if not _usable_key(key) or not 0 < user_id < 2**63:
        return None
    found = db.session.execute(
        select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.key_hash == hash_key(key), User.id == user_id)).first()
    if found is None:
        return None
    user, record = found
    if not user.active or not _is_open(record, utcnow()):
        return None
    return user, record


def note_activity(record: UserSession, now: datetime | None = None) -> bool:
    """Move the session's last activity to now; True when something was written (once a minute at most)."""
    now = now or utcnow()
    if now - record.last_seen_at >= LAST_SEEN_PRECISION:
        record.last_seen_at = now
        db.session.flush()
        return True
    return False


def end_session(record: UserSession) -> None:
    if record.ended_at is None:
        record.ended_at = utcnow()
        db.session.flush()


def end_sessions(user: User, *, keep: UserSession | None = None) -> int:
    """End every open session of ``user`` but ``keep``; how many there were."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(query.values(ended_at=utcnow()))
    db.session.flush()
    return result.rowcount


def open_sessions_of(user: User) -> list[UserSession]:
    """The user's open sessions, the most recently seen first."""
    now = utcnow()
    rows = db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None),
        UserSession.last_seen_at > now - _lifetime()).order_by(UserSession.last_seen_at.desc(),
                                                               UserSession.id.desc()))
    return list(rows)


def end_session_of(user: User, session_id: int) -> UserSession:
    """End one of the user's open sessions (from the "Mes sessions" page)."""
    record = db.session.get(UserSession, session_id) if 0 < session_id < 2**31 else None
    if record is None or record.user_id != user.id or not _is_open(record, utcnow()):
        raise ActionRefused(SESSION_NOT_FOUND)
    end_session(record)
    return record


# --------------------------------------------------------------------------- what a person reads

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), (re.compile(r"iPhone|iPad"), "iOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_label(user_agent: str) -> str:
    """« Firefox sous Linux », from the User-Agent header; « Navigateur inconnu » when it names
    nothing known."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS
                   if (mark.search(agent) if isinstance(mark, re.Pattern) else mark in agent)), None)
    if browser and system:
        return f"{browser} sous {system}"
    return browser or (f"Navigateur sous {system}" if system else "Navigateur inconnu")
