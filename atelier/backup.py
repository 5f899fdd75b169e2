"""Backups: the database and the uploaded files in one folder, with a manifest; and their restore.

``flask --app atelier backup DIR`` writes into DIR (new or empty):

- ``database.sqlite3``: SQLite's online backup (``sqlite3.Connection.backup``), consistent even
  while the site is being used; or ``database.dump`` from ``pg_dump --format=custom`` for PostgreSQL;
- ``uploads/``: a copy of the upload folder (the documents' files, under their random names);
- ``manifest.json``, written last (a folder without it is not a finished backup): date, database
  kind, migration revision, the number of rows of each table and of files.

``flask --app atelier restore DIR --yes`` puts them back: for SQLite the backup API copies the saved
file into the live database under its lock (no half-replaced file, open connections see the
restored content); for PostgreSQL ``pg_restore --clean --if-exists --single-transaction`` (all or
nothing). The upload folder is swapped whole by renaming. The row counts are then compared with the
manifest.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text

from .extensions import db

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_DUMP_FILE = "database.dump"
UPLOADS = "uploads"


class BackupError(Exception):
    """Something prevents the backup or the restore; the message is for the person (French)."""


def database_kind() -> str:
    name = db.engine.url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Base de données non prise en charge pour les sauvegardes : {name}.")
    return name


def table_counts() -> dict[str, int]:
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def file_summary(folder: str | Path) -> dict:
    folder = Path(folder)
    files = [path for path in folder.rglob("*") if path.is_file()] if folder.is_dir() else []
    return {"count": len(files), "bytes": sum(path.stat().st_size for path in files)}


def _revision() -> str | None:
    try:
        return db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:  # no migration table (a database made without migrations)
        db.session.rollback()
        return None


# --------------------------------------------------------------------------- backup

def backup(directory: str | Path) -> dict:
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"Le dossier {target} existe déjà et n'est pas vide : choisissez un dossier "
                          "nouveau ou vide.")
    kind = database_kind()
    target.mkdir(parents=True, exist_ok=True)
    counts = table_counts()
    revision = _revision()
    db.session.rollback()
    if kind == "sqlite":
        _sqlite_copy(_sqlite_path(), target / SQLITE_FILE)
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target / PG_DUMP_FILE)])
    uploads = current_app.config["UPLOAD_FOLDER"]
    if os.path.isdir(uploads):
        shutil.copytree(uploads, target / UPLOADS)
    else:
        (target / UPLOADS).mkdir()
    manifest = {
        "application": "Atelier des projets",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": kind,
        "database_file": SQLITE_FILE if kind == "sqlite" else PG_DUMP_FILE,
        "migration": revision,
        "tables": counts,
        "files": file_summary(target / UPLOADS),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _sqlite_path() -> str:
    path = db.engine.url.database
    if not path or path == ":memory:":
        raise BackupError("La base SQLite est en mémoire : il n'y a rien à sauvegarder.")
    return path


def _sqlite_copy(source_path: str | Path, destination_path: str | Path) -> None:
    source = sqlite3.connect(str(source_path))
    destination = sqlite3.connect(str(destination_path))
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _pg_environment() -> dict:
    url = db.engine.url
    env = dict(os.environ)
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[variable] = str(value)  # the password in the environment, not on the command line
    return env


def _run(command: list[str]) -> None:
    try:
        finished = subprocess.run(command, env=_pg_environment(), capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} est introuvable : installez les outils clients de PostgreSQL.") from None
    if finished.returncode != 0:
        raise BackupError(f"{command[0]} a échoué : {finished.stderr.strip()}")


# --------------------------------------------------------------------------- restore

def read_manifest(directory: str | Path) -> dict:
    source = Path(directory)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{source} n'est pas une sauvegarde complète (manifest.json absent ou illisible).") \
            from None
    if not (source / manifest.get("database_file", "")).is_file() or not (source / UPLOADS).is_dir():
        raise BackupError(f"La sauvegarde {source} est incomplète (base ou dossier uploads manquant).")
    return manifest


def restore(directory: str | Path) -> dict:
    """Put the backup back; the differences between the restored counts and the manifest's (none
    when all went well)."""
    source = Path(directory)
    manifest = read_manifest(source)
    kind = database_kind()
    if manifest["database"] != kind:
        raise BackupError(f"Cette sauvegarde vient d'une base {manifest['database']}, la base configurée "
                          f"est {kind}.")
    db.session.remove()
    db.engine.dispose()
    if kind == "sqlite":
        _sqlite_copy(source / SQLITE_FILE, _sqlite_path())
    else:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", db.engine.url.database, str(source / PG_DUMP_FILE)])
    db.engine.dispose()
    _swap_uploads(source / UPLOADS, Path(current_app.config["UPLOAD_FOLDER"]))
    differences = {}
    counts = table_counts()
    for table, expected in manifest["tables"].items():
        if counts.get(table) != expected:
            differences[table] = (expected, counts.get(table))
    files = file_summary(current_app.config["UPLOAD_FOLDER"])
    if files != manifest["files"]:
        differences["uploads"] = (manifest["files"], files)
    db.session.remove()
    return differences


def _swap_uploads(saved: Path, live: Path) -> None:
    """The restored folder is prepared beside the live one, then the two are swapped by renaming."""
    live.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".uploads-restore-", dir=live.parent))
    shutil.copytree(saved, staging, dirs_exist_ok=True)
    os.chmod(staging, 0o700)
    old = None
    if live.exists():
        old = live.parent / f".uploads-before-restore-{datetime.now():%Y%m%d%H%M%S%f}"
        os.rename(live, old)
    os.rename(staging, live)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
