"""Throttling of the forms a stranger can post again and again: login, registration and "forgotten
password". Each has a counter per account (the email address typed, hashed) and one per network
address, over a fixed window: ``LOGIN_LIMIT_PER_ACCOUNT`` and ``LOGIN_LIMIT_PER_ADDRESS`` (5 and 20
per 15 minutes), ``REGISTER_LIMIT_PER_…`` and ``RESET_LIMIT_PER_…`` likewise; an empty value turns
one off.

An attempt is counted *before* anything is checked (``reserve_attempt``): the store increments and
answers in one atomic step, so however many requests arrive at once, in however many threads and
processes, at most the limit of them go on to test a password; the others get the 429 page saying
when to come back. A login that succeeds gives its attempt back (``Attempt.give_back``), so only
failures count for logins; every registration and every link asked for counts.

The counters live in Flask-Limiter's store (``RATELIMIT_STORAGE_URI``): memory, i.e. per process, by
default; Redis as soon as there is more than one process (``make serve-prod`` starts one). If the
store does not answer, the attempt is refused (``CountersUnavailable``, a 503 page): a login is never
let through uncounted. Behind a reverse proxy, the address is the proxy's unless the app is wrapped in
werkzeug's ProxyFix.
"""
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse

from ..extensions import limiter

# The settings of each action: (per account, per address).
SETTINGS = {
    "login": ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS"),
    "register": ("REGISTER_LIMIT_PER_ACCOUNT", "REGISTER_LIMIT_PER_ADDRESS"),
    "reset": ("RESET_LIMIT_PER_ACCOUNT", "RESET_LIMIT_PER_ADDRESS"),
}


class AttemptRefused(Exception):
    """The form is not processed: too many attempts, or the counters cannot be read."""

    status = 400


@dataclass(frozen=True)
class Throttled(AttemptRefused):
    retry_at: datetime  # UTC

    status = 429

    @property
    def seconds(self) -> int:
        return max(1, int((self.retry_at - datetime.now(timezone.utc)).total_seconds() + 0.999))


@dataclass(frozen=True)
class CountersUnavailable(AttemptRefused):
    """The store of the counters did not answer: the attempt is refused rather than let through."""

    action: str

    status = 503
    retry_after = 30  # seconds


@dataclass
class Attempt:
    """One attempt, counted on each of its counters (``(item, key)`` pairs)."""

    counters: list[tuple[RateLimitItem, str]] = field(default_factory=list)

    def give_back(self) -> None:
        """The attempt no longer counts (a successful login). Quiet if the store fails meanwhile:
        the attempt then stays counted, which only errs on the side of caution."""
        try:
            _give_back(limiter.storage, self.counters)
        except Exception:
            current_app.logger.exception("Throttling counters unavailable: an attempt stays counted")
        self.counters = []


def _account_key(email: str) -> str:
    # Hashed: the store (Redis) need not hold the addresses people typed.
    address = (email or "").strip().lower()
    return hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


def _counters(email: str, action: str) -> list[tuple[RateLimitItem, str]]:
    config = current_app.config
    per_account, per_address = SETTINGS[action]
    counters = []
    for setting, scope, who in ((per_account, f"{action}-account", _account_key(email)),
                                (per_address, f"{action}-address", get_remote_address() or "?")):
        if config.get(setting):
            item = parse(config[setting])
            counters.append((item, item.key_for(scope, who)))
    return counters


def _give_back(storage, counters) -> None:
    for item, key in counters:
        left = storage.incr(key, item.get_expiry(), amount=-1)
        if left < 0:  # the window ended meanwhile: the new one starts from zero, not below
            storage.incr(key, item.get_expiry(), amount=-left)


def reserve_attempt(email: str, action: str = "login") -> Attempt:
    """Count one attempt of ``action`` ("login", "register" or "reset") for the account ``email``
    and for the request's address, and return it; raise ``Throttled`` if either counter was already
    at its limit (the attempt then counts nowhere), ``CountersUnavailable`` if the store fails."""
    storage = limiter.storage
    attempt = Attempt()
    try:
        for item, key in _counters(email, action):
            # Increment-then-compare is one atomic step of the store: no two requests see the same count.
            if storage.incr(key, item.get_expiry()) > item.amount:
                retry_at = datetime.fromtimestamp(storage.get_expiry(key), timezone.utc)
                _give_back(storage, [*attempt.counters, (item, key)])
                raise Throttled(retry_at)
            attempt.counters.append((item, key))
    except Throttled:
        raise
    except Exception as error:
        current_app.logger.exception("Throttling counters unavailable: %s refused", action)
        try:
            _give_back(storage, attempt.counters)
        except Exception:
            pass
        raise CountersUnavailable(action) from error
    return attempt


def clear_failed_logins(email: str) -> None:
    """After a successful password reset the account's own counter starts again (not the address's).
    Quiet if the store fails: the counter then simply runs to the end of its window."""
    setting = current_app.config.get(SETTINGS["login"][0])
    if not setting:
        return
    item = parse(setting)
    try:
        limiter.storage.clear(item.key_for("login-account", _account_key(email)))
    except Exception:
        current_app.logger.exception("Throttling counters unavailable: the account's counter is kept")
