"""Login throttling: after too many failed logins for one account, or from one address, the login
form is refused for a while (429, with the time to come back).

The "forgotten password" form is limited the same way, with its own counters (at most so many
links mailed to one account). Only failures count, so a person who types their password right is
never slowed down. The counters live in Flask-Limiter's storage (``RATELIMIT_STORAGE_URI``: memory by default, i.e. per process;
Redis to share them between gunicorn workers). The limits are ``LOGIN_LIMIT_PER_ACCOUNT`` and
``LOGIN_LIMIT_PER_ADDRESS`` (an empty value turns one off). Behind a reverse proxy, the address is
the proxy's unless the app is wrapped in werkzeug's ProxyFix.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse

from ..extensions import limiter


@dataclass(frozen=True)
class Throttled(Exception):
    retry_at: datetime  # UTC

    @property
    def seconds(self) -> int:
        return max(1, int((self.retry_at - datetime.now(timezone.utc)).total_seconds() + 0.999))


def _account_key(email: str) -> str:
    # Hashed: the storage (Redis) need not hold the addresses people typed.
    address = (email or "").strip().lower()
    return hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


def _limits(email: str, action: str):
    config = current_app.config
    for setting, scope, key in (("LOGIN_LIMIT_PER_ACCOUNT", f"{action}-account", _account_key(email)),
                                ("LOGIN_LIMIT_PER_ADDRESS", f"{action}-address", get_remote_address())):
        if config.get(setting):
            yield parse(config[setting]), scope, key


def check_login_allowed(email: str, action: str = "login") -> None:
    """Raise ``Throttled`` if this account or this address has used up its failed attempts."""
    blocked_until = None
    try:
        strategy = limiter.limiter
        for item, scope, key in _limits(email, action):
            if not strategy.test(item, scope, key):
                stats = strategy.get_window_stats(item, scope, key)
                reset = datetime.fromtimestamp(stats.reset_time, timezone.utc)
                blocked_until = max(blocked_until or reset, reset)
    except Exception:  # the counters' store is unreachable: log in without throttling rather than fail
        current_app.logger.exception("Login throttling unavailable")
        return
    if blocked_until is not None:
        raise Throttled(blocked_until)


def record_failed_login(email: str, action: str = "login") -> None:
    """One more failure (``action`` "login"), or one more reset link asked for ("reset": counted
    apart, so that someone who failed to log in can still ask for a link)."""
    try:
        strategy = limiter.limiter
        for item, scope, key in _limits(email, action):
            strategy.hit(item, scope, key)
    except Exception:
        current_app.logger.exception("Login throttling unavailable")


def clear_failed_logins(email: str) -> None:
    """After a successful password reset the account's own counter starts again (not the address's)."""
    try:
        strategy = limiter.limiter
        item = current_app.config.get("LOGIN_LIMIT_PER_ACCOUNT")
        if item:
            strategy.clear(parse(item), "login-account", _account_key(email))
    except Exception:
        current_app.logger.exception("Login throttling unavailable")
