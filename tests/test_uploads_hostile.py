"""Hostile uploads beyond tests/test_documents.py: scriptable images, lying browsers, names built to
inject headers or escape folders, forged fields, and the files never reachable as static content."""
import io
import os

import pytest
from sqlalchemy import select

from atelier.extensions import db
from atelier.models import Document
from test_documents import (PDF, PNG, documents_count, draft, file_error, login, stored_files,  # noqa: F401
                            upload, upload_folder)

SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">'
       b"<script>alert(1)</script></svg>")
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
SCRIPT = b"#!/bin/sh\nrm -rf /\n"


@pytest.mark.parametrize("content, filename", [
    (SVG, "logo.svg"), (SVG, "logo.png"), (GIF, "anim.gif"), (SCRIPT, "devis.pdf"),
    (b"\x00" * 64, "zeros.pdf"), (b" %PDF-1.4 shifted", "decale.pdf"),
])
def test_scriptable_or_unknown_content_is_refused(client, world, draft, upload_folder, content, filename):
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, content, filename)
    assert response.status_code == 422
    assert "Ce type de fichier n'est pas accepté" in file_error(response)
    assert documents_count() == 0 and stored_files(upload_folder) == before


def test_the_browsers_content_type_is_not_believed(client, world, draft):
    login(client, world.applicant)
    response = client.post(f"/dossiers/{draft.reference}/pieces", content_type="multipart/form-data",
                           data={"document-kind": "other",
                                 "document-file": (io.BytesIO(SVG), "photo.png", "image/png")})
    assert response.status_code == 422
    response = client.post(f"/dossiers/{draft.reference}/pieces", content_type="multipart/form-data",
                           data={"document-kind": "other",
                                 "document-file": (io.BytesIO(PDF), "devis.pdf", "text/html")})
    assert response.status_code == 302
    assert db.session.scalars(select(Document.content_type)).one() == "application/pdf"


@pytest.mark.parametrize("filename, expected", [
    ("../", "piece.pdf"),
    ("....//....//etc/passwd", "passwd.pdf"),
    ("devis\x1b[31m\x7fSet-Cookie: pris=1.pdf", "devis[31mSet-Cookie: pris=1.pdf"),
    ("\x00\x00\x00", "piece.pdf"),
    ("é" * 300, "é" * 194 + ".pdf"),
])
def test_hostile_names_are_stored_cleaned_and_served_without_header_injection(client, world, draft,
                                                                               upload_folder, filename,
                                                                               expected):
    login(client, world.applicant)
    assert upload(client, draft, PDF, filename).status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert document.filename == expected and len(document.filename) <= 200
    assert os.path.dirname(os.path.join(upload_folder, document.stored_name)) == upload_folder
    response = client.get(f"/dossiers/{draft.reference}/pieces/{document.id}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition
    assert "Set-Cookie" not in response.headers or "pris=1" not in response.headers["Set-Cookie"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_line_break_in_the_name_never_reaches_a_header(client, world, draft, upload_folder):
    """The multipart parser ends the part's headers at the line break: no file, a French message."""
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = upload(client, draft, PDF, "devis\r\nSet-Cookie: pris=1.pdf")
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert "Choisissez un fichier" in file_error(response)
        assert stored_files(upload_folder) == before
    for document in db.session.scalars(select(Document)):
        assert "\r" not in document.filename and "\n" not in document.filename


@pytest.mark.parametrize("kind", ["other\x00", "../other", "x" * 5000, ""])
def test_a_forged_kind_is_refused_beside_the_field(client, world, draft, kind):
    login(client, world.applicant)
    response = client.post(f"/dossiers/{draft.reference}/pieces", content_type="multipart/form-data",
                           data={"document-kind": kind, "document-file": (io.BytesIO(PDF), "a.pdf")})
    assert response.status_code == 422
    assert documents_count() == 0


def test_two_files_in_one_field_store_one_at_most(client, world, draft, upload_folder):
    login(client, world.applicant)
    before = stored_files(upload_folder)
    response = client.post(f"/dossiers/{draft.reference}/pieces", content_type="multipart/form-data",
                           data={"document-kind": "other",
                                 "document-file": [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(PNG), "b.png")]})
    assert response.status_code in (302, 422)
    assert len(stored_files(upload_folder) - before) == documents_count() <= 1


def test_stored_files_are_not_reachable_as_static_files(client, world, draft, app):
    login(client, world.applicant)
    upload(client, draft, PDF, "a.pdf")
    name = db.session.scalars(select(Document.stored_name)).one()
    for path in (f"/static/{name}", f"/static/../instance/uploads/{name}", f"/uploads/{name}",
                 f"/static/%2e%2e/instance/uploads/{name}"):
        assert client.get(path).status_code == 404
    mode = os.stat(os.path.join(app.config["UPLOAD_FOLDER"], name)).st_mode
    assert mode & 0o077 == 0  # readable by the application's user only


def test_a_body_too_large_gets_the_french_page_with_the_security_headers(client, world, draft, app,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    login(client, world.applicant)
    response = upload(client, draft, PDF + b"0" * 5000, "enorme.pdf")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "<h1>Fichier trop volumineux</h1>" in page and "Request Entity Too Large" not in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert documents_count() == 0
