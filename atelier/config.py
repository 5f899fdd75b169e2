"""Configuration: these defaults, then ``instance/config.py``, then ``ATELIER_*``
environment variables (``ATELIER_DATABASE_URL``, ``ATELIER_SECRET_KEY``, …)."""
from datetime import timedelta


class DefaultConfig:
    ENV_NAME = "development"  # "production" makes a missing secret key an error
    SECRET_KEY = None
    DATABASE_URL = None  # default: sqlite:///<instance>/atelier.sqlite3
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # A session expires after this much inactivity (refreshed on each request).
    PERMANENT_SESSION_LIFETIME = timedelta(hours=2)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    # The request body may hold the file plus the form around it.
    MAX_CONTENT_LENGTH = UPLOAD_MAX_BYTES + 512 * 1024
    UPLOAD_FOLDER = None  # default: <instance>/uploads
    PAGE_SIZE = 25
    TIMEZONE = "Europe/Paris"
    RATELIMIT_STORAGE_URI = "memory://"  # e.g. redis://localhost:6379/0 in production
    RATELIMIT_HEADERS_ENABLED = True
