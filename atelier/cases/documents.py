"""Supporting documents (pièces justificatives): checked by content, stored outside ``static/``.

A file is accepted for what it is, not for what its name or the browser claim:
its first bytes tell its type (PDF, PNG, JPEG, Office Open XML, OpenDocument,
legacy Office), and its extension must agree. It is stored under
``UPLOAD_FOLDER`` (inside ``instance/``) with a random name; the name the person
gave is only kept, cleaned, for display and download.

Like the operations, ``add_document`` and ``remove_document`` flush and never
commit. The file on disk follows the transaction: a file written for a
transaction that is rolled back is removed, and a removed document's file is
deleted only once the removal is committed.
"""
import io
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass

from flask import abort, current_app, send_file
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..auth.models import User
from ..common import ActionRefused, utcnow
from ..extensions import db
from ..schemes.models import DOCUMENT_KINDS
from . import quotas
from .models import Case, Document
from .events import check_editable

FILENAME_MAX_CHARS = 200
CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileType:
    label: str
    content_type: str
    extensions: tuple[str, ...]  # the first one is added when the name has none


PDF = FileType("PDF", "application/pdf", ("pdf",))
PNG = FileType("PNG", "image/png", ("png",))
JPEG = FileType("JPEG", "image/jpeg", ("jpg", "jpeg"))
DOCX = FileType("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ("docx",))
XLSX = FileType("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",))
ODT = FileType("OpenDocument texte", "application/vnd.oasis.opendocument.text", ("odt",))
ODS = FileType("OpenDocument tableur", "application/vnd.oasis.opendocument.spreadsheet", ("ods",))
# Legacy Office files share one container (OLE2): the extension tells Word from Excel.
LEGACY_OFFICE = {"doc": FileType("Word 97-2003", "application/msword", ("doc",)),
                 "xls": FileType("Excel 97-2003", "application/vnd.ms-excel", ("xls",))}

ACCEPTED_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".docx", ".xlsx", ".odt", ".ods", ".doc", ".xls")
ACCEPTED_DESCRIPTION = "PDF, PNG, JPEG, Word (.docx, .doc), Excel (.xlsx, .xls) ou OpenDocument (.odt, .ods)"
NOT_ACCEPTED = f"Ce type de fichier n'est pas accepté. Envoyez un fichier {ACCEPTED_DESCRIPTION}."

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OPENDOCUMENT_MIMETYPES = {ODT.content_type: ODT, ODS.content_type: ODS}


# --------------------------------------------------------------------------- file names

def clean_filename(raw: str | None) -> str:
    """The name as the person gave it, made safe to keep and show: accents stay; folders, control
    and invisible formatting characters (NUL, bidi overrides…) go; at most 200 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = " ".join(name.split()).replace('"', "'")
    name = name.strip(" .")  # no hidden ".name", no "name." that some systems trim
    if len(name) > FILENAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[:FILENAME_MAX_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:FILENAME_MAX_CHARS].rstrip(" .")
    return name or "piece"


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


# --------------------------------------------------------------------------- content

def detect_type(data: bytes, extension: str) -> FileType | None:
    """The type the content really is (by its first bytes), or None if we do not accept it."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office_zip_type(data)
    if data.startswith(OLE_MAGIC):
        return LEGACY_OFFICE.get(extension, LEGACY_OFFICE["doc"])
    return None


def _office_zip_type(data: bytes) -> FileType | None:
    """A zip is accepted only if it is an Office Open XML or OpenDocument file (entries checked;
    nothing is extracted but the tiny ``mimetype`` entry)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
                return None
            if "mimetype" in names and "content.xml" in names:
                info = archive.getinfo("mimetype")
                if info.file_size > 100:
                    return None
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return OPENDOCUMENT_MIMETYPES.get(mimetype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError, EOFError):
        return None
    return None


def _read_limited(file_storage, limit: int) -> bytes:
    """At most ``limit + 1`` bytes: enough to know the file is too large without reading it all."""
    stream = file_storage.stream
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def size_label(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} octets"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} Ko".replace(".", ",")
    return f"{size_bytes / (1024 * 1024):.1f} Mo".replace(".", ",")


def allowed_kinds(case: Case) -> list[str]:
    """The kinds of document the case's schemes ask for, in order, then "other"."""
    kinds = []
    for line in case.lines:
        for kind in line.scheme.required_documents:
            if kind in DOCUMENT_KINDS and kind not in kinds and kind != "other":
                kinds.append(kind)
    return [*kinds, "other"]


# --------------------------------------------------------------------------- operations

def add_document(actor: User, case: Case, kind: str, file_storage) -> Document:
    check_editable(actor, case)
    if kind not in allowed_kinds(case):
        raise ActionRefused("Choisissez le type de pièce dans la liste.", "kind")
    return store_document(actor, case, kind, file_storage)


def store_document(actor: User, case: Case, kind: str, file_storage) -> Document:
    """The file sent in the field ``file`` kept as a document of ``kind`` of the dossier, once the caller
    checked the person may add it: type, size, quotas and rate checked here (``accept_upload``)."""
    if file_storage is None or not getattr(file_storage, "filename", None):
        raise ActionRefused("Choisissez un fichier à envoyer.", "file")
    upload = accept_upload(actor, case, file_storage, field="file")
    document = Document(case=case, kind=kind, filename=upload.filename, stored_name=upload.stored_name,
                        content_type=upload.file_type.content_type, size_bytes=upload.size_bytes,
                        uploaded_by_id=actor.id)
    db.session.add(document)
    case.updated_at = utcnow()
    db.session.flush()
    return document


@dataclass(frozen=True)
class AcceptedUpload:
    filename: str  # as the person named it, cleaned
    file_type: FileType
    stored_name: str
    size_bytes: int


def accept_upload(actor: User, case: Case, file_storage, *, field: str) -> AcceptedUpload:
    """The one way a file enters the site (a supporting document, a file attached to a message):
    counted against the account's upload rate, checked by content, measured against the dossier's
    and the account's quotas, and only then written (removed again if the transaction rolls back).
    Any refusal is a French message beside ``field`` and leaves nothing stored."""
    quotas.count_upload(actor, field)
    filename, file_type, data = checked_upload(file_storage, field=field)
    quotas.check_room(actor, case, len(data), field)
    stored_name = store_file(data)
    return AcceptedUpload(filename, file_type, stored_name, len(data))


def checked_upload(file_storage, *, field: str):
    """``(file name, FileType, bytes)`` of an uploaded file, or a French refusal beside ``field``:
    within the size limit, not empty, of an accepted type by its content (magic bytes), its name's
    extension agreeing with that content (added when it has none)."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    data = _read_limited(file_storage, limit)
    if len(data) > limit:
        raise ActionRefused(f"Le fichier dépasse la taille maximale autorisée ({size_label(limit)}).", field)
    if not data:
        raise ActionRefused("Le fichier est vide.", field)
    filename = clean_filename(file_storage.filename)
    extension = _extension(filename)
    file_type = detect_type(data, extension)
    if file_type is None:
        raise ActionRefused(NOT_ACCEPTED, field)
    if not extension:
        filename = (filename[:FILENAME_MAX_CHARS - 6] + "." + file_type.extensions[0])
    elif extension not in file_type.extensions:
        raise ActionRefused(f"Le nom du fichier se termine par « .{extension} » mais son contenu est "
                            f"un fichier {file_type.label} : renommez-le en "
                            f"« .{file_type.extensions[0]} » ou envoyez le bon fichier.", field)
    return filename, file_type, data


def store_file(data: bytes) -> str:
    """Write ``data`` under a random name in the upload folder; the file is removed if the
    transaction rolls back. Returns the stored name."""
    stored_name = secrets.token_hex(16)
    path = _write(stored_name, data)
    _pending(db.session, "written").append(path)
    return stored_name


def remove_document(actor: User, case: Case, document: Document) -> None:
    check_editable(actor, case)
    if document.case_id != case.id:
        raise ActionRefused("Cette pièce n'appartient pas à ce dossier.")
    _pending(db.session, "deleted").append(stored_path(document.stored_name))
    db.session.delete(document)
    case.updated_at = utcnow()
    db.session.flush()


def stored_path(stored_name: str) -> str:
    if not stored_name or not all(char in "0123456789abcdef" for char in stored_name):
        raise ValueError("invalid stored name")
    return os.path.join(current_app.config["UPLOAD_FOLDER"], stored_name)


def stored_file_response(stored_name: str, *, content_type: str, filename: str):
    """The download of a stored file: always as an attachment, never sniffed, never run (sandbox),
    never cached; 404 when the name is not one of ours or the file is gone."""
    try:
        path = stored_path(stored_name)
    except ValueError:
        abort(404)
    if not os.path.isfile(path):
        abort(404)
    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _write(stored_name: str, data: bytes) -> str:
    folder = current_app.config["UPLOAD_FOLDER"]
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = stored_path(stored_name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        _unlink(path)
        raise
    return path


# --------------------------------------------------------------------------- files follow the transaction

def _pending(session, what: str) -> list[str]:
    return session.info.setdefault(f"atelier_files_{what}", [])


def _unlink(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


@event.listens_for(Session, "after_commit")
def _files_after_commit(session) -> None:
    session.info.pop("atelier_files_written", None)
    for path in session.info.pop("atelier_files_deleted", []):
        _unlink(path)


@event.listens_for(Session, "after_soft_rollback")
def _files_after_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is not None:  # a savepoint or inner scope: not the end yet
        return
    for path in session.info.pop("atelier_files_written", []):
        _unlink(path)
    session.info.pop("atelier_files_deleted", None)
