"""A live Atelier des projets for the browser tests and the screenshots: the real app behind a werkzeug
server in a thread, on a temporary SQLite database migrated by Alembic, and Debian's Chromium driven by
Playwright (never a browser downloaded by Playwright: ``playwright install`` is not needed).

Where Chromium or Playwright is missing the browser tests are skipped, except in continuous integration
(``CI`` or ``ATELIER_REQUIRE_POSTGRES`` set, as ``.ci/run`` does): there they must run, so they fail.
"""
import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if path), None)


def in_ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("ATELIER_REQUIRE_POSTGRES"))


def require_browser():
    """Skip (or fail in CI) when Playwright or Chromium is absent."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
        import axe_playwright_python  # noqa: F401
    except ImportError as error:
        problem = f"Playwright ou axe-playwright-python n'est pas installé ({error.name})"
    if problem is None and CHROMIUM is None:
        problem = "Chromium n'est pas installé (paquet Debian chromium)"
    if problem:
        if in_ci():  # .ci/run installs Chromium and the test extra: in CI the browser tests must run
            pytest.fail(f"{problem} alors que l'intégration continue doit l'installer", pytrace=False)
        pytest.skip(problem)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM or "/usr/bin/chromium",
                                      args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])


class LiveServer:
    """``app`` served on 127.0.0.1 on a free port, in a daemon thread, until ``stop()``."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["PUBLIC_URL"] = self.url  # the links of the emails
        self.thread = threading.Thread(target=self.server.serve_forever, name="atelier-live", daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def make_live_app(folder: Path, **config):
    """A fresh app on ``folder``/atelier.sqlite3 (migrated), CSRF on, mail written to ``folder``/mail."""
    from flask import got_request_exception
    from flask_migrate import upgrade

    from atelier import create_app

    app = create_app({
        "SECRET_KEY": "clé-des-tests-navigateur",
        "DATABASE_URL": f"sqlite:///{folder / 'atelier.sqlite3'}",
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "MAIL_FOLDER": str(folder / "mail"),
        "MAIL_SERVER": None,
        "WTF_CSRF_ENABLED": True,
        "NOTIFICATIONS_SEND_AFTER_COMMIT": True,
        "RATELIMIT_ENABLED": True,
        **config,
    })
    app.server_errors = []

    def remember(sender, exception, **extra):
        app.server_errors.append(repr(exception))

    got_request_exception.connect(remember, app, weak=False)
    with app.app_context():
        upgrade()
    return app


def mailed_link(mail_folder: Path, address: str, path: str, timeout: float = 10) -> str:
    """The path of the link to ``path`` in the last email written to ``address`` (the server writes it
    once the response has gone, so it may take a moment)."""
    import email
    import email.policy
    import time

    deadline = time.monotonic() + timeout
    while True:
        mails = [email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
                 for file in sorted(mail_folder.glob("*.eml"))] if mail_folder.exists() else []
        for mail in reversed(mails):
            if str(mail["To"]) == address:
                found = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S*)",
                                  mail.get_body(("plain",)).get_content())
                if found:
                    return found.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no email to {address} with a link to {path}")
        time.sleep(0.1)


def mailed_to(mail_folder: Path, address: str, wanted, timeout: float = 10) -> list:
    """The emails written to ``address``, once ``wanted(mails)`` holds (the server writes them after
    the response has gone, so the last ones may take a moment); the last list read after ``timeout``."""
    import email
    import email.policy
    import time

    deadline = time.monotonic() + timeout
    while True:
        mails = [email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
                 for file in sorted(mail_folder.glob("*.eml"))] if mail_folder.exists() else []
        mine = [mail for mail in mails if address in str(mail["To"])]
        if wanted(mine) or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "etape"


@contextmanager
def step(name: str, *pages, folder: Path = ARTIFACTS):
    """One step of a story: on any failure, a screenshot of each page is saved, named after the step,
    and the failure goes on with the screenshots' paths in its notes."""
    try:
        yield
    except BaseException as error:
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for index, page in enumerate(pages):
            path = folder / f"{slug(name)}-{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                saved.append(str(path))
            except Exception as screenshot_error:  # a closed page: the failure itself matters more
                saved.append(f"(capture impossible : {screenshot_error!r})")
        if hasattr(error, "add_note"):
            error.add_note(f"Étape « {name} » : capture(s) d'écran {', '.join(saved)}")
        raise
