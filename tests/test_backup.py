"""Backup and restore: back up, change (a new dossier, a deleted document), restore, compare."""
import io
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from atelier.backup import table_counts
from atelier.cases import documents
from atelier.extensions import db
from atelier.models import Case, Document
from conftest import TEST_DATABASE_URL

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


class FakeUpload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename


def files_of(folder) -> dict[str, bytes]:
    folder = Path(folder)
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()} if folder.is_dir() else {}


def snapshot(app) -> tuple[dict, list, dict]:
    """Counts, dossiers, and the files the rows refer to (other tests leave files nothing refers to)."""
    db.session.expire_all()
    cases = sorted(db.session.execute(select(Case.reference, Case.state, Case.title)).all())
    referenced = set(db.session.scalars(select(Document.stored_name)))
    files = {name: content for name, content in files_of(app.config["UPLOAD_FOLDER"]).items()
             if name in referenced}
    return table_counts(), cases, files


@pytest.fixture
def dossier_with_documents(world, create_case, app):
    case = create_case("draft")
    for name in ("devis.pdf", "bilan.pdf"):
        documents.add_document(world.applicant, case, "other", FakeUpload(PDF + name.encode(), name))
    db.session.commit()
    return case


def test_backup_change_restore_compare(app, runner, world, create_case, dossier_with_documents, tmp_path):
    target = tmp_path / "sauvegarde"
    before = snapshot(app)
    assert set(db.session.scalars(select(Document.stored_name))) == set(before[2])
    stray = Path(app.config["UPLOAD_FOLDER"]) / ("ab" * 16)  # a file no row refers to
    stray.write_bytes(PDF)

    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "Sauvegarde écrite" in result.output
    manifest = json.loads((target / "manifest.json").read_text())
    expected_kind = "postgresql" if TEST_DATABASE_URL else "sqlite"
    assert manifest["database"] == expected_kind
    assert manifest["tables"]["cases"] == 1 and manifest["tables"]["documents"] == 2
    assert manifest["files"]["count"] == len(before[2]) and manifest["migration"]
    assert (target / manifest["database_file"]).is_file()
    assert set(files_of(target / "uploads")) == set(before[2])  # the stray file is not saved
    assert manifest["files_missing"] == []

    # change: a new dossier, a deleted document (its file goes too)
    create_case("submitted")
    document = db.session.scalars(select(Document)).first()
    documents.remove_document(world.applicant, dossier_with_documents, document)
    db.session.commit()
    changed = snapshot(app)
    assert changed[0]["cases"] == 2 and changed[0]["documents"] == 1 and len(changed[2]) == len(before[2]) - 1

    db.session.remove()
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "restaurée" in result.output
    assert snapshot(app) == before
    assert files_of(app.config["UPLOAD_FOLDER"]) == before[2]  # exactly the saved files, nothing else
    assert os.stat(app.config["UPLOAD_FOLDER"]).st_mode & 0o077 == 0  # the folder stays private
    # the restored database is a working one: the audit chains are intact, and it can be written
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    restored = db.session.scalars(select(Case)).one()
    restored.title = "Titre modifié après restauration"
    db.session.commit()


def test_restore_needs_yes_and_changes_nothing_without_it(app, runner, dossier_with_documents, tmp_path,
                                                          create_case):
    target = tmp_path / "sauvegarde"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    create_case("draft")
    before = snapshot(app)
    result = runner.invoke(args=["restore", str(target)])
    assert result.exit_code == 1
    assert "--yes" in result.output
    assert snapshot(app) == before


def test_backup_refuses_a_folder_that_is_not_empty(runner, tmp_path):
    (tmp_path / "occupé").mkdir()
    (tmp_path / "occupé" / "fichier.txt").write_text("déjà là")
    result = runner.invoke(args=["backup", str(tmp_path / "occupé")])
    assert result.exit_code == 1 and "n'est pas vide" in result.output


def test_restore_refuses_a_folder_that_is_not_a_backup(runner, tmp_path):
    result = runner.invoke(args=["restore", str(tmp_path), "--yes"])
    assert result.exit_code == 1 and "pas une sauvegarde complète" in result.output


@pytest.mark.postgres
def test_postgresql_backup_is_a_pg_dump_archive(app, runner, dossier_with_documents, tmp_path):
    target = tmp_path / "pg"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["database"] == "postgresql"
    assert (target / "database.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    db.session.remove()
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert table_counts()["documents"] == 2


def test_a_backup_that_fails_halfway_leaves_nothing_that_looks_like_a_backup(
        app, runner, dossier_with_documents, tmp_path, monkeypatch):
    from atelier import backup as backup_module

    def disk_full(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_module, "_copy_file", disk_full)
    target = tmp_path / "sauvegarde"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1 and "La sauvegarde a échoué" in result.output
    assert not target.exists()
    (tmp_path / "vide").mkdir()
    assert runner.invoke(args=["backup", str(tmp_path / "vide")]).exit_code == 1
    assert list((tmp_path / "vide").iterdir()) == []  # the empty folder given is left empty
