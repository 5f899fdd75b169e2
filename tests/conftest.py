"""Fixtures: one app and one migrated database per run, emptied after each test; factories.

The database is SQLite in a temporary folder, or the PostgreSQL named by
``ATELIER_TEST_DATABASE_URL`` (CI sets it; the schema comes from the migrations either way).
"""
import email
import email.policy
import itertools
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from atelier import create_app
from atelier.extensions import db, limiter
from atelier.formatting import paris_today
from atelier.models import Agency, Committee, Company, Meeting, Scheme, User

TEST_DATABASE_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")
PASSWORD = "motdepasse-de-test"
_counter = itertools.count(1)


def make_siret(seed: int) -> str:
    """A valid SIRET (Luhn on the SIREN and on the whole number) built from ``seed``."""
    siren8 = f"{(seed * 7919) % 10**8:08d}"
    siren = siren8 + _luhn_digit(siren8)
    nic4 = f"{seed % 10**4:04d}"
    return siren + nic4 + _luhn_digit(siren + nic4)


def _luhn_digit(digits: str) -> str:
    for check in "0123456789":
        number = digits + check
        total = 0
        for index, char in enumerate(reversed(number)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return check
    raise AssertionError("unreachable")


class ServerLikeClient(FlaskClient):
    """The test client, closing each response once read as a WSGI server does after sending it: the
    work put after the response (emails, see atelier.mail.after_response) is done when a test looks."""

    def open(self, *args, buffered=True, **kwargs):
        # The requests share the test's app context, hence its ``g``: forget the person loaded by the
        # previous request, so that each one loads its person (and session) as a server does.
        from flask import g, has_app_context

        if has_app_context():  # (a thread of a concurrency test has none: its requests push their own)
            g.pop("_login_user", None)
            g.pop("user_session", None)
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atelier")
    url = TEST_DATABASE_URL or f"sqlite:///{folder / 'test.sqlite3'}"
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "clé-de-test",
        "DATABASE_URL": url,
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "MAIL_FOLDER": str(folder / "mail"),  # emails written as .eml files (no MAIL_SERVER)
        "WTF_CSRF_ENABLED": False,  # tests/test_security.py turns it back on
        "SERVER_NAME": "atelier.test",
    })
    app.test_client_class = ServerLikeClient
    with app.app_context():
        if TEST_DATABASE_URL:
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _database(app):
    """Each test runs in an app context and leaves the database empty."""
    with app.app_context():
        yield
        db.session.rollback()
        if TEST_DATABASE_URL:  # TRUNCATE fires no row trigger: events are append-only (migration 0009)
            tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            from tampering import rewriting_history

            with rewriting_history() as connection:
                for table in reversed(db.metadata.sorted_tables):
                    connection.execute(table.delete())
        db.session.commit()
        db.session.remove()
        limiter.reset()  # failed logins of one test must not throttle the next ones


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_PASSWORD_HASH = None


def _password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        user = User()
        user.set_password(PASSWORD)
        _PASSWORD_HASH = user.password_hash
    return _PASSWORD_HASH


def login(client, user: User) -> None:
    """Log ``user`` in on ``client`` (the login form itself is tested in test_auth.py): a session
    record, as the login page opens, and its key in the cookie."""
    from atelier.auth.sessions import SESSION_KEY, open_session

    key = open_session(user, user_agent="pytest", address="127.0.0.1")
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session[SESSION_KEY] = key
    # The client's requests share the test's app context: forget the user Flask-Login cached there.
    from flask import g

    g.pop("_login_user", None)


def mails_to(app, address: str) -> list:
    """The emails written to ``address`` in the app's mail folder, oldest first."""
    folder = Path(app.config["MAIL_FOLDER"])
    mails = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
             for path in sorted(folder.glob("*.eml"))] if folder.is_dir() else []
    return [mail for mail in mails if str(mail["To"]).lower() == address.strip().lower()]


def link_in(mail, path: str) -> str:
    """The path (and query) of the first link of ``mail`` that starts with ``path``."""
    body = mail.get_body(("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S*)", body)
    assert match, f"no link to {path} in the email"
    return match.group(1)


def register(client, app, *, name: str, email: str, password: str):
    """Register through the pages as a person does: the form, the link of the email, its button.
    Returns the last response (the redirection to the company's declaration)."""
    page = client.post("/inscription", data={"name": name, "email": email, "password": password,
                                             "confirm": password})
    assert page.status_code == 200 and "Nous vous avons envoyé un courriel" in page.get_data(as_text=True)
    link = link_in(mails_to(app, email)[-1], "/inscription/confirmer/")
    assert client.get(link).status_code == 200
    return client.post(link)


@pytest.fixture
def create_agency():
    def factory(slug=None, *, name=None, short_name=None, kind="other", siret=None):
        n = next(_counter)
        slug = slug or f"organisme-{n}"
        agency = Agency(slug=slug, name=name or f"Organisme {slug}", short_name=short_name or slug.upper()[:20],
                        kind=kind, siret=siret)
        db.session.add(agency)
        db.session.flush()
        return agency
    return factory


@pytest.fixture
def create_user():
    def factory(role="applicant", *, agency=None, secretary=False, email=None, name=None, companies=()):
        n = next(_counter)
        user = User(email=email or f"personne{n}@exemple.fr", name=name or f"Personne {n}", role=role,
                    agency=agency, is_secretary=secretary, password_hash=_password_hash())
        user.companies.extend(companies)
        db.session.add(user)
        db.session.flush()
        return user
    return factory


@pytest.fixture
def create_company():
    def factory(*, members=(), siret=None, name=None, headcount=12, turnover=Decimal("1500000"),
                balance_sheet=Decimal("900000"), departement="21", naf_code="62.01Z"):
        n = next(_counter)
        siret = siret or make_siret(n + 1000)
        company = Company(siret=siret, siren=siret[:9], name=name or f"Entreprise {n}", legal_form="SAS",
                          naf_code=naf_code, headcount=headcount, turnover=turnover,
                          balance_sheet=balance_sheet, address=f"{n} rue de la Liberté", postcode="21000",
                          commune="Dijon", departement=departement)
        company.members.extend(members)
        db.session.add(company)
        db.session.flush()
        return company
    return factory


@pytest.fixture
def create_committee():
    def factory(agency, *, name=None):
        n = next(_counter)
        committee = Committee(agency=agency, name=name or f"Comité {n}", slug=f"comite-{n}")
        db.session.add(committee)
        db.session.flush()
        return committee
    return factory


@pytest.fixture
def create_meeting():
    def factory(committee, *, in_days=14, place="Dijon"):
        meeting = Meeting(committee=committee, meets_on=paris_today() + timedelta(days=in_days), place=place)
        db.session.add(meeting)
        db.session.flush()
        return meeting
    return factory


@pytest.fixture
def create_scheme(create_committee):
    def factory(agency, *, committee=None, instrument="grant", regime="de_minimis", ceiling=Decimal("200000"),
                max_rate=Decimal("0.5"), required_documents=(), opens_in_days=-30, closes_in_days=365,
                annual_budget=Decimal("5000000"), name=None):
        n = next(_counter)
        today = paris_today()
        scheme = Scheme(agency=agency, committee=committee or create_committee(agency), code=f"DISP-{n}",
                        name=name or f"Dispositif {n}", instrument=instrument, regime=regime,
                        ceiling=Decimal(ceiling), max_rate=Decimal(max_rate), annual_budget=annual_budget,
                        opens_on=today + timedelta(days=opens_in_days),
                        closes_on=None if closes_in_days is None else today + timedelta(days=closes_in_days),
                        required_documents=list(required_documents), description="Un dispositif de test.")
        db.session.add(scheme)
        db.session.flush()
        return scheme
    return factory


@pytest.fixture
def world(create_agency, create_user, create_company, create_committee, create_meeting, create_scheme):
    """A small region: three agencies with agents and secretaries, schemes, meetings, two applicants."""
    region = create_agency("region", name="Région Bourgogne-Franche-Comté", short_name="Région", kind="region")
    bpi = create_agency("bpifrance", name="Bpifrance Bourgogne-Franche-Comté", short_name="Bpifrance", kind="bank")
    aer = create_agency("aer", name="AER BFC", short_name="AER BFC", kind="development_agency")
    w = SimpleNamespace(region=region, bpi=bpi, aer=aer)
    w.applicant = create_user("applicant", name="Camille Porteur")
    w.other_applicant = create_user("applicant", name="Dominique Autre")
    w.company = create_company(members=[w.applicant])
    w.other_company = create_company(members=[w.other_applicant])
    for key, agency in (("region", region), ("bpi", bpi), ("aer", aer)):
        setattr(w, f"{key}_agent", create_user("agent", agency=agency))
        setattr(w, f"{key}_secretary", create_user("agent", agency=agency, secretary=True))
        committee = create_committee(agency, name=f"Comité {agency.short_name}")
        setattr(w, f"{key}_committee", committee)
        setattr(w, f"{key}_meeting", create_meeting(committee))
    w.admin = create_user("admin")
    w.region_scheme = create_scheme(region, committee=w.region_committee, name="Aide à l'investissement",
                                    ceiling=Decimal("200000"), max_rate=Decimal("0.4"))
    w.bpi_scheme = create_scheme(bpi, committee=w.bpi_committee, name="Prêt d'amorçage",
                                 instrument="zero_rate_loan", ceiling=Decimal("100000"), max_rate=Decimal("0.5"))
    w.aer_scheme = create_scheme(aer, committee=w.aer_committee, name="Avance AER",
                                 instrument="repayable_advance", ceiling=Decimal("150000"))
    db.session.commit()
    return w


@pytest.fixture
def create_case(world):
    """A case of ``world.company`` with a Region line (60 000 €) and a Bpifrance line (40 000 €),
    brought to ``state`` by calling the operations (a factory per state)."""
    from atelier.cases import operations as ops

    def factory(state="draft", *, applicant=None, company=None, lines=None):
        applicant = applicant or world.applicant
        company = company or world.company
        case = ops.create_case(applicant, company, title="Nouvelle ligne de production",
                               description="Achat d'une machine et embauche de deux personnes.",
                               starts_on=paris_today(), eligible_cost=Decimal("250000"))
        for scheme, amount in (lines or [(world.region_scheme, "60000"), (world.bpi_scheme, "40000")]):
            ops.add_line(applicant, case, scheme=scheme, requested_amount=amount)
        ops.declare_no_minimis(applicant, case)
        if state != "draft":
            ops.submit_case(applicant, case)
            lead = _agent_of(world, case.lead_agency)
            if state == "incomplete":
                ops.request_info(lead, case, message="Merci de joindre le Kbis.")
            elif state == "in_review":
                ops.accept_case(lead, case)
            elif state == "dismissed":
                ops.dismiss_case(lead, case, reason="Hors périmètre.")
            elif state == "withdrawn":
                ops.withdraw_case(applicant, case)
        elif state == "withdrawn":
            pass
        db.session.commit()
        return case

    return factory


def _agent_of(world, agency):
    for key in ("region", "bpi", "aer"):
        if getattr(world, key).id == agency.id:
            return getattr(world, f"{key}_agent")
    raise KeyError(agency)


@pytest.fixture
def agent_of(world):
    return lambda agency: _agent_of(world, agency)


@pytest.fixture
def secretary_of(world):
    def find(agency):
        for key in ("region", "bpi", "aer"):
            if getattr(world, key).id == agency.id:
                return getattr(world, f"{key}_secretary")
        raise KeyError(agency)
    return find


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` need ATELIER_TEST_DATABASE_URL (CI sets it); elsewhere they skip."""
    if TEST_DATABASE_URL:
        return
    skip = pytest.mark.skip(reason="ATELIER_TEST_DATABASE_URL n'est pas défini (PostgreSQL absent)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
