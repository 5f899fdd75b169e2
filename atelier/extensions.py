"""Flask extensions, created unbound and bound to the app in ``create_app``."""
import functools
import threading

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def _one_at_a_time(method):
    @functools.wraps(method)
    def serialised(self, *args, **kwargs):
        with self.serial:
            return method(self, *args, **kwargs)
    return serialised


class SerialisedMemoryStorage(MemoryStorage):
    """The ``memory://`` store of the rate limits, one operation at a time (it takes the place of
    limits' own for that scheme as soon as this module is imported).

    limits' memory store (5.8) restarts its expiry timer from whichever request comes first: two
    requests at the same instant can both see it stopped, and one of them starts the other's
    thread a second time (``RuntimeError: threads can only be started once``, a 500). Its counters
    also read their new value back after letting go of their lock, and the timer drops expired
    keys under a lock that a request may have just replaced. Here every operation, the timer's
    included, holds one lock for the whole store: an increment and the value it returns are one
    step, which the login throttling relies on. (The timer race is fixed upstream after 5.8:
    alisaifee/limits pull request 352.)
    """

    STORAGE_SCHEME = ["memory"]

    def __init__(self, *args, **kwargs):
        self.serial = threading.RLock()  # before the parent starts its timer, which takes it
        super().__init__(*args, **kwargs)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("serial", None)
        return state

    def __setstate__(self, state):
        self.serial = threading.RLock()
        super().__setstate__(state)

    incr = _one_at_a_time(MemoryStorage.incr)
    decr = _one_at_a_time(MemoryStorage.decr)
    get = _one_at_a_time(MemoryStorage.get)
    get_expiry = _one_at_a_time(MemoryStorage.get_expiry)
    clear = _one_at_a_time(MemoryStorage.clear)
    reset = _one_at_a_time(MemoryStorage.reset)
    acquire_entry = _one_at_a_time(MemoryStorage.acquire_entry)
    get_moving_window = _one_at_a_time(MemoryStorage.get_moving_window)
    acquire_sliding_window_entry = _one_at_a_time(MemoryStorage.acquire_sliding_window_entry)
    get_sliding_window = _one_at_a_time(MemoryStorage.get_sliding_window)
    clear_sliding_window = _one_at_a_time(MemoryStorage.clear_sliding_window)


# The parent's private timer methods, under their mangled names, where this version of limits has them
# (a later version that renames them must not stop the application from starting).
for _timer_method in ("_MemoryStorage__schedule_expiry", "_MemoryStorage__expire_events"):
    if hasattr(MemoryStorage, _timer_method):
        setattr(SerialisedMemoryStorage, _timer_method, _one_at_a_time(getattr(MemoryStorage, _timer_method)))


# Rate limits (login throttling, API tokens): in memory by default (per process), Redis when
# RATELIMIT_STORAGE_URI says so: needed as soon as several processes serve the site (make serve-prod
# starts one). A store that fails refuses the requests it counts (503), it never lets them through.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
