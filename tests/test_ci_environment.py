"""The CI runs the suite twice; these tests make sure the PostgreSQL pass really ran on PostgreSQL.

``.ci/run`` sets ``ATELIER_REQUIRE_POSTGRES=1`` (with ``ATELIER_TEST_DATABASE_URL``) for its second
pass only: a misconfigured pass then fails loudly instead of quietly testing SQLite twice.
Tests marked ``postgres`` need the server and are skipped when ``ATELIER_TEST_DATABASE_URL`` is unset.
"""
import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from atelier import normalise_database_url
from atelier.cases import operations as ops
from atelier.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")
skip_without_postgres = pytest.mark.skipif(not TEST_DATABASE_URL,
                                           reason="ATELIER_TEST_DATABASE_URL n'est pas défini")


def test_the_postgresql_pass_runs_on_postgresql(app):
    if not os.environ.get("ATELIER_REQUIRE_POSTGRES"):
        pytest.skip("ATELIER_REQUIRE_POSTGRES n'est pas défini (passe SQLite ou poste de développement)")
    assert TEST_DATABASE_URL, "ATELIER_REQUIRE_POSTGRES est défini mais pas ATELIER_TEST_DATABASE_URL"
    assert db.engine.dialect.name == "postgresql"
    assert db.engine.dialect.driver == "psycopg"
    assert db.session.scalar(text("SHOW server_version_num")) >= "150000"


def test_the_ci_script_is_an_executable_strict_bash_script():
    script = ROOT / ".ci" / "run"
    assert script.stat().st_mode & stat.S_IXUSR
    source = script.read_text(encoding="utf-8")
    assert source.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in source
    assert "ATELIER_REQUIRE_POSTGRES=1" in source
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_the_postgres_marker_is_registered(pytestconfig):
    assert any(line.startswith("postgres:") for line in pytestconfig.getini("markers"))


@pytest.mark.postgres
@skip_without_postgres
def test_case_references_stay_unique_across_concurrent_transactions(app):
    """Two transactions numbering a case at once: the second waits for the first, never reuses its number."""
    engine = create_engine(normalise_database_url(TEST_DATABASE_URL))
    bump = text("UPDATE reference_counters SET last_number = last_number + 1 WHERE year = 1999 "
                "RETURNING last_number")
    try:
        with engine.begin() as setup:
            setup.execute(text("DELETE FROM reference_counters WHERE year = 1999"))
            setup.execute(text("INSERT INTO reference_counters (year, last_number) VALUES (1999, 0)"))
        first, second = engine.connect(), engine.connect()
        try:
            first.begin()
            second.begin()
            assert first.execute(bump).scalar() == 1
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(Exception, match="lock"):
                second.execute(bump)  # blocked by the first transaction's row lock
            second.rollback()
            first.commit()
            second.begin()
            assert second.execute(bump).scalar() == 2
            second.commit()
        finally:
            first.close()
            second.close()
    finally:
        with engine.begin() as cleanup:
            cleanup.execute(text("DELETE FROM reference_counters WHERE year = 1999"))
        engine.dispose()


@pytest.mark.postgres
@skip_without_postgres
def test_next_reference_on_postgresql_creates_then_increments_the_yearly_counter(app):
    assert ops.next_reference(1998) == "AP-1998-00001"
    assert ops.next_reference(1998) == "AP-1998-00002"
    db.session.rollback()
