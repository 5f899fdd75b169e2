"""Benchmark: the agents' search (atelier/search/queries.py) on 1 000 and on 100 000 dossiers.

    .venv/bin/python benchmarks/search.py                       # SQLite, N = 1 000 and 100 000
    .venv/bin/python benchmarks/search.py --url postgresql+psycopg://lead:lead@127.0.0.1:5432/bench
    .venv/bin/python benchmarks/search.py --sizes 1000 20000 --runs 7

For each N it builds a fresh database (a temporary SQLite file, or the PostgreSQL database named by
``--url`` — its ``public`` schema is DROPPED and rebuilt: never point it at real data), migrated to
the head (so the GIN indexes of migration 0008 exist on PostgreSQL), and seeds N dossiers of N/5
companies, all visible to one agency (a ``CaseAgency`` row each), with titles and descriptions drawn
from a vocabulary of 200 words. The seed uses bulk Core ``INSERT``s and writes the states
directly: acceptable ONLY because this is a benchmark fixture; the application never does that.

It then times, as the search page does (a COUNT and the first page of 20 rows, eagerly loaded),
each of these searches — median of ``--runs`` runs after one warm-up:

- ``reference``: one dossier by its reference;
- ``siret``: the dossiers of one company;
- ``rare word``: a word of 3 dossiers (« zéphyrin », typed without its accent on PostgreSQL);
- ``company``: a word of one company's name;
- ``common word``: a word of about 1 dossier in 10 (thousands of results, first page).

and prints, per search, the time at each N and the ratio largest N / smallest N. The machine is
noisy, so the bounds are ratios, not times: with the indexes the lookups (reference, SIRET, rare
word, company) must stay within 10× when N grows 100×, which a full scan cannot do (≈ 100×). On
SQLite the words are searched with LIKE, a full scan by design (documented in the README): only
the reference and SIRET bounds apply there. Exit status 1 when a bound is broken.
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from common import siret  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = ("atelier boulangerie menuiserie fromagerie scierie imprimerie brasserie garage pharmacie robot "
         "machine four presse tour fraiseuse ligne production stockage entrepôt bâtiment extension toiture "
         "isolation chaudière biomasse photovoltaïque numérique logiciel site commerce export salon "
         "formation embauche recrutement apprenti ingénieur technicien conseil étude prototype brevet "
         "innovation recherche laboratoire essai certification qualité sécurité hygiène cuisine vitrine "
         "camion véhicule électrique hydrogène recyclage déchets eau énergie chaleur vapeur compresseur "
         "découpe laser soudure peinture emballage étiquetage conditionnement palette chariot quai "
         "transport logistique bois acier aluminium verre plastique textile cuir papier carton béton "
         "pierre vigne vin comté moutarde cassis chocolat pain viande lait fromage miel bière café "
         "hôtel restaurant camping gîte tourisme musée spectacle studio son image vidéo jeu santé "
         "soin clinique dentaire optique audition sport vélo ski randonnée montagne lac rivière forêt "
         "jardin serre maraîchage verger élevage ferme abattoir marché halle boutique épicerie magasin "
         "agence bureau cabinet coworking data serveur réseau fibre capteur automate drone impression "
         "modernisation reprise transmission création développement croissance relocalisation "
         "diversification mutualisation rénovation agrandissement déménagement équipement matériel "
         "outillage mobilier informatique tablette caisse balance vitrine réfrigérée chambre froide "
         "climatisation ventilation éclairage led alarme accessibilité ascenseur parking borne").split()
TOWNS = [("Dijon", "21"), ("Besançon", "25"), ("Chalon-sur-Saône", "71"), ("Auxerre", "89"),
         ("Belfort", "90"), ("Nevers", "58"), ("Vesoul", "70"), ("Lons-le-Saunier", "39")]
RARE = "zéphyrin"
COMMON = "quincaillerie"  # in about one title in ten
LOOKUP_BOUND = 10.0


def build(app, count: int) -> dict:
    """Seed ``count`` dossiers; return what the searches look for."""
    from sqlalchemy import insert

    from atelier.extensions import db
    from atelier.models import Agency, Case, CaseAgency, Committee, Company, FundingLine, Scheme, User

    rng = random.Random(count)
    run = db.session.execute
    now = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)
    run(insert(Agency), [{"id": 1, "name": "Région (banc d'essai)", "short_name": "Région", "slug": "region-bench",
                          "kind": "region"}])
    run(insert(Committee), [{"id": 1, "agency_id": 1, "name": "Commission permanente", "slug": "cp-bench"}])
    run(insert(Scheme), [{"id": 1, "agency_id": 1, "committee_id": 1, "code": "REG-INVEST",
                          "name": "Aide à l'investissement", "instrument": "grant", "regime": "gber",
                          "ceiling": Decimal("500000"), "max_rate": Decimal("0.5"), "annual_budget": None,
                          "opens_on": date(2024, 1, 1), "required_documents": [], "description": ""}])
    run(insert(User), [{"id": 1, "email": "agent@bench.test", "name": "Agent", "password_hash": "x",
                        "role": "agent", "agency_id": 1},
                       {"id": 2, "email": "porteur@bench.test", "name": "Porteur", "password_hash": "x",
                        "role": "applicant"}])
    company_count = max(1, count // 5)
    companies = []
    for index in range(1, company_count + 1):
        town, departement = TOWNS[index % len(TOWNS)]
        name = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {town} n°{index}"
        companies.append({"id": index, "siret": siret(index), "siren": siret(index)[:9], "name": name,
                          "legal_form": "SAS", "naf_code": "25.62A", "headcount": 12, "turnover": Decimal(1),
                          "balance_sheet": Decimal(1), "address": "1 rue du Banc", "postcode": "21000",
                          "commune": town, "departement": departement})
    companies[0]["name"] = "Établissements Grandvaux et fils"
    run(insert(Company), companies)
    rare_cases = {count // 3, count // 2, count - 1}
    cases, lines, access = [], [], []
    states = ("submitted", "incomplete", "in_review", "in_review", "closed")
    for index in range(1, count + 1):
        words = rng.sample(WORDS, 4)
        if index % 10 == 0:
            words[1] = COMMON
        if index in rare_cases:
            words[2] = RARE
        title = " ".join(words).capitalize()
        description = " ".join(rng.sample(WORDS, 25)) + "."
        moment = now - timedelta(minutes=index)
        cases.append({"id": index, "reference": f"AP-2025-{index:05d}" if index < 100_000 else f"AP-2026-{index - 99_999:05d}",
                      "company_id": (index - 1) % company_count + 1, "created_by_id": 2, "title": title,
                      "description": description, "state": states[index % len(states)], "lead_agency_id": 1,
                      "minimis_declared": True, "submitted_at": moment, "created_at": moment,
                      "updated_at": moment, "paused_seconds": 0, "version": 1})
        lines.append({"id": index, "case_id": index, "position": 0, "scheme_id": 1, "agency_id": 1,
                      "requested_amount": Decimal("10000"), "state": "under_review", "created_at": moment,
                      "updated_at": moment, "version": 1})
        access.append({"case_id": index, "agency_id": 1, "since": moment})
    for start in range(0, count, 10_000):
        run(insert(Case), cases[start:start + 10_000])
        run(insert(FundingLine), lines[start:start + 10_000])
        run(insert(CaseAgency), access[start:start + 10_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return {"reference": cases[count // 2]["reference"], "siret": companies[min(7, company_count - 1)]["siret"],
            "rare word": RARE if db.engine.dialect.name != "postgresql" else "zephyrin",
            "company": "Grandvaux", "common word": COMMON}


def time_searches(app, lookups: dict, runs: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from atelier.extensions import db
    from atelier.models import User
    from atelier.search.queries import search_cases

    agent = db.session.get(User, 1)
    timings = {}
    for name, typed in lookups.items():
        samples = []
        for attempt in range(runs + 1):
            db.session.expire_all()
            started = time.perf_counter()
            query = search_cases(agent, typed)
            total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
            rows = db.session.scalars(query.limit(20)).unique().all()
            elapsed = time.perf_counter() - started
            if attempt:  # the first run warms the caches
                samples.append(elapsed)
        assert total >= 1 and rows, (name, typed)
        timings[name] = statistics.median(samples)
    return timings


def measure(url: str | None, count: int, runs: int) -> dict[str, float]:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from atelier import create_app
    from atelier.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        database = url or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app({"DATABASE_URL": database, "SECRET_KEY": "bench", "TESTING": True,
                          "UPLOAD_FOLDER": folder})
        with app.app_context():
            if url:
                with db.engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA public CASCADE"))
                    connection.execute(text("CREATE SCHEMA public"))
            upgrade()
            started = time.perf_counter()
            lookups = build(app, count)
            print(f"  N = {count:>7}: seeded in {time.perf_counter() - started:.1f} s", flush=True)
            timings = time_searches(app, lookups, runs)
            db.session.remove()
            db.engine.dispose()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a PostgreSQL URL whose public schema may be dropped (default: SQLite)")
    parser.add_argument("--sizes", nargs=2, type=int, default=[1_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    small, large = sorted(args.sizes)
    print(f"Search benchmark on {'PostgreSQL' if args.url else 'SQLite'}")
    first = measure(args.url, small, args.runs)
    second = measure(args.url, large, args.runs)
    postgres = bool(args.url)
    broken = []
    print(f"\n{'search':<14}{'N=' + str(small):>12}{'N=' + str(large):>14}{'ratio':>9}  bound")
    for name in first:
        ratio = second[name] / first[name]
        bounded = name in ("reference", "siret") or (postgres and name in ("rare word", "company"))
        bound = f"≤ {LOOKUP_BOUND:g}" if bounded else "(scan: none)"
        if bounded and ratio > LOOKUP_BOUND:
            broken.append(name)
        print(f"{name:<14}{first[name] * 1000:>10.2f}ms{second[name] * 1000:>12.2f}ms{ratio:>9.1f}  {bound}")
    if broken:
        print(f"\nBOUND BROKEN: {', '.join(broken)}")
        return 1
    print("\nEvery bound holds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
