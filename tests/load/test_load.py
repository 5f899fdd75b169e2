"""The production stack under load: ``make serve-prod`` (gunicorn, several workers, PostgreSQL) started on
loopback against a throwaway database, driven over HTTP by many people at once.

- 50 browser tabs (5 committee secretaries, 10 tabs each) approve one funding line at the same instant
  with the same version (pages, CSRF tokens read from the page), and 50 API calls propose another one: exactly one succeeds, the others
  get the conflict answer, and the line's history agrees with its state;
- 20 applicants submit 200 dossiers in parallel through the API: 200 distinct references, no error;
- a mixed read/write load for a fixed time (``ATELIER_LOAD_SECONDS``, 30 s by default; bounded
  number of requests): no 5xx, throughput and p95 per route printed and written to
  ``instance/load-report.md`` (copied into the README's "Charge" section).

Needs a PostgreSQL server: ``ATELIER_TEST_DATABASE_URL`` (its role must be allowed to create a
database: ``ALTER ROLE … CREATEDB``; ``.ci/run`` does it). Skipped without it; run alone with
``make test-load``.
"""
from __future__ import annotations

import os
import platform
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from loadkit import (ROOT, CannotCreateDatabase, Client, Recorder, Stack, create_throwaway_database,
                     drop_database, free_port, make_serve_prod, report_table)

TEST_DATABASE_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")
REQUIRE_POSTGRES = bool(os.environ.get("ATELIER_REQUIRE_POSTGRES"))
WORKERS, THREADS = 4, 4
LOAD_SECONDS = float(os.environ.get("ATELIER_LOAD_SECONDS", "30"))
LOAD_MAX_REQUESTS = 6000
PASSWORD = "charge-mot-de-passe-2024"
REPORT_PATH = ROOT / "instance" / "load-report.md"
CONFLICT = "modifié entre-temps"

pytestmark = pytest.mark.load
needs_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="tests de charge : ATELIER_TEST_DATABASE_URL n'est pas défini (il faut un serveur PostgreSQL)")

REPORT: dict[str, str] = {}
LOAD_BEFORE = [os.getloadavg()[0]]  # measured again when the stack starts


def _write_report() -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    head = (f"# Charge : `make serve-prod` ({WORKERS} processus gunicorn × {THREADS} fils, PostgreSQL)\n\n"
            f"Mesuré le {datetime.now():%d/%m/%Y à %H:%M} sur {os.cpu_count()} cœurs ({cpu}), "
            "clients et serveur sur la même machine ; charge moyenne de la machine avant le démarrage : "
            f"{LOAD_BEFORE[0]:.1f} (au-delà de 0,5 environ, d'autres processus prenaient déjà du temps de "
            "calcul).\n")
    REPORT_PATH.parent.mkdir(exist_ok=True)
    REPORT_PATH.write_text(head + "".join(f"\n## {title}\n\n{body}\n" for title, body in REPORT.items()),
                           encoding="utf-8")


def _say(title: str, body: str) -> None:
    REPORT[title] = body
    _write_report()
    print(f"\n{title}\n{body}\n(écrit dans {REPORT_PATH})")


# --------------------------------------------------------------------------- refusing to start

def _env(**values) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(values)
    return env


@pytest.mark.parametrize("settings, message", [
    ({"ATELIER_SECRET_KEY": "x" * 64}, "ATELIER_DATABASE_URL doit désigner une base PostgreSQL"),
    ({"ATELIER_SECRET_KEY": "x" * 64, "ATELIER_DATABASE_URL": "sqlite:////tmp/atelier.sqlite3"},
     "ATELIER_DATABASE_URL doit désigner une base PostgreSQL"),
    ({"ATELIER_DATABASE_URL": "postgresql://atelier:secret@127.0.0.1:5432/atelier"},
     "ATELIER_SECRET_KEY est obligatoire en production"),
    ({"ATELIER_DATABASE_URL": "postgresql://atelier:secret@127.0.0.1:5432/atelier", "ATELIER_SECRET_KEY": ""},
     "ATELIER_SECRET_KEY est obligatoire en production"),
    ({"ATELIER_DATABASE_URL": "postgresql://atelier:secret@127.0.0.1:5432/atelier", "ATELIER_SECRET_KEY": "x" * 64},
     "ATELIER_PUBLIC_URL est obligatoire en production"),
    ({"ATELIER_DATABASE_URL": "postgresql://atelier:secret@127.0.0.1:5432/atelier", "ATELIER_SECRET_KEY": "x" * 64,
      "ATELIER_PUBLIC_URL": "atelier.example.fr"}, "ATELIER_PUBLIC_URL est obligatoire en production"),
])
def test_serve_prod_refuses_to_start_without_postgresql_and_a_secret_key(settings, message):
    process = make_serve_prod(_env(**settings), public_url=False, PORT=free_port())
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Démarrage refusé" in err and message in err
    assert "gunicorn" not in out + err.split("Démarrage refusé")[0]  # refused before starting anything


def test_the_ci_lets_the_load_tests_create_their_throwaway_database():
    """The load tests need CREATEDB on the role of ATELIER_TEST_DATABASE_URL; .ci/run grants it."""
    source = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"ALTER ROLE %I LOGIN CREATEDB PASSWORD", source)


# --------------------------------------------------------------------------- the stack and its data

def _seed(app, *, applicants: int = 20, agents: int = 4, secretaries: int = 5):
    """Agencies, a committee with a meeting, a grant scheme (GBER: no de minimis ceiling in the way),
    agents, secretaries, applicants with their company and an API token; two dossiers for the conflicts,
    a submitted dossier per applicant for the mixed load. Everything through the operations."""
    from atelier.agencies.models import Agency
    from atelier.api.tokens import create_token
    from atelier.cases import operations as ops
    from atelier.committees.models import Committee, Meeting
    from atelier.companies.operations import declare_company
    from atelier.extensions import db
    from atelier.formatting import paris_today
    from atelier.models import Scheme, User
    from conftest import make_siret

    with app.app_context():
        today = paris_today()
        hasher = User()
        hasher.set_password(PASSWORD)
        region = Agency(slug="region", name="Région Bourgogne-Franche-Comté", short_name="Région", kind="region")
        db.session.add(region)
        committee = Committee(agency=region, name="Commission permanente", slug="commission-permanente")
        meeting = Meeting(committee=committee, meets_on=today + timedelta(days=14), place="Dijon")
        scheme = Scheme(agency=region, committee=committee, code="CHARGE-INVEST", name="Aide à l'investissement",
                        instrument="grant", regime="gber", ceiling=Decimal("200000"), max_rate=Decimal("0.5"),
                        annual_budget=None, opens_on=today - timedelta(days=30),
                        closes_on=today + timedelta(days=365), required_documents=[],
                        description="Dispositif des tests de charge.")
        db.session.add_all([committee, meeting, scheme])

        def person(role, n, **kwargs):
            user = User(email=f"{role}{n}@charge.test", name=f"{role.title()} {n}", role=role,
                        password_hash=hasher.password_hash, **kwargs)
            db.session.add(user)
            return user

        agent_users = [person("agent", n, agency=region) for n in range(agents)]
        secretary_users = [person("agent", 100 + n, agency=region, is_secretary=True) for n in range(secretaries)]
        applicant_users = [person("applicant", n) for n in range(applicants)]
        db.session.flush()
        companies, tokens = [], []
        for n, applicant in enumerate(applicant_users):
            companies.append(declare_company(
                applicant, siret=make_siret(50_000 + n), name=f"Entreprise chargée {n}", legal_form="SAS",
                naf_code="62.01Z", headcount=12, turnover=Decimal("1500000"), balance_sheet=Decimal("900000"),
                address=f"{n} rue de la Liberté", postcode="21000", commune="Dijon", departement="21"))
            tokens.append(create_token(applicant, name="charge", scope="write", days=30)[1])
        agent_tokens = [create_token(user, name="charge", scope="write", days=30)[1] for user in agent_users]

        def submitted_case(applicant, company, title):
            case = ops.create_case(applicant, company, title=title, description="Une machine de plus.",
                                   starts_on=today, eligible_cost=Decimal("250000"))
            ops.add_line(applicant, case, scheme=scheme, requested_amount="80000")
            ops.declare_no_minimis(applicant, case)
            ops.submit_case(applicant, case)
            return case

        on_agenda = submitted_case(applicant_users[0], companies[0], "Dossier disputé en comité")
        ops.accept_case(agent_users[0], on_agenda)
        ops.propose_line(agent_users[0], on_agenda.lines[0], meeting=meeting, proposed_amount="50000")
        under_review = submitted_case(applicant_users[1], companies[1], "Dossier disputé par l'API")
        ops.accept_case(agent_users[0], under_review)
        mixed = [submitted_case(applicant, company, f"Projet {n}")
                 for n, (applicant, company) in enumerate(zip(applicant_users, companies))]
        db.session.commit()
        return SimpleNamespace(
            agents=[u.email for u in agent_users], agent_tokens=agent_tokens,
            secretaries=[u.email for u in secretary_users],
            applicants=[u.email for u in applicant_users], tokens=tokens,
            company_ids=[c.id for c in companies],
            scheme_code=scheme.code, meeting_id=meeting.id,
            on_agenda=(on_agenda.reference, on_agenda.lines[0].id, on_agenda.lines[0].version),
            under_review=(under_review.reference, under_review.lines[0].id, under_review.lines[0].version),
            mixed=[(c.reference, c.created_by.email) for c in mixed])


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    """``make serve-prod`` on a fresh database of the test server, seeded; stopped and dropped after."""
    if not TEST_DATABASE_URL:
        pytest.skip("ATELIER_TEST_DATABASE_URL n'est pas défini")
    try:
        database_url = create_throwaway_database(TEST_DATABASE_URL)
    except CannotCreateDatabase as error:
        message = ("tests de charge : le rôle de ATELIER_TEST_DATABASE_URL ne peut pas créer de base "
                   f"(ALTER ROLE … CREATEDB) : {error}")
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    LOAD_BEFORE[0] = os.getloadavg()[0]
    folder = tmp_path_factory.mktemp("load")
    env = _env(ATELIER_DATABASE_URL=database_url, ATELIER_SECRET_KEY="clé-des-tests-de-charge-" + "x" * 40,
               ATELIER_UPLOAD_FOLDER=str(folder / "uploads"), ATELIER_MAIL_FOLDER=str(folder / "mail"))
    stack = app = None
    try:
        # make serve-prod migrates the empty database (flask init-db) before starting gunicorn.
        port = free_port()
        log_path = folder / "serve-prod.log"
        with open(log_path, "w") as log:
            process = make_serve_prod(env, log=log, HOST="127.0.0.1", PORT=port, WORKERS=WORKERS,
                                      THREADS=THREADS)
        stack = Stack(process, port, log_path)
        stack.wait_ready()
        from atelier import create_app

        app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "seed", "UPLOAD_FOLDER": str(folder / "up"),
                          "MAIL_FOLDER": str(folder / "mail")})
        seed = _seed(app)
        yield SimpleNamespace(stack=stack, app=app, seed=seed, base=stack.base)
    finally:
        if stack is not None:
            stack.stop()
        if app is not None:
            from atelier.extensions import db

            with app.app_context():
                db.engine.dispose()
        drop_database(TEST_DATABASE_URL, database_url)


def _logged_in(base: str, email: str, recorder: Recorder | None = None) -> Client:
    client = Client(base, recorder)
    client.login(email, PASSWORD)
    return client


def _state_matches_history(app, line_id: int, event_name: str) -> None:
    """The line's state is the ``to_state`` of its last event; ``event_name`` happened exactly once;
    the audit chain of every dossier is intact."""
    from atelier.audit import verify_chains
    from atelier.extensions import db
    from atelier.models import Event, FundingLine

    with app.app_context():
        line = db.session.get(FundingLine, line_id)
        events = list(db.session.scalars(select(Event).where(Event.line_id == line_id).order_by(Event.id)))
        assert [e.name for e in events].count(event_name) == 1
        assert events[-1].name == event_name and events[-1].to_state == line.state
        assert verify_chains() == []
        db.session.remove()
        return line


# --------------------------------------------------------------------------- 50 conflicting events

@pytest.mark.postgres
@needs_postgres
def test_fifty_approvals_of_one_line_at_once_and_exactly_one_wins(load):
    reference, line_id, version = load.seed.on_agenda
    action = f"/dossiers/{reference}/demandes/{line_id}/actions/approve"
    # Five secretaries logged in once each, every one with ten tabs open on the dossier.
    with ThreadPoolExecutor(5) as pool:
        sessions = list(pool.map(lambda email: _logged_in(load.base, email), load.seed.secretaries))
    clients = []
    for n in range(50):
        tab = Client(load.base)
        tab.cookies = dict(sessions[n % len(sessions)].cookies)
        clients.append(tab)
    with ThreadPoolExecutor(10) as pool:
        forms = list(pool.map(lambda client: client.get(f"/dossiers/{reference}").form(action), clients))
    assert {form.fields["version"] for form in forms} == {str(version)}
    start = threading.Barrier(len(clients))

    def approve(pair):
        client, form = pair
        start.wait()
        began = time.perf_counter()
        answer = client.submit(form, granted_amount="40000")
        took = time.perf_counter() - began
        page = client.get(answer.headers.get("location", f"/dossiers/{reference}"))
        return answer.status, " ".join(page.flashes()), took

    began = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(approve, zip(clients, forms)))
    elapsed = time.perf_counter() - began

    assert Counter(status for status, _, _ in outcomes) == {303: 50}
    winners = [flash for _, flash, _ in outcomes if "L'aide est accordée" in flash]
    losers = [flash for _, flash, _ in outcomes if CONFLICT in flash]
    assert len(winners) == 1, [flash for _, flash, _ in outcomes]
    assert len(losers) == 49, [flash for _, flash, _ in outcomes if CONFLICT not in flash]
    line = _state_matches_history(load.app, line_id, "approve")
    assert line.state == "approved" and line.granted_amount == Decimal("40000")
    _say("50 approbations simultanées d'une même demande (pages, sessions et jetons CSRF)",
         f"1 accordée, 49 « {CONFLICT} » ; aucune 5xx ; les 50 envois et leurs pages de retour en "
         f"{elapsed:.2f} s (envoi le plus lent : {max(t for _, _, t in outcomes) * 1000:.0f} ms).")


@pytest.mark.postgres
@needs_postgres
def test_fifty_api_calls_propose_one_line_at_once_and_exactly_one_wins(load):
    _, line_id, version = load.seed.under_review
    tokens = load.seed.agent_tokens
    clients = [Client(load.base, token=tokens[n % len(tokens)]) for n in range(50)]
    start = threading.Barrier(len(clients))
    body = {"event": "propose", "version": version, "meeting_id": load.seed.meeting_id,
            "proposed_amount": "45000"}

    def propose(client):
        start.wait()
        answer = client.request("POST", f"/api/v1/lines/{line_id}/events", json_body=body)
        return answer.status, answer.json()

    began = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(propose, clients))
    elapsed = time.perf_counter() - began

    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {200: 1, 409: 49}, outcomes
    assert all(CONFLICT in problem["detail"] for status, problem in outcomes if status == 409)
    line = _state_matches_history(load.app, line_id, "propose")
    assert line.state == "on_agenda" and line.proposed_amount == Decimal("45000")
    _say("50 propositions simultanées d'une même demande (API)",
         f"1 réponse 200, 49 réponses 409 « {CONFLICT} » ; 50 requêtes en {elapsed:.2f} s.")


# --------------------------------------------------------------------------- 200 dossiers at once

@pytest.mark.postgres
@needs_postgres
def test_twenty_applicants_submit_two_hundred_dossiers_in_parallel(load):
    recorder = Recorder()
    seed = load.seed

    def submit_ten(n):
        api = Client(load.base, recorder, token=seed.tokens[n])
        references, failures = [], []
        for k in range(10):
            created = api.request("POST", "/api/v1/cases", route="/api/v1/cases", json_body={
                "company_id": seed.company_ids[n], "title": f"Extension de l'atelier n° {k}",
                "description": "Deux machines et un poste.", "starts_on": "2030-01-15",
                "eligible_cost": "120000"})
            if created.status != 201:
                failures.append(("create", created.status, created.body[:300]))
                continue
            reference = created.json()["reference"]
            steps = [("POST", f"/api/v1/cases/{reference}/lines", "/api/v1/cases/<reference>/lines",
                      {"scheme": seed.scheme_code, "requested_amount": "50000"}, 201),
                     ("POST", f"/api/v1/cases/{reference}/no-minimis", "/api/v1/cases/<reference>/no-minimis",
                      {}, 200),
                     ("POST", f"/api/v1/cases/{reference}/events", "/api/v1/cases/<reference>/events",
                      {"event": "submit"}, 200)]
            for method, path, route, body, expected in steps:
                answer = api.request(method, path, route=route, json_body=body)
                if answer.status != expected:
                    failures.append((route, answer.status, answer.body[:300]))
                    break
            else:
                references.append(reference)
        return references, failures

    began = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(submit_ten, range(20)))
    elapsed = time.perf_counter() - began

    failures = [failure for _, fails in results for failure in fails]
    assert failures == []
    references = [reference for refs, _ in results for reference in refs]
    assert len(references) == 200 and len(set(references)) == 200
    year = datetime.now().year
    assert all(re.fullmatch(rf"AP-({year}|{year - 1}|{year + 1})-\d{{5}}", r) for r in references)
    from atelier.extensions import db
    from atelier.models import Case, Event

    with load.app.app_context():
        submitted = db.session.scalars(select(Case).where(Case.reference.in_(references))).all()
        assert len(submitted) == 200 and {case.state for case in submitted} == {"submitted"}
        events = db.session.scalar(select(func.count()).select_from(Event).where(
            Event.case_id.in_([case.id for case in submitted]), Event.name == "submit"))
        assert events == 200
        db.session.remove()
    assert not any(sample.status >= 500 for sample in recorder.samples)
    _say("200 dossiers déposés par 20 demandeurs en parallèle (API)",
         f"200 références distinctes, aucune erreur ; {len(recorder.samples)} requêtes en {elapsed:.1f} s "
         f"({len(recorder.samples) / elapsed:.1f} req/s).\n\n" + report_table(recorder, elapsed))


# --------------------------------------------------------------------------- mixed load

EXPECTED = {  # route → the answers that are normal for it
    "GET /": {200}, "GET /dispositifs/": {200}, "GET /dossiers/": {200}, "GET /dossiers/<reference>": {200},
    "POST /dossiers/<reference>/messages": {302, 303}, "GET /organisme/": {200},
    "POST /dossiers/<reference>/actions/accept": {303}, "GET /api/v1/cases": {200},
    "GET /api/v1/cases/<reference>": {200}, "POST /api/v1/cases": {201},
}


@pytest.mark.postgres
@needs_postgres
def test_mixed_load_for_a_fixed_time_has_no_server_error(load):
    recorder = Recorder()
    seed = load.seed
    cases_of: dict[str, list[str]] = {}
    for reference, email in seed.mixed:
        cases_of.setdefault(email, []).append(reference)
    to_accept = [reference for reference, _ in seed.mixed]
    accepted: list[str] = []
    lock = threading.Lock()
    applicants, agents = 6, len(seed.agents)
    with ThreadPoolExecutor(5) as pool:  # logged in before the clock starts
        applicant_clients = list(pool.map(lambda n: _logged_in(load.base, seed.applicants[n], recorder),
                                          range(applicants)))
        agent_clients = list(pool.map(lambda n: _logged_in(load.base, seed.agents[n], recorder), range(agents)))
    stop_at = time.monotonic() + LOAD_SECONDS

    def going() -> bool:
        return time.monotonic() < stop_at and len(recorder.samples) < LOAD_MAX_REQUESTS

    def applicant(n):
        client = applicant_clients[n]
        references = cases_of[seed.applicants[n]]
        turn = 0
        while going():
            reference = references[turn % len(references)]
            client.get("/dossiers/", "/dossiers/")
            page = client.get(f"/dossiers/{reference}", "/dossiers/<reference>")
            if turn % 2 == 0:
                client.submit(page.form(f"/dossiers/{reference}/messages"), "/dossiers/<reference>/messages",
                              body=f"Message {turn} : le devis est joint.")
            turn += 1

    def agent(n):
        client = agent_clients[n]
        while going():
            client.get("/organisme/", "/organisme/")
            with lock:
                reference = to_accept.pop() if to_accept else None
            if reference is None:
                client.get(f"/dossiers/{accepted[n % len(accepted)]}", "/dossiers/<reference>")
                continue
            page = client.get(f"/dossiers/{reference}", "/dossiers/<reference>")
            client.submit(page.form(f"/dossiers/{reference}/actions/accept"),
                          "/dossiers/<reference>/actions/accept")
            with lock:
                accepted.append(reference)

    def api(n):
        # Each API client speaks for several applicants in turn (one token each): a partner's pace per
        # token stays far below the API's rate limit (API_RATE_LIMIT, 300/minute by default).
        mine = list(range(applicants + n, len(seed.tokens), 3))
        client = Client(load.base, recorder)
        turn = 0
        while going():
            who = mine[turn % len(mine)]
            client.token = seed.tokens[who]
            if turn % 3 == 0:
                client.request("POST", "/api/v1/cases", route="/api/v1/cases", json_body={
                    "company_id": seed.company_ids[who], "title": f"Brouillon {turn}", "description": "",
                    "starts_on": "2030-03-01", "eligible_cost": "90000"})
            listing = client.request("GET", "/api/v1/cases?limit=25", route="/api/v1/cases")
            for item in listing.json()["items"][:2]:
                client.request("GET", f"/api/v1/cases/{item['reference']}", route="/api/v1/cases/<reference>")
            turn += 1

    def visitor(_):
        client = Client(load.base, recorder)
        while going():
            client.get("/", "/")
            client.get("/dispositifs/", "/dispositifs/")

    actors = ([(applicant, n) for n in range(applicants)] + [(agent, n) for n in range(agents)]
              + [(api, n) for n in range(3)] + [(visitor, 0)])
    recorder.samples.clear()  # the logins are not part of the figures
    began = time.perf_counter()
    with ThreadPoolExecutor(len(actors)) as pool:
        for future in [pool.submit(work, n) for work, n in actors]:
            future.result()
    elapsed = time.perf_counter() - began

    table = report_table(recorder, elapsed)
    _say(f"Charge mixte lecture/écriture pendant {LOAD_SECONDS:.0f} s ({len(actors)} clients simultanés)",
         f"{len(recorder.samples)} requêtes en {elapsed:.1f} s, soit {len(recorder.samples) / elapsed:.1f} req/s ; "
         f"{len(accepted)} dossiers déclarés complets.\n\n" + table)
    statuses = Counter((sample.route, sample.status) for sample in recorder.samples)
    assert not [key for key in statuses if key[1] >= 500], statuses
    assert {key for key in statuses if key[1] not in EXPECTED[key[0]]} == set(), statuses
    assert {sample.route for sample in recorder.samples} == set(EXPECTED)  # every route was exercised
    assert accepted
    from atelier.audit import verify_chains
    from atelier.extensions import db
    from atelier.models import Case

    with load.app.app_context():
        states = db.session.execute(select(Case.reference, Case.state).where(Case.reference.in_(accepted))).all()
        assert {state for _, state in states} == {"in_review"} and len(states) == len(accepted)
        assert verify_chains() == []
        db.session.remove()


# --------------------------------------------------------------------------- login throttling across the workers

def test_serve_prod_refuses_to_start_without_redis_nor_a_counters_store():
    """Several processes must count login attempts in one store: without ATELIER_RATELIMIT_STORAGE_URI
    and without redis-server to start, make serve-prod refuses before starting anything."""
    env = _env(ATELIER_DATABASE_URL="postgresql://atelier:secret@127.0.0.1:5432/atelier",
               ATELIER_SECRET_KEY="x" * 64, ATELIER_PUBLIC_URL="https://atelier.example.fr")
    process = make_serve_prod(env, PORT=free_port(), REDIS_SERVER="/nulle-part/redis-server")
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Démarrage refusé" in err and "apt-get install redis-server" in err
    assert "ATELIER_RATELIMIT_STORAGE_URI" in err
    assert "gunicorn" not in out + err.split("Démarrage refusé")[0]


@pytest.mark.postgres
@needs_postgres
def test_forty_wrong_passwords_at_once_on_one_account_are_tested_five_times_across_the_workers(load):
    """40 browsers post a wrong password for the same account at the same instant, spread over the 4
    workers: the attempts are counted in the Redis that make serve-prod started, before any password is
    tested, so 5 are tested (answered by the form's error) and 35 are refused beforehand (429)."""
    assert "Redis démarré pour les compteurs de tentatives" in load.stack.log()
    email, tries = load.seed.secretaries[-1], 40
    clients = [Client(load.base) for _ in range(tries)]
    with ThreadPoolExecutor(10) as pool:
        forms = list(pool.map(lambda client: client.get("/connexion").form("/connexion"), clients))
    start = threading.Barrier(tries)

    def attempt(pair):
        client, form = pair
        start.wait()
        return client.submit(form, email=email, password="pas le bon mot de passe").status

    began = time.perf_counter()
    with ThreadPoolExecutor(tries) as pool:
        statuses = Counter(pool.map(attempt, zip(clients, forms)))
    elapsed = time.perf_counter() - began
    _say(f"{tries} mauvais mots de passe simultanés sur un même compte "
         f"({WORKERS} processus, compteurs dans Redis)",
         f"{statuses[422]} mots de passe testés (réponse 422 du formulaire), "
         f"{statuses[429]} tentatives refusées d'avance (429), en {elapsed:.2f} s ; aucune autre réponse.")
    assert statuses == {422: 5, 429: tries - 5}
    # The account stays suspended for every worker, even with the right password.
    client = Client(load.base)
    answer = client.submit(client.get("/connexion").form("/connexion"), email=email, password=PASSWORD)
    assert answer.status == 429
