"""Messages on the dossier page with an attached file: checked like the supporting documents,
notified to the other side, downloadable by those who see the message and by no one else."""
import io
import os

from sqlalchemy import select

from atelier.extensions import db
from atelier.notifications.models import MessageAttachment, Notification
from atelier.notifications.operations import post_message
from conftest import login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _post(client, case, **data):
    return client.post(f"/dossiers/{case.reference}/messages", data=data, content_type="multipart/form-data")


def _notified(kind="message"):
    return {row.user_id for row in db.session.scalars(select(Notification).where(Notification.kind == kind))}


def _download_url(case, attachment):
    return f"/dossiers/{case.reference}/messages/{attachment.message_id}/pieces/{attachment.id}"


def test_the_applicant_sends_a_file_that_the_holding_agents_are_told_of_and_download(
        world, create_case, client):
    case = create_case("in_review")
    login(client, world.applicant)
    response = _post(client, case, body="Voici le devis signé.",
                     attachment=(io.BytesIO(PDF), "devis signé.pdf"))
    assert response.status_code == 302
    [attachment] = db.session.scalars(select(MessageAttachment)).all()
    assert (attachment.filename, attachment.content_type, attachment.size_bytes) == (
        "devis signé.pdf", "application/pdf", len(PDF))
    assert os.path.isfile(os.path.join(client.application.config["UPLOAD_FOLDER"], attachment.stored_name))
    # Told: the agents of both agencies holding a line (Region leads, Bpifrance holds one), not the author.
    holders = {world.region_agent.id, world.region_secretary.id, world.bpi_agent.id, world.bpi_secretary.id}
    assert _notified() == holders
    row = db.session.scalars(select(Notification).where(Notification.user_id == world.bpi_agent.id)).first()
    assert "avec 1 pièce jointe" in row.body and "Voici le devis" not in row.body
    assert row.link.endswith(f"/dossiers/{case.reference}#message-{attachment.message_id}")

    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert _download_url(case, attachment) in page and "Pièce jointe : devis signé.pdf" in page
    for person in (world.applicant, world.region_agent, world.bpi_agent, world.admin):
        login(client, person)
        response = client.get(_download_url(case, attachment))
        assert response.status_code == 200, person
        assert response.data == PDF
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for person in (world.other_applicant, world.aer_agent):  # the dossier is not theirs: 404
        login(client, person)
        assert client.get(_download_url(case, attachment)).status_code == 404


def test_an_agent_message_with_a_file_is_told_to_the_applicant(world, create_case, client):
    case = create_case("submitted")
    login(client, world.region_agent)
    assert _post(client, case, body="Le modèle de plan de financement.",
                 attachment=(io.BytesIO(PNG), "modele")).status_code == 302
    [attachment] = db.session.scalars(select(MessageAttachment)).all()
    assert attachment.filename == "modele.png"  # the extension its content tells
    assert _notified() == {world.applicant.id}


def test_an_internal_note_file_is_for_agents_only(world, create_case, client):
    case = create_case("in_review")
    login(client, world.region_agent)
    assert _post(client, case, body="Analyse financière.", internal="y",
                 attachment=(io.BytesIO(PDF), "analyse.pdf")).status_code == 302
    [attachment] = db.session.scalars(select(MessageAttachment)).all()
    assert world.applicant.id not in _notified()
    assert _notified() == {world.region_secretary.id, world.bpi_agent.id, world.bpi_secretary.id}
    login(client, world.bpi_agent)
    assert client.get(_download_url(case, attachment)).status_code == 200
    login(client, world.applicant)
    assert client.get(_download_url(case, attachment)).status_code == 404
    assert "analyse.pdf" not in client.get(f"/dossiers/{case.reference}").get_data(as_text=True)


def test_a_file_refused_leaves_no_message_no_file_and_says_why(world, create_case, client):
    case = create_case("in_review")
    folder = client.application.config["UPLOAD_FOLDER"]
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    login(client, world.applicant)
    response = _post(client, case, body="Mon script.", attachment=(io.BytesIO(b"#!/bin/sh\necho"), "outil.pdf"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="attachment-error"' in page and "Ce type de fichier n&#39;est pas accepté" in page
    assert 'aria-describedby="attachment-hint attachment-error"' in page
    assert db.session.scalars(select(MessageAttachment)).all() == []
    assert [m.body for m in case.messages] == []
    assert _notified() == set()
    after = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    assert after == before


def test_a_file_too_large_is_refused(world, create_case, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 100)
    case = create_case("in_review")
    login(client, world.applicant)
    response = _post(client, case, body="Gros fichier.", attachment=(io.BytesIO(PDF + b"0" * 200), "gros.pdf"))
    assert response.status_code == 422
    assert "dépasse la taille maximale" in response.get_data(as_text=True)


def test_a_wrong_link_to_a_file_is_a_404(world, create_case, client):
    case = create_case("in_review")
    other = create_case("in_review")
    message = post_message(world.applicant, case, body="Pièce.", attachment=_Upload(PDF, "a.pdf"))
    db.session.commit()
    [attachment] = db.session.scalars(select(MessageAttachment)).all()
    login(client, world.applicant)
    assert client.get(f"/dossiers/{other.reference}/messages/{message.id}/pieces/{attachment.id}").status_code == 404
    assert client.get(f"/dossiers/{case.reference}/messages/{message.id + 1}/pieces/{attachment.id}").status_code == 404
    assert client.get(f"/dossiers/{case.reference}/messages/{message.id}/pieces/{attachment.id + 9}").status_code == 404


def test_a_message_without_a_file_still_works(world, create_case, client):
    case = create_case("incomplete")
    login(client, world.applicant)
    assert _post(client, case, body="Le Kbis arrive.").status_code == 302
    assert [m.body for m in case.messages][-1] == "Le Kbis arrive."
    assert db.session.scalars(select(MessageAttachment)).all() == []


class _Upload:
    def __init__(self, content: bytes, filename: str):
        self.stream = io.BytesIO(content)
        self.filename = filename
