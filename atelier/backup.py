"""Backups: the database and the uploaded files in one folder, with a manifest; and their restore.

``flask --app atelier backup DIR`` writes into DIR (new or empty):

- ``database.sqlite3``: SQLite's online backup (``sqlite3.Connection.backup``), consistent even
  while the site is being used; or ``database.dump`` from ``pg_dump --format=custom --snapshot``
  for PostgreSQL, dumping a snapshot exported by a REPEATABLE READ transaction;
- ``uploads/``: the files that the saved rows refer to (documents, message attachments: every
  ``stored_name`` column), under their random names;
- ``manifest.json``, written last (a folder without it is not a finished backup): date, database
  kind, migration revision, the number of rows of each table — read from the saved snapshot itself,
  so that they describe exactly what was saved —, the number and size of the files copied, and the
  files deleted before they could be copied (``files_missing``).

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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.pool import NullPool

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


# --------------------------------------------------------------------------- backup

@dataclass
class Snapshot:
    """What the saved database holds, read from the saved state itself (never from the live one,
    which people keep changing while the backup runs)."""

    counts: dict[str, int]
    revision: str | None
    stored_names: list[str]  # the files its rows refer to (documents, message attachments…)


def backup(directory: str | Path) -> dict:
    """Write the backup into ``directory`` (new or empty); its manifest.

    The site may be in use: the database is saved as one consistent snapshot, the manifest's row
    counts and the list of files to copy are read from that snapshot, and the files are copied
    afterwards. A file of the snapshot deleted meanwhile is skipped and listed in the manifest
    (``files_missing``); a file written meanwhile belongs to no row of the snapshot and is not
    copied. If anything fails, what was written is removed: no folder looks like a backup that
    is not one.
    """
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"Le dossier {target} existe déjà et n'est pas vide : choisissez un dossier "
                          "nouveau ou vide.")
    kind = database_kind()
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "sqlite":
            snapshot = _sqlite_snapshot(target / SQLITE_FILE)
        else:
            snapshot = _postgresql_snapshot(target / PG_DUMP_FILE)
        copied, missing = _copy_files(snapshot.stored_names, Path(current_app.config["UPLOAD_FOLDER"]),
                                      target / UPLOADS)
        manifest = {
            "application": "Atelier des projets",
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "database": kind,
            "database_file": SQLITE_FILE if kind == "sqlite" else PG_DUMP_FILE,
            "migration": snapshot.revision,
            "tables": snapshot.counts,
            "files": copied,
            "files_missing": missing,
        }
        partial = target / (MANIFEST + ".part")
        partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(partial, target / MANIFEST)  # written last, whole or not at all
    except BaseException as error:
        _remove_contents(target, remove_folder=created)
        if isinstance(error, (OSError, sqlite3.Error)):
            raise BackupError(f"La sauvegarde a échoué ({error}) : rien n'a été gardé dans "
                              f"{target}.") from error
        raise
    return manifest


def _remove_contents(folder: Path, *, remove_folder: bool) -> None:
    if remove_folder:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _read_snapshot(connection) -> Snapshot:
    """Counts, migration and referenced files, read through ``connection`` (a SQLAlchemy connection
    to the saved copy, or inside the exported PostgreSQL snapshot)."""
    tables = db.metadata.sorted_tables
    counts = {table.name: connection.scalar(select(func.count()).select_from(table)) for table in tables}
    revision = None
    if inspect(connection).has_table("alembic_version"):
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    stored_names = []
    for table in tables:
        if "stored_name" in table.c:
            stored_names.extend(connection.scalars(select(table.c.stored_name)))
    return Snapshot(counts=counts, revision=revision, stored_names=stored_names)


def _sqlite_snapshot(destination: Path) -> Snapshot:
    """SQLite's online backup (one consistent state, even while people write), then read the copy."""
    _sqlite_copy(_sqlite_path(), destination)
    engine = create_engine(f"sqlite:///{destination}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _read_snapshot(connection)
    finally:
        engine.dispose()


def _postgresql_snapshot(destination: Path) -> Snapshot:
    """A REPEATABLE READ transaction exports its snapshot; the counts are read in it and pg_dump
    dumps that very snapshot (``--snapshot``) while the transaction stays open."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():  # read only: its end releases the snapshot, nothing else
            snapshot_id = connection.scalar(text("SELECT pg_export_snapshot()"))
            snapshot = _read_snapshot(connection)
            _run(["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot_id}",
                  "--file", str(destination)])
    return snapshot


def _copy_files(stored_names: list[str], source: Path, destination: Path) -> tuple[dict, list[str]]:
    """Copy the files the snapshot refers to, streamed, private. Returns what was copied
    (``{"count", "bytes"}``) and the names of the files gone before they could be copied."""
    destination.mkdir(mode=0o700)
    count = size = 0
    missing = []
    for name in sorted(set(stored_names)):
        if not name or not all(char in "0123456789abcdef" for char in name):  # not one of ours
            missing.append(name)
            continue
        try:
            size += _copy_file(source / name, destination / name)
        except FileNotFoundError:  # its row was deleted (and committed) after the snapshot
            missing.append(name)
            continue
        count += 1
    return {"count": count, "bytes": size}, missing


def _copy_file(source: Path, destination: Path) -> int:
    """Copy one file (once opened, it is copied whole even if it is deleted meanwhile); its size."""
    with open(source, "rb") as reading:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as writing:
            shutil.copyfileobj(reading, writing, 1024 * 1024)
            return writing.tell()


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
