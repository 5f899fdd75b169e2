"""Screenshots of the main pages, 1280 and 360 pixels wide, from the demo data.

    .venv/bin/python docs/screenshots/take.py

1. ``flask --app atelier init-db`` then ``seed-demo`` into a temporary SQLite database;
2. the app served on 127.0.0.1 (werkzeug, in a thread) over that database;
3. Debian's Chromium, driven by Playwright (``chromium`` on the PATH; ``playwright install`` is not
   needed), logs in as the demo people and saves ``<page>-1280.png`` and ``<page>-360.png`` here.

Desktop captures are cut at 1600 pixels high and phone ones at 2200 (CSS pixels, scale 1), so that each
PNG stays a few hundred kilobytes.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from live import LiveServer, launch_chromium, make_live_app  # noqa: E402

WIDTHS = {1280: 1600, 360: 2200}  # width → greatest height kept
DEMO_PASSWORD = "demo-atelier-2026"


def seed(folder: Path) -> dict:
    """The demo loaded by the real commands, into ``folder``; returns the environment used."""
    env = dict(os.environ,
               ATELIER_DATABASE_URL=f"sqlite:///{folder / 'atelier.sqlite3'}",
               ATELIER_UPLOAD_FOLDER=str(folder / "uploads"),
               ATELIER_MAIL_FOLDER=str(folder / "mail"),
               ATELIER_SECRET_KEY="captures-d-ecran",
               ATELIER_NOTIFICATIONS_SEND_AFTER_COMMIT="false")
    flask = [sys.executable, "-m", "flask", "--app", "atelier"]
    for command in ("init-db", "seed-demo"):
        subprocess.run(flask + [command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def pages_to_take(app) -> list[tuple[str, str | None, str]]:
    """(name, demo login or None, path) of each page, looked up in the demo data."""
    from sqlalchemy import select

    from atelier.cases.models import Case
    from atelier.committees.models import AgendaItem, Meeting
    from atelier.extensions import db
    from atelier.demo import APPLICANTS, DEMO_DOMAIN

    with app.app_context():
        applicant = APPLICANTS[0].email
        cases = db.session.scalars(select(Case).where(Case.state == "in_review").order_by(Case.id)).all()
        case = next((case for case in cases if case.lead_agency and case.lead_agency.slug == "region-bfc"
                     and any(user.email == applicant for user in case.company.members)), cases[0])
        meeting = db.session.scalars(
            select(Meeting).join(AgendaItem)
            .where(Meeting.committee.has(slug="commission-permanente-region-bfc"))
            .order_by(Meeting.meets_on.desc())).first()
        agent, secretary = f"agent.region@{DEMO_DOMAIN}", f"secretaire.region@{DEMO_DOMAIN}"
        owner = next(user.email for user in case.company.members)
        dashboard = any(rule.rule == "/organisme/tableau-de-bord" for rule in app.url_map.iter_rules())
        pages = [
            ("accueil", None, "/"),
            ("dispositifs", None, "/dispositifs/"),
            ("eligibilite", None, "/dispositifs/mon-projet"),
            ("dossier-porteur", owner, f"/dossiers/{case.reference}"),
            ("corbeille", agent, "/organisme/"),
            ("dossier-agent", agent, f"/dossiers/{case.reference}"),
            ("seance", secretary if _exists(secretary) else agent,
             f"/comites/seances/{meeting.id}" if meeting else "/comites/"),
        ]
        if dashboard:
            pages.append(("tableau-de-bord", agent, "/organisme/tableau-de-bord"))
        return pages


def _exists(email: str) -> bool:
    from sqlalchemy import select

    from atelier.auth.models import User
    from atelier.extensions import db

    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def login(page, base: str, email: str) -> None:
    page.goto(base + "/connexion")
    form = page.locator("main form")
    form.get_by_label("Adresse électronique").fill(email)
    form.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        form.get_by_role("button", name="Se connecter").click()
    if page.locator(".error-summary, .flash-error").count():
        raise SystemExit(f"connexion impossible pour {email} : {page.locator('main').inner_text()[:300]}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="atelier-captures-") as tmp:
        folder = Path(tmp)
        seed(folder)
        app = make_live_app(folder, NOTIFICATIONS_SEND_AFTER_COMMIT=False)
        server = LiveServer(app).start()
        try:
            pages = pages_to_take(app)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for width, greatest in WIDTHS.items():
                    contexts = {}
                    for name, who, path in pages:
                        if who not in contexts:
                            context = browser.new_context(viewport={"width": width, "height": 900},
                                                          device_scale_factor=1, locale="fr-FR",
                                                          is_mobile=width < 600, has_touch=width < 600)
                            page = context.new_page()
                            if who:
                                login(page, server.url, who)
                            contexts[who] = page
                        page = contexts[who]
                        page.goto(server.url + path)
                        height = min(page.evaluate("() => document.documentElement.scrollHeight"), greatest)
                        target = HERE / f"{name}-{width}.png"
                        page.screenshot(path=str(target), full_page=True,
                                        clip={"x": 0, "y": 0, "width": width, "height": height})
                        print(f"{target.relative_to(ROOT)} : {target.stat().st_size // 1024} Kio")
                    for page in contexts.values():
                        page.context.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
