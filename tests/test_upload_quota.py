"""Upload quotas: files and bytes per dossier, bytes per account, uploads per account and per period —
for supporting documents and message attachments alike. Each refusal is a French message beside the
file field (422) and leaves nothing stored."""
import html
import io
import os
import re
import threading

import pytest
from sqlalchemy import func, select

from atelier.cases import documents
from atelier.config import DefaultConfig
from atelier.extensions import db, limiter
from atelier.models import Document
from atelier.notifications.models import MessageAttachment
from atelier.notifications.operations import post_message
from conftest import login

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def pdf(size: int) -> bytes:
    """A PDF of exactly ``size`` bytes."""
    assert size >= len(PDF)
    return PDF + b"\n" * (size - len(PDF))


class FakeUpload:
    def __init__(self, content: bytes, filename: str = "piece.pdf"):
        self.stream = io.BytesIO(content)
        self.filename = filename


@pytest.fixture
def limits(app, monkeypatch):
    """Set the quotas of this test (the others off unless given)."""
    def set_limits(files=0, case_bytes=0, account_bytes=0, rate=""):
        for name, value in (("UPLOAD_MAX_FILES_PER_CASE", files), ("UPLOAD_MAX_BYTES_PER_CASE", case_bytes),
                            ("UPLOAD_MAX_BYTES_PER_ACCOUNT", account_bytes), ("UPLOAD_RATE_LIMIT", rate)):
            monkeypatch.setitem(app.config, name, value)
    return set_limits


@pytest.fixture
def draft(create_case):
    return create_case("draft")


def stored_files(app) -> set[str]:
    folder = app.config["UPLOAD_FOLDER"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def files_in_database() -> int:
    return (db.session.scalar(select(func.count()).select_from(Document))
            + db.session.scalar(select(func.count()).select_from(MessageAttachment)))


def add(world, case, size=len(PDF), who=None):
    document = documents.add_document(who or world.applicant, case, "other", FakeUpload(pdf(size)))
    db.session.commit()
    return document


def upload(client, case, content: bytes):
    return client.post(f"/dossiers/{case.reference}/pieces",
                       data={"document-kind": "other", "document-file": (io.BytesIO(content), "devis.pdf")},
                       content_type="multipart/form-data")


def refused_beside_the_file(response, field_id="document-file") -> str:
    """The French message shown beside the file field of a page sent back with 422."""
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert match, "no message beside the file field"
    return " ".join(match.group(1).split())


def refusal(world, case, size=len(PDF), who=None) -> str:
    with pytest.raises(documents.ActionRefused) as refused:
        documents.add_document(who or world.applicant, case, "other", FakeUpload(pdf(size)))
    db.session.rollback()
    assert refused.value.field == "file"
    return refused.value.message


def test_the_defaults():
    assert DefaultConfig.UPLOAD_MAX_FILES_PER_CASE == 50
    assert DefaultConfig.UPLOAD_MAX_BYTES_PER_CASE == 100 * 1024 * 1024
    assert DefaultConfig.UPLOAD_MAX_BYTES_PER_ACCOUNT == 500 * 1024 * 1024
    assert DefaultConfig.UPLOAD_RATE_LIMIT == "30 per 10 minutes"


# --------------------------------------------------------------------------- per dossier

def test_files_per_dossier_up_to_the_limit_then_a_message_beside_the_field(app, client, world, draft, limits):
    limits(files=3)
    add(world, draft)
    add(world, draft)
    add(world, draft)  # the third: exactly the limit
    before = stored_files(app)
    login(client, world.applicant)
    message = refused_beside_the_file(upload(client, draft, PDF))
    assert message.startswith("Ce dossier compte déjà 3 fichiers") and "le maximum est de 3" in message
    assert stored_files(app) == before and files_in_database() == 3


def test_message_attachments_count_in_the_dossiers_files(app, client, world, create_case, limits):
    case = create_case("in_review")
    limits(files=2)
    post_message(world.applicant, case, body="Le devis.", attachment=FakeUpload(PDF))
    db.session.commit()
    post_message(world.region_agent, case, body="L'analyse.", attachment=FakeUpload(PDF))
    db.session.commit()
    before = stored_files(app)
    login(client, world.applicant)
    response = client.post(f"/dossiers/{case.reference}/messages", content_type="multipart/form-data",
                           data={"body": "Un de plus.", "attachment": (io.BytesIO(PDF), "annexe.pdf")})
    assert "Ce dossier compte déjà 2 fichiers" in refused_beside_the_file(response, "attachment")
    # The whole message is refused with its file: neither is kept.
    assert [message.body for message in case.messages] == ["Le devis.", "L'analyse."]
    assert stored_files(app) == before and files_in_database() == 2


def test_a_removed_document_gives_its_place_back(world, draft, limits):
    limits(files=2)
    first = add(world, draft)
    add(world, draft)
    assert "le maximum est de 2" in refusal(world, draft)
    documents.remove_document(world.applicant, draft, first)
    db.session.commit()
    add(world, draft)
    assert files_in_database() == 2


def test_bytes_per_dossier_up_to_the_byte(world, draft, limits):
    limits(case_bytes=1000)
    add(world, draft, 600)
    message = refusal(world, draft, 401)
    assert message.startswith("Ce fichier dépasserait la place réservée à un dossier "
                              "(1000 octets au total, 600 octets déjà utilisés)")
    add(world, draft, 400)  # exactly 1000 bytes
    assert "la place réservée à un dossier" in refusal(world, draft, len(PDF))
    assert files_in_database() == 2


def test_other_dossiers_are_not_counted_in_a_dossiers_quota(world, draft, create_case, limits):
    limits(files=1, case_bytes=1000)
    add(world, draft, 1000)
    other = create_case("draft")
    add(world, other, 1000)
    assert files_in_database() == 2


# --------------------------------------------------------------------------- per account

def test_bytes_per_account_over_all_its_dossiers(client, world, draft, create_case, create_company, limits):
    limits(account_bytes=1000)
    add(world, draft, 600)
    second = create_case("draft")
    message = refusal(world, second, 401)
    assert message.startswith("Ce fichier dépasserait la place dont dispose votre compte (1000 octets au "
                              "total, 600 octets déjà utilisés)")
    add(world, second, 400)  # exactly 1000 bytes for the account
    # Another person of the same company has their own room, on the same dossier.
    colleague = world.other_applicant
    world.company.members.append(colleague)
    db.session.commit()
    add(world, draft, 1000, who=colleague)
    assert "votre compte" in refusal(world, second, len(PDF))


def test_message_attachments_count_in_the_accounts_bytes(world, create_case, limits):
    case = create_case("in_review")
    limits(account_bytes=1000)
    post_message(world.applicant, case, body="Le devis.", attachment=FakeUpload(pdf(700)))
    db.session.commit()
    draft = create_case("draft")
    assert "votre compte" in refusal(world, draft, 301)
    add(world, draft, 300)


# --------------------------------------------------------------------------- rate

def test_uploads_per_account_and_period(app, client, world, draft, create_case, limits):
    limits(rate="3 per 10 minutes")
    add(world, draft)
    post_message(world.applicant, create_case("in_review"), body="Le devis.", attachment=FakeUpload(PDF))
    db.session.commit()
    add(world, draft)  # the third in the period: documents and attachments count together
    before = stored_files(app)
    login(client, world.applicant)
    message = refused_beside_the_file(upload(client, draft, PDF))
    assert message.startswith("Vous avez envoyé beaucoup de fichiers en peu de temps (au plus 3 en "
                              "10 minutes). Vous pourrez en envoyer d'autres à partir du ")
    assert stored_files(app) == before and files_in_database() == 3
    # Someone else is not slowed down.
    world.company.members.append(world.other_applicant)
    db.session.commit()
    add(world, draft, who=world.other_applicant)


def test_with_the_default_settings_the_31st_upload_in_ten_minutes_is_refused(world, draft):
    for _ in range(30):
        add(world, draft)
    assert "au plus 30 en 10 minutes" in refusal(world, draft)
    assert files_in_database() == 30


def test_when_the_counters_cannot_be_reached_uploads_are_refused(app, world, draft, limits, monkeypatch):
    limits(rate="3 per 10 minutes")

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(limiter.limiter, "hit", unreachable)
    before = stored_files(app)
    assert refusal(world, draft).startswith("L'envoi de fichiers est momentanément indisponible.")
    assert stored_files(app) == before and files_in_database() == 0


def test_no_limit_when_the_settings_are_off(world, draft, limits):
    limits()
    for _ in range(5):
        add(world, draft, 2000)
    assert files_in_database() == 5



# --------------------------------------------------------------------------- at the same moment

def _upload_at_once(app, uploads):
    """Each (user id, case id, size) uploaded in its own thread, app context, session and connection;
    a barrier makes every thread load its dossier before any uploads. Returns each thread's outcome."""
    from atelier.models import Case, User

    barrier = threading.Barrier(len(uploads), timeout=30)
    outcomes: list = [None] * len(uploads)

    def run(index, user_id, case_id, size):
        with app.app_context():
            try:
                user, case = db.session.get(User, user_id), db.session.get(Case, case_id)
                _ = (case.lines, case.company.members)
                barrier.wait()
                try:
                    documents.add_document(user, case, "other", FakeUpload(pdf(size)))
                    db.session.commit()
                    outcomes[index] = ("stored", None)
                except documents.ActionRefused as refused:
                    db.session.rollback()
                    outcomes[index] = ("refused", refused.message)
            except Exception as error:  # noqa: BLE001 (reported to the main thread)
                db.session.rollback()
                outcomes[index] = ("error", repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *upload)) for i, upload in enumerate(uploads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


@pytest.mark.postgres
def test_two_uploads_at_once_cannot_both_take_the_accounts_last_room(app, world, create_case, limits):
    assert db.engine.dialect.name == "postgresql"
    limits(account_bytes=1000)
    first, second = create_case("draft"), create_case("draft")  # two dossiers: only the account is shared
    outcomes = _upload_at_once(app, [(world.applicant.id, first.id, 600), (world.applicant.id, second.id, 600)])
    assert sorted(kind for kind, _ in outcomes) == ["refused", "stored"], outcomes
    assert "la place dont dispose votre compte" in next(text for kind, text in outcomes if kind == "refused")
    db.session.expire_all()
    assert files_in_database() == 1
