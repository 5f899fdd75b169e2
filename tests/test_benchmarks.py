"""The committed benchmarks still build their data against the current schema (their bulk inserts
bypass the ORM, so a new NOT NULL column or the audit chain would break them silently)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_portfolio_benchmark_seeds_a_database_whose_audit_trail_verifies(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    subprocess.run([sys.executable, "benchmarks/portfolio_export.py", "--child", "seed", "40", url],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    verified = subprocess.run([sys.executable, "-m", "flask", "--app", "atelier", "verify-audit"], cwd=ROOT,
                              env={"ATELIER_DATABASE_URL": url, "PATH": "", "HOME": str(tmp_path)},
                              capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout
