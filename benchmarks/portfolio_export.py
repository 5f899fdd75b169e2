"""Benchmark: the portfolio workbook export against a bare openpyxl write-only loop.

    .venv/bin/python benchmarks/portfolio_export.py            # N = 2 000 and 20 000, 3 runs each
    .venv/bin/python benchmarks/portfolio_export.py --sizes 500 5000 --runs 5

For each N it

1. seeds a temporary SQLite database with N funding lines, all in the portfolio of one agency
   (90 % held, 10 % handed over to a partner: a ``transfer`` event), spread over N/2 dossiers of
   N/10 companies, in every line state, with payments, assigned agents, ``CaseAgency`` rows and an
   audit trail of about three events per line. The seed uses bulk Core ``INSERT``s and writes the
   states directly: acceptable here ONLY because this is a benchmark fixture (going through the
   operations would take minutes for 20 000 lines); the application itself never does that;
2. times ``write_portfolio(…, "xlsx", file)`` — the query, the streamed rows and the workbook saved
   to a temporary file — in a fresh subprocess;
3. times, in another fresh subprocess, a bare openpyxl write-only loop writing the very same cells
   (same values, types, number formats, text type, quote prefixes, header, widths, freeze pane,
   print setup and filter; plain values where no style is needed, as the export does) from a list
   of rows read and cleaned BEFORE the clock starts: it never touches the database while timed;
4. measures the peak memory of each run: ``ru_maxrss`` of the subprocess (the whole process: Python,
   SQLite, openpyxl), and in one more fresh subprocess per kind the ``tracemalloc`` peak of the
   Python heap during the export or the loop alone (tracemalloc slows the run, so it is not timed).

Each timed figure is the median of ``--runs`` runs, each in its own subprocess; export and bare
runs alternate, and the ratio is the median of the ratios of each export run to the bare run that
follows it (robust to a machine whose load changes). Targets (issue 3):
time ratio export / bare loop ≤ 1.5 at 20 000 lines; peak memory (maxrss) of the export at 20 000
lines ≤ 1.3 × the one at 2 000.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from common import siret  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENCY_SLUG = "region-bench"


# --------------------------------------------------------------------------- seeding (subprocess)


def seed(count: int, url: str) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from atelier import create_app
    from atelier.extensions import db
    from atelier.audit import AuditChainHead
    from atelier.models import (Agency, Case, CaseAgency, Committee, Company, Event, FundingLine, Payment,
                                Scheme, User)

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        now = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)
        run = db.session.execute

        run(insert(Agency), [
            {"id": 1, "name": "Région (banc d'essai)", "short_name": "Région", "slug": AGENCY_SLUG,
             "kind": "region", "siret": siret(1)},
            {"id": 2, "name": "Agence partenaire (banc d'essai)", "short_name": "AER", "slug": "aer-bench",
             "kind": "development_agency"},
        ])
        run(insert(Committee), [
            {"id": 1, "agency_id": 1, "name": "Commission permanente", "slug": "cp-bench"},
            {"id": 2, "agency_id": 2, "name": "Comité d'engagement", "slug": "ce-bench"},
        ])
        schemes = [("REG-INVEST", "Aide régionale à l'investissement des PME", "grant", 1, 1),
                   ("REG-EXPORT", "Aide au conseil et à la prospection internationale", "grant", 1, 1),
                   ("REG-AVANCE", "Avance remboursable Région", "repayable_advance", 1, 1),
                   ("AER-PRET", "Prêt de développement AER", "zero_rate_loan", 2, 2)]
        run(insert(Scheme), [
            {"id": index, "agency_id": agency, "committee_id": committee, "code": code, "name": name,
             "instrument": instrument, "regime": "gber", "ceiling": Decimal("500000"),
             "max_rate": Decimal("0.5"),
             "annual_budget": Decimal("50000000"), "opens_on": date(2024, 1, 1), "required_documents": [],
             "description": ""}
            for index, (code, name, instrument, agency, committee) in enumerate(schemes, start=1)])
        agents = [{"id": index, "email": f"agent{index}@bench.test",
                   "name": f"Agent n°{index} Dupont-Lefèvre",
                   "password_hash": "x", "role": "agent", "agency_id": 1 if index <= 5 else 2}
                  for index in range(1, 8)]
        agents.append({"id": 8, "email": "porteur@bench.test", "name": "Porteur", "password_hash": "x",
                       "role": "applicant"})
        run(insert(User), agents)

        company_count = max(1, count // 10)
        towns = [("Dijon", "21"), ("Besançon", "25"), ("Chalon-sur-Saône", "71"), ("Auxerre", "89"),
                 ("Belfort", "90"), ("Nevers", "58"), ("Vesoul", "70"), ("Lons-le-Saunier", "39")]
        companies = []
        for index in range(1, company_count + 1):
            town, dep = towns[index % len(towns)]
            name = f"Société bourguignonne de mécanique n°{index}"
            if index % 100 == 0:
                name = f'=HYPERLINK("http://x","{index}")'  # the odd hostile name
            companies.append({"id": index, "siret": siret(1000 + index), "siren": siret(1000 + index)[:9],
                              "name": name, "legal_form": "SAS", "naf_code": "28.41Z",
                              "headcount": 12 + index % 40,
                              "turnover": Decimal("1500000"), "balance_sheet": Decimal("900000"),
                              "address": f"{index} rue de la Liberté", "postcode": "21000", "commune": town,
                              "departement": dep})
        run(insert(Company), companies)

        case_count = max(1, count // 2)
        cases, case_agencies = [], []
        for index in range(1, case_count + 1):
            submitted = now - timedelta(days=index % 700, minutes=index)
            cases.append({"id": index, "reference": f"AP-{2023 + index % 3}-{index:05d}",
                          "company_id": 1 + index % company_count, "created_by_id": 8,
                          "title": f"Projet d'investissement productif et d'embauche n°{index} en Bourgogne",
                          "description": "", "eligible_cost": Decimal("250000.00") + index,
                          "state": "in_review", "lead_agency_id": 1, "minimis_declared": True,
                          "submitted_at": submitted, "completed_at": submitted, "created_at": submitted,
                          "updated_at": submitted, "version": 1})
            case_agencies.append({"case_id": index, "agency_id": 1, "since": submitted})
            if index % 5 == 0:
                case_agencies.append({"case_id": index, "agency_id": 2, "since": submitted})
        run(insert(Case), cases)
        run(insert(CaseAgency), case_agencies)

        states = ["requested", "under_review", "under_review", "on_agenda", "approved", "agreement_signed",
                  "agreement_signed", "settled", "rejected", "dismissed"]
        lines, payments, events = [], [], []
        for index in range(1, count + 1):
            case_id = 1 + (index - 1) // 2
            handed_over = index % 10 == 0
            state = "under_review" if handed_over else states[index % len(states)]
            requested = Decimal(20000 + (index % 50) * 1000)
            proposed = requested - 5000 if state in ("on_agenda", "approved", "agreement_signed", "settled",
                                                     "rejected") else None
            granted = proposed - 1000 if state in ("approved", "agreement_signed", "settled") else None
            decided = now + timedelta(days=index % 30) if state in ("approved", "agreement_signed",
                                                                    "settled", "rejected") else None
            signed = None
            if state in ("agreement_signed", "settled"):
                signed = decided.date() + timedelta(days=10)
            lines.append({
                "id": index, "case_id": case_id, "position": (index - 1) % 2,
                "scheme_id": 4 if handed_over else 1 + index % 3, "agency_id": 2 if handed_over else 1,
                "requested_amount": requested, "proposed_amount": proposed, "granted_amount": granted,
                "released_amount": Decimal("1000.00") if state == "settled" else None, "state": state,
                "assigned_agent_id": None if index % 7 == 0 else (6 if handed_over else 1 + index % 5),
                "decided_at": decided, "agreement_signed_on": signed,
                "settled_at": decided + timedelta(days=60) if state == "settled" else None,
                "created_at": now, "updated_at": now, "version": 1})
            if state in ("agreement_signed", "settled"):
                for instalment in range(1 + index % 2):
                    payments.append({"line_id": index, "amount": Decimal("3000.00"),
                                     "paid_on": signed + timedelta(days=30 * (instalment + 1)),
                                     "recorded_by_id": 1, "created_at": now})
            common = {"case_id": case_id, "line_id": index, "entity": "line", "data": {}, "created_at": now}
            events.append({**common, "name": "start_review", "from_state": "requested",
                           "to_state": "under_review"})
            events.append({**common, "name": "propose", "actor_id": 1, "agency_id": 1,
                           "from_state": "under_review", "to_state": "on_agenda"})
            if handed_over:
                events.append({**common, "name": "transfer", "actor_id": 1, "agency_id": 1,
                               "from_state": "under_review", "to_state": "under_review",
                               "reason": "Relève du partenaire.",
                               "data": {"from_agency": "Région", "to_agency": "AER"}})
            else:
                events.append({**common, "name": "approve", "actor_id": 2, "agency_id": 1,
                               "from_state": "on_agenda", "to_state": "approved"})
        run(insert(FundingLine), lines)
        run(insert(Payment), payments)
        heads = _chain(events)  # bulk inserts bypass the ORM listener that chains the audit trail
        run(insert(Event), events)
        run(insert(AuditChainHead), heads)
        db.session.commit()


def _chain(events: list[dict]) -> list[dict]:
    """Give the event rows (in insertion order) their audit hashes, as atelier/audit.py would; return
    the chain heads of their dossiers."""
    from atelier.audit import GENESIS, chain_hash

    last, counts = {}, {}
    for row in events:
        row["previous_hash"] = last.get(row["case_id"], GENESIS)
        row["hash"] = last[row["case_id"]] = chain_hash(row, row["previous_hash"])
        counts[row["case_id"]] = counts.get(row["case_id"], 0) + 1
    return [{"case_id": case_id, "last_hash": last[case_id], "event_count": counts[case_id]} for case_id in last]


# --------------------------------------------------------------------------- measured runs (subprocess)

def _app(url: str):
    from atelier import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})


def run_export(url: str, trace: bool) -> dict:
    from sqlalchemy import select

    from atelier.agencies.models import Agency
    from atelier.exports.portfolio import PortfolioFilters, write_portfolio
    from atelier.extensions import db

    with _app(url).app_context():
        agency = db.session.scalar(select(Agency).where(Agency.slug == AGENCY_SLUG))
        with tempfile.TemporaryFile() as target:
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            write_portfolio(agency, PortfolioFilters(), "xlsx", target)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] if trace else None
            size = target.tell()
    return {"seconds": elapsed, "tracemalloc_peak": peak, "bytes": size}


def prebuilt_rows(url: str) -> list[list]:
    """The exact values the export writes, read once before any clock starts."""
    from sqlalchemy import select

    from atelier.agencies.models import Agency
    from atelier.exports.cells import clean_text
    from atelier.exports.portfolio import KINDS, portfolio_rows
    from atelier.extensions import db

    with _app(url).app_context():
        agency_id = db.session.scalar(select(Agency.id).where(Agency.slug == AGENCY_SLUG))
        rows = []
        for row in portfolio_rows(agency_id):
            rows.append([(clean_text(value) or None) if kind == "text" else value
                         for kind, value in zip(KINDS, row)])
        db.session.remove()
    return rows


def bare_loop(rows: list[list], target) -> None:
    """openpyxl alone: the same cells, built straight from ready values."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    from atelier.exports.cells import DATE_FORMAT, FORMULA_PREFIXES, MONEY_FORMAT
    from atelier.exports.portfolio import COLUMNS, HEADERS, KINDS

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("Portefeuille")
    for index, (_, _, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for title in HEADERS:
        cell = WriteOnlyCell(ws, title)
        cell.data_type, cell.font, cell.alignment = "s", bold, wrap
        header.append(cell)
    ws.append(header)
    risky = (*FORMULA_PREFIXES, "#")
    for row in rows:
        cells = []
        for kind, value in zip(KINDS, row):
            if value is None or kind == "int" or (kind == "text" and not value.startswith(risky)):
                cells.append(value)  # a plain value: openpyxl needs no style for it
                continue
            cell = WriteOnlyCell(ws, value)
            if kind == "text":
                cell.data_type = "s"
                if value.startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True
            elif kind == "money":
                cell.number_format = MONEY_FORMAT
            elif kind == "date":
                cell.number_format = DATE_FORMAT
            cells.append(cell)
        ws.append(cells)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    workbook.save(target)


def run_bare(url: str, trace: bool) -> dict:
    rows = prebuilt_rows(url)
    with tempfile.TemporaryFile() as target:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        bare_loop(rows, target)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        size = target.tell()
    return {"seconds": elapsed, "tracemalloc_peak": peak, "bytes": size, "rows": len(rows)}


def _child(argv: list[str]) -> None:
    command, *args = argv
    if command == "seed":
        seed(int(args[0]), args[1])
        return
    trace = len(args) > 1 and args[1] == "trace"
    result = run_export(args[0], trace) if command == "export" else run_bare(args[0], trace)
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps(result))


# --------------------------------------------------------------------------- orchestration

def _spawn(*args: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--child", *args], cwd=ROOT, check=True,
                               capture_output=True, text=True)
    lines = completed.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def measure(count: int, runs: int, folder: str) -> dict:
    url = f"sqlite:///{folder}/bench-{count}.sqlite3"
    started = time.perf_counter()
    _spawn("seed", str(count), url)
    seeded = time.perf_counter() - started
    result = {"n": count, "seed_seconds": seeded}
    # Export and bare runs alternate, so that a change in the machine's load hits both alike.
    timed = {"export": [], "bare": []}
    for _ in range(runs):
        for kind in ("export", "bare"):
            timed[kind].append(_spawn(kind, url))
    for kind in ("export", "bare"):
        traced = _spawn(kind, url, "trace")
        result[kind] = {
            "seconds": statistics.median(run["seconds"] for run in timed[kind]),
            "maxrss_mib": statistics.median(run["maxrss_kib"] for run in timed[kind]) / 1024,
            "tracemalloc_mib": traced["tracemalloc_peak"] / 2**20,
            "bytes": timed[kind][0]["bytes"],
        }
    result["ratio"] = statistics.median(export["seconds"] / bare["seconds"]
                                        for export, bare in zip(timed["export"], timed["bare"]))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (median)")
    options = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as folder:
        for count in options.sizes:
            result = measure(count, options.runs, folder)
            results.append(result)
            export, bare = result["export"], result["bare"]
            print(f"N = {count:>6} lignes (base créée en {result['seed_seconds']:.1f} s)")
            for label, run in (("export portefeuille", export), ("boucle openpyxl nue", bare)):
                print(f"  {label} : {run['seconds']:7.3f} s   maxrss {run['maxrss_mib']:6.1f} Mio"
                      f"   tracemalloc {run['tracemalloc_mib']:6.1f} Mio"
                      f"   (fichier {run['bytes'] / 2**20:.1f} Mio)")
            print(f"  rapport des temps export / boucle nue : {result['ratio']:.2f} (médiane des paires)")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large["export"]["maxrss_mib"] / small["export"]["maxrss_mib"]
        print(f"Mémoire de pointe de l'export (maxrss) : {large['n']} lignes / {small['n']} lignes"
              f" = {growth:.2f} (objectif ≤ 1,30)")
        print(f"Rapport des temps à {large['n']} lignes : {large['ratio']:.2f} (objectif ≤ 1,50)")
        ok = growth <= 1.3 and large["ratio"] <= 1.5
        print("Objectifs atteints." if ok else "OBJECTIFS NON ATTEINTS.")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        sys.exit(main())
