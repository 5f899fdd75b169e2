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
    # Secure cookie (sent over HTTPS only). None: Secure when PREFERRED_URL_SCHEME is "https".
    # In production behind HTTPS: ATELIER_PREFERRED_URL_SCHEME=https (or ATELIER_SESSION_COOKIE_SECURE=true).
    SESSION_COOKIE_SECURE = None
    PREFERRED_URL_SCHEME = "http"
    # The address of the site as people reach it (e.g. https://atelier.example.fr), used for the links
    # sent by email (never the request's Host header). Required in production, where only requests
    # for its host are answered (TRUSTED_HOSTS); `make run` sets it from HOST and PORT.
    PUBLIC_URL = None
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    # The request body may hold the file plus the form around it.
    MAX_CONTENT_LENGTH = UPLOAD_MAX_BYTES + 512 * 1024
    UPLOAD_FOLDER = None  # default: <instance>/uploads
    # A JSON body of the API: at most this many bytes and levels of nested arrays and objects
    # (atelier/inputs.py checks both before anything parses it).
    JSON_MAX_BYTES = 1024 * 1024
    JSON_MAX_DEPTH = 32
    # Upload quotas (documents and message attachments together; 0 or "" turns one off).
    UPLOAD_MAX_FILES_PER_CASE = 50
    UPLOAD_MAX_BYTES_PER_CASE = 100 * 1024 * 1024
    UPLOAD_MAX_BYTES_PER_ACCOUNT = 500 * 1024 * 1024
    UPLOAD_RATE_LIMIT = "30 per 10 minutes"  # per account, counted in RATELIMIT_STORAGE_URI
    PAGE_SIZE = 25
    TIMEZONE = "Europe/Paris"
    # Where the rate limits and the login throttling count: memory is per process, so as soon as
    # several processes serve the site it must be a shared store, e.g. redis://127.0.0.1:6379/0
    # (make serve-prod starts one). Add ?socket_timeout=2&socket_connect_timeout=2 to a Redis URI so
    # that a stuck server is a quick refusal, not a hung request.
    RATELIMIT_STORAGE_URI = "memory://"
    # A failing store raises limits' StorageError, answered 503 (the request is refused, not let through).
    RATELIMIT_STORAGE_OPTIONS = {"wrap_exceptions": True}
    RATELIMIT_HEADERS_ENABLED = True
    # Failed logins allowed before the form is refused for a while ("" turns a limit off).
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "20 per 15 minutes"
    # Registrations and "forgotten password" requests (each one counts), per address typed and per
    # network address.
    REGISTER_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    REGISTER_LIMIT_PER_ADDRESS = "20 per 15 minutes"
    RESET_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    RESET_LIMIT_PER_ADDRESS = "20 per 15 minutes"
    PASSWORD_RESET_MAX_AGE = 3600  # seconds a password-reset link stays valid
    REGISTRATION_LINK_MAX_AGE = 24 * 3600  # seconds a registration's confirmation link stays valid
    # Outgoing mail. Without MAIL_SERVER each message is written as an .eml file under MAIL_FOLDER
    # (default <instance>/mail) instead of being sent.
    MAIL_SERVER = None
    MAIL_PORT = 587
    MAIL_USE_TLS = True
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_FROM = "Atelier des projets <ne-pas-repondre@atelier-des-projets.fr>"
    MAIL_FOLDER = None
