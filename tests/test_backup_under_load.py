"""A backup taken while people work: another person keeps creating dossiers with an uploaded file
and submitting them (rows, events, audit chains, files) during the whole backup, and deletes a
document while the files are being copied. The manifest describes exactly the saved snapshot, the
deleted file is skipped and said, the files written after the snapshot are not copied, and the
restore matches the manifest with an intact audit trail — on SQLite and on PostgreSQL."""
import io
import json
import queue
import threading
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from atelier import backup as backup_module
from atelier.backup import table_counts
from atelier.cases import documents
from atelier.cases import operations as ops
from atelier.extensions import db
from atelier.formatting import paris_today
from atelier.models import Company, Document, MessageAttachment, Scheme, User

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
WAIT_SECONDS = 60


class FakeUpload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename


class Writer(threading.Thread):
    """Another person at work, in its own app context and session: one dossier after another
    (created, a line, a document uploaded, submitted, committed) until told to stop; between two
    dossiers, deletes the documents it is asked to delete."""

    def __init__(self, app, world):
        super().__init__(daemon=True)
        self.app = app
        self.ids = (world.applicant.id, world.company.id, world.region_scheme.id)
        self.stopping = threading.Event()
        self.deletions = queue.Queue()
        self.progress = threading.Condition()
        self.rounds = 0
        self.stored_names = []  # the file of each dossier, in order
        self.errors = []

    def run(self):
        with self.app.app_context():
            try:
                applicant = db.session.get(User, self.ids[0])
                company = db.session.get(Company, self.ids[1])
                scheme = db.session.get(Scheme, self.ids[2])
                while not self.stopping.is_set():
                    self._delete_what_is_asked(applicant)
                    self._one_dossier(applicant, company, scheme)
            except Exception as error:  # pragma: no cover - shown by the test's assertion
                self.errors.append(error)
                db.session.rollback()
            finally:
                db.session.remove()
                with self.progress:
                    self.progress.notify_all()

    def _one_dossier(self, applicant, company, scheme):
        n = self.rounds + 1
        case = ops.create_case(applicant, company, title=f"Projet écrit pendant la sauvegarde n° {n}",
                               description="Nouvel atelier.", starts_on=paris_today(),
                               eligible_cost=Decimal("250000"))
        ops.add_line(applicant, case, scheme=scheme, requested_amount="60000")
        ops.declare_no_minimis(applicant, case)
        document = documents.add_document(applicant, case, "other",
                                          FakeUpload(PDF + f"tour {n}".encode(), f"devis-{n}.pdf"))
        ops.submit_case(applicant, case)
        db.session.commit()
        with self.progress:
            self.rounds += 1
            self.stored_names.append(document.stored_name)
            self.progress.notify_all()

    def _delete_what_is_asked(self, applicant):
        while True:
            try:
                document_id, done = self.deletions.get_nowait()
            except queue.Empty:
                return
            document = db.session.get(Document, document_id)
            documents.remove_document(applicant, document.case, document)
            db.session.commit()  # the file is removed once the removal is committed
            done.set()

    def delete(self, document_id: int) -> None:
        done = threading.Event()
        self.deletions.put((document_id, done))
        assert done.wait(WAIT_SECONDS), "the other person never deleted the document"

    def wait_for_more(self, more: int = 1) -> None:
        with self.progress:
            goal = self.rounds + more
            assert self.progress.wait_for(lambda: self.rounds >= goal or self.errors, WAIT_SECONDS)
        assert self.errors == []

    def stop(self) -> None:
        self.stopping.set()
        self.join(WAIT_SECONDS)
        assert not self.is_alive() and self.errors == []


def files_in(folder) -> set[str]:
    folder = Path(folder)
    return {path.name for path in folder.iterdir() if path.is_file()} if folder.is_dir() else set()


def referenced_files() -> set[str]:
    return (set(db.session.scalars(select(Document.stored_name)))
            | set(db.session.scalars(select(MessageAttachment.stored_name))))


def test_a_backup_taken_while_people_work_restores_exactly_its_snapshot(
        app, runner, world, create_case, tmp_path, monkeypatch):
    draft = create_case("draft")
    pieces = [documents.add_document(world.applicant, draft, "other",
                                     FakeUpload(PDF + bytes([i]), f"piece-{i}.pdf"))
              for i in range(3)]
    db.session.commit()
    pieces = [(piece.id, piece.stored_name) for piece in pieces]
    upload_folder = Path(app.config["UPLOAD_FOLDER"])
    stray = "0" * 31 + "f"  # a file no row refers to (a leftover, or an upload being written)
    (upload_folder / stray).write_bytes(PDF)

    writer = Writer(app, world)
    writer.start()
    happened = {}
    try:
        writer.wait_for_more()
        with monkeypatch.context() as patch:
            # One more dossier is committed right before the database is saved…
            def after_one_more_dossier(real):
                def wrapped(*args, **kwargs):
                    writer.wait_for_more()
                    return real(*args, **kwargs)
                return wrapped

            patch.setattr(backup_module, "_sqlite_copy", after_one_more_dossier(backup_module._sqlite_copy))
            patch.setattr(backup_module, "_run", after_one_more_dossier(backup_module._run))
            # …and, once the files are being copied, a document of the saved dossiers is deleted and one
            # more dossier arrives with its file.
            real_copy_file = getattr(backup_module, "_copy_file", None)

            def copy_file(source, destination):
                if not happened:
                    victim_id, victim_name = next(piece for piece in pieces if piece[1] != Path(source).name)
                    writer.delete(victim_id)
                    writer.wait_for_more()
                    happened.update(deleted=victim_name, deleted_id=victim_id, late=writer.stored_names[-1])
                return real_copy_file(source, destination)

            patch.setattr(backup_module, "_copy_file", copy_file, raising=False)
            target = tmp_path / "sauvegarde"
            result = runner.invoke(args=["backup", str(target)])
        writer.wait_for_more()  # people kept working after the backup too
    finally:
        writer.stop()

    assert result.exit_code == 0, result.output
    assert happened, "the files were not copied one by one"
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["files_missing"] == [happened["deleted"]]
    assert "supprimé(s) pendant la copie" in result.output and happened["deleted"] in result.output
    saved = files_in(target / "uploads")
    assert happened["deleted"] not in saved
    assert happened["late"] not in saved and stray not in saved  # not referenced by the snapshot
    assert manifest["files"]["count"] == len(saved)
    live = table_counts()
    assert live["cases"] > manifest["tables"]["cases"] > 1 and live["events"] > manifest["tables"]["events"]

    db.session.remove()
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "conformes au manifeste" in result.output
    assert table_counts() == manifest["tables"]
    assert files_in(upload_folder) == saved == referenced_files() - {happened["deleted"]}
    assert db.session.get(Document, happened["deleted_id"]) is not None  # deleted after the snapshot
    audit = runner.invoke(args=["verify-audit"])
    assert audit.exit_code == 0, audit.output
