"""Supporting documents: accepted by content, stored under a random name outside static/, sent back
only to the people who may see the dossier, and the file on disk follows the transaction."""
import html
import io
import os
import re
import zipfile

import pytest
from flask import g
from sqlalchemy import func, select

from atelier.cases import documents
from atelier.cases import operations as ops
from atelier.common import ActionRefused
from atelier.extensions import db
from atelier.models import Document
from conftest import login as conftest_login


def login(client, user) -> None:
    conftest_login(client, user)
    g.pop("_login_user", None)  # the test's app context is shared: forget the previous person


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"})
ODS = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<office/>"})
PLAIN_ZIP = zipped({"readme.txt": b"hello"})


@pytest.fixture
def draft(create_case):
    return create_case("draft")


@pytest.fixture
def upload_folder(app):
    folder = app.config["UPLOAD_FOLDER"]
    os.makedirs(folder, exist_ok=True)
    return folder


def stored_files(folder) -> set[str]:
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def upload(client, case, content: bytes, filename: str, kind: str = "other"):
    return client.post(f"/dossiers/{case.reference}/pieces",
                       data={"document-kind": kind, "document-file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def file_error(response) -> str:
    page = html.unescape(response.get_data(as_text=True))
    match = re.search(r'<p class="error-message" id="document-file-error">(.*?)</p>', page, re.S)
    assert match, "no message beside the file field"
    assert re.search(r'aria-describedby="[^"]*document-file-error"', page)
    return match.group(1)


def documents_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Document))


# --------------------------------------------------------------------------- file names

@pytest.mark.parametrize("raw, clean", [
    ("Devis équipement — février.pdf", "Devis équipement — février.pdf"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\Windows\\win.ini.pdf", "win.ini.pdf"),
    ("C:\\Users\\camille\\Bilan 2024.xlsx", "Bilan 2024.xlsx"),
    ("kbis\x00.exe.pdf", "kbis.exe.pdf"),
    ("ligne\r\nbrisée\t.pdf", "lignebrisée.pdf"),
    ("facture\u202efdp.exe", "facturefdp.exe"),  # a right-to-left override would hide the real end
    ("..", "piece"),
    ("", "piece"),
    ("   .cache.pdf  ", "cache.pdf"),
    ('a "quoted" name.pdf', "a 'quoted' name.pdf"),
])
def test_clean_filename(raw, clean):
    assert documents.clean_filename(raw) == clean


def test_clean_filename_keeps_200_characters_and_the_extension():
    cleaned = documents.clean_filename("é" * 300 + ".pdf")
    assert len(cleaned) == 200 and cleaned.endswith("é.pdf")
    assert len(documents.clean_filename("x" * 300)) == 200


# --------------------------------------------------------------------------- content

@pytest.mark.parametrize("content, extension, content_type", [
    (PDF, "pdf", "application/pdf"),
    (PNG, "png", "image/png"),
    (JPEG, "jpg", "image/jpeg"),
    (DOCX, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (XLSX, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (ODT, "odt", "application/vnd.oasis.opendocument.text"),
    (ODS, "ods", "application/vnd.oasis.opendocument.spreadsheet"),
    (OLE, "doc", "application/msword"),
    (OLE, "xls", "application/vnd.ms-excel"),
])
def test_detect_type_by_content(content, extension, content_type):
    detected = documents.detect_type(content, extension)
    assert detected.content_type == content_type and extension in detected.extensions


@pytest.mark.parametrize("content", [EXE, HTML, PLAIN_ZIP, b"PK\x03\x04 not really a zip", b"hello",
                                     b"\xef\xbb\xbf%PDF-1.4"])
def test_detect_type_refuses_everything_else(content):
    assert documents.detect_type(content, "pdf") is None


# --------------------------------------------------------------------------- uploads over HTTP

def test_upload_stores_the_file_under_a_random_name_outside_static(client, world, draft, app, upload_folder):
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, PDF, "Plan d'affaires.pdf")
    assert response.status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert document.filename == "Plan d'affaires.pdf"
    assert document.content_type == "application/pdf" and document.size_bytes == len(PDF)
    assert re.fullmatch(r"[0-9a-f]{32}", document.stored_name)
    assert stored_files(upload_folder) - before == {document.stored_name}
    with open(os.path.join(upload_folder, document.stored_name), "rb") as handle:
        assert handle.read() == PDF
    assert not os.path.abspath(upload_folder).startswith(os.path.abspath(app.static_folder))


@pytest.mark.parametrize("content, filename, expected", [
    (DOCX, "Devis.docx", "Devis.docx"),
    (ODS, "Budget prévisionnel.ods", "Budget prévisionnel.ods"),
    (JPEG, "photo.JPEG", "photo.JPEG"),
    (PNG, "capture", "capture.png"),  # no extension: the real one is added
])
def test_accepted_office_and_image_files(client, world, draft, content, filename, expected):
    login(client, world.applicant)
    assert upload(client, draft, content, filename).status_code == 302
    assert db.session.scalars(select(Document.filename)).one() == expected


def test_upload_over_the_limit_is_refused_beside_the_field(client, world, draft, app, upload_folder,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1000)
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, PDF + b"0" * 1000, "gros.pdf")
    assert response.status_code == 422
    assert "dépasse la taille maximale autorisée" in file_error(response)
    assert documents_count() == 0 and stored_files(upload_folder) == before
    # exactly at the limit is fine
    assert upload(client, draft, PDF + b"0" * (1000 - len(PDF)), "juste.pdf").status_code == 302


def test_request_over_max_content_length_gets_the_413_page(client, world, draft, app, upload_folder,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, PDF + b"0" * 5000, "enorme.pdf")
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)
    assert documents_count() == 0 and stored_files(upload_folder) == before


@pytest.mark.parametrize("content, filename, message", [
    (EXE, "facture.pdf", "Ce type de fichier n'est pas accepté"),
    (EXE, "setup.exe", "Ce type de fichier n'est pas accepté"),
    (HTML, "page.html", "Ce type de fichier n'est pas accepté"),
    (HTML, "page.pdf", "Ce type de fichier n'est pas accepté"),
    (PLAIN_ZIP, "archive.docx", "Ce type de fichier n'est pas accepté"),
    (PNG, "image.pdf", "son contenu est un fichier PNG"),
    (PDF, "document.html", "son contenu est un fichier PDF"),
    (b"", "vide.pdf", "Le fichier est vide."),
])
def test_forbidden_files_are_refused_and_nothing_is_stored(client, world, draft, upload_folder,
                                                           content, filename, message):
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, content, filename)
    assert response.status_code == 422
    assert message in file_error(response)
    assert documents_count() == 0 and stored_files(upload_folder) == before


def test_missing_file_or_wrong_kind(client, world, draft):
    login(client, world.applicant)
    response = client.post(f"/dossiers/{draft.reference}/pieces", data={"document-kind": "other"},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "Choisissez un fichier" in file_error(response)
    # no scheme of this draft asks for a Kbis, and "virus" is no kind at all
    for kind in ("kbis", "virus"):
        response = upload(client, draft, PDF, "a.pdf", kind=kind)
        assert response.status_code == 422
        assert "Choisissez le type de pièce" in html.unescape(response.get_data(as_text=True))
    assert documents_count() == 0


def test_required_kinds_are_offered(client, world, create_case):
    world.region_scheme.required_documents = ["kbis", "quotes"]
    db.session.commit()
    case = create_case("draft")
    login(client, world.applicant)
    page = client.get(f"/dossiers/{case.reference}/modifier").get_data(as_text=True)
    assert 'value="kbis"' in page and 'value="quotes"' in page and 'value="other"' in page
    assert 'value="rib"' not in page
    assert upload(client, case, PDF, "kbis.pdf", kind="kbis").status_code == 302


@pytest.mark.parametrize("filename, expected", [
    ("../../../../etc/cron.d/evil.pdf", "evil.pdf"),
    ("nul\x00byte.pdf", "nulbyte.pdf"),
    ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
])
def test_dangerous_filenames_are_cleaned(client, world, draft, upload_folder, filename, expected):
    login(client, world.applicant)
    before = stored_files(upload_folder)
    assert upload(client, draft, PDF, filename).status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert document.filename == expected
    assert stored_files(upload_folder) - before == {document.stored_name}


# --------------------------------------------------------------------------- the file follows the transaction

class FakeUpload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename


def test_a_rolled_back_upload_leaves_no_file(world, draft, upload_folder):
    before = stored_files(upload_folder)
    document = documents.add_document(world.applicant, draft, "other", FakeUpload(PDF, "a.pdf"))
    assert document.stored_name in stored_files(upload_folder)
    db.session.rollback()
    assert stored_files(upload_folder) == before


def test_a_failed_commit_leaves_no_file(world, draft, upload_folder, monkeypatch):
    before = stored_files(upload_folder)
    documents.add_document(world.applicant, draft, "other", FakeUpload(PDF, "a.pdf"))
    duplicate = Document(case_id=draft.id, kind="other", filename="b.pdf",
                         stored_name=db.session.scalars(select(Document.stored_name)).one(),
                         content_type="application/pdf", size_bytes=1, uploaded_by_id=world.applicant.id)
    db.session.add(duplicate)  # the same stored name twice: the commit fails
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()
    assert stored_files(upload_folder) == before


def test_removing_a_document_deletes_its_file_only_once_committed(world, draft, upload_folder):
    document = documents.add_document(world.applicant, draft, "other", FakeUpload(PDF, "a.pdf"))
    db.session.commit()
    name = document.stored_name
    documents.remove_document(world.applicant, draft, document)
    db.session.rollback()
    assert name in stored_files(upload_folder)  # the removal was undone: the file stays
    document = db.session.scalars(select(Document)).one()
    documents.remove_document(world.applicant, draft, document)
    db.session.commit()
    assert name not in stored_files(upload_folder)


def test_upload_after_submission_is_refused(world, create_case, upload_folder):
    case = create_case("submitted")
    before = stored_files(upload_folder)
    with pytest.raises(ActionRefused):
        documents.add_document(world.applicant, case, "other", FakeUpload(PDF, "a.pdf"))
    assert stored_files(upload_folder) == before


def test_delete_over_http_while_editable_only(client, world, create_case, upload_folder):
    case = create_case("draft")
    login(client, world.applicant)
    upload(client, case, PDF, "a.pdf")
    document = db.session.scalars(select(Document)).one()
    assert client.post(f"/dossiers/{case.reference}/pieces/{document.id}/supprimer").status_code == 302
    assert documents_count() == 0 and document.stored_name not in stored_files(upload_folder)

    upload(client, case, PDF, "kbis.pdf")
    document = db.session.scalars(select(Document)).one()
    ops.submit_case(world.applicant, case)
    db.session.commit()
    response = client.post(f"/dossiers/{case.reference}/pieces/{document.id}/supprimer")
    assert response.status_code == 302
    assert documents_count() == 1 and document.stored_name in stored_files(upload_folder)


# --------------------------------------------------------------------------- download

def test_download_is_an_attachment_with_nosniff(client, world, draft):
    login(client, world.applicant)
    upload(client, draft, PDF, "Plan d'affaires été.pdf")
    document = db.session.scalars(select(Document)).one()
    response = client.get(f"/dossiers/{draft.reference}/pieces/{document.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Plan%20d%27affaires%20%C3%A9t%C3%A9.pdf" in disposition


def test_download_by_people_who_may_not_see_the_dossier_is_not_found(client, world, create_case,
                                                                     create_agency, create_user):
    case = create_case("draft")
    login(client, world.applicant)
    upload(client, case, PDF, "a.pdf")
    document = db.session.scalars(select(Document)).one()
    url = f"/dossiers/{case.reference}/pieces/{document.id}"
    ops.submit_case(world.applicant, case)
    db.session.commit()

    unrelated_agent = create_user("agent", agency=create_agency("cci"))
    db.session.commit()
    for person in (world.other_applicant, unrelated_agent):
        login(client, person)
        assert client.get(url).status_code == 404
    for person in (world.applicant, world.region_agent, world.bpi_agent, world.admin):
        login(client, person)
        assert client.get(url).status_code == 200
    # a document of another dossier, asked for through mine, is not found either
    mine = create_case("draft")
    login(client, world.applicant)
    assert client.get(f"/dossiers/{mine.reference}/pieces/{document.id}").status_code == 404


def test_download_of_a_missing_file_is_not_found(client, world, draft, upload_folder):
    login(client, world.applicant)
    upload(client, draft, PDF, "a.pdf")
    document = db.session.scalars(select(Document)).one()
    os.remove(os.path.join(upload_folder, document.stored_name))
    assert client.get(f"/dossiers/{draft.reference}/pieces/{document.id}").status_code == 404
