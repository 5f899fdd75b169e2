"""How much a person may upload, and how fast: the same limits for the supporting documents of a
dossier and for the files attached to its messages.

- per dossier: at most ``UPLOAD_MAX_FILES_PER_CASE`` files and ``UPLOAD_MAX_BYTES_PER_CASE`` bytes
  (documents and message attachments together);
- per account: at most ``UPLOAD_MAX_BYTES_PER_ACCOUNT`` bytes over all the dossiers it uploaded to;
- per account: at most ``UPLOAD_RATE_LIMIT`` uploads (e.g. "30 per 10 minutes"), counted in
  Flask-Limiter's storage like the login throttling (Redis shares the count between gunicorn workers).

A file removed from a dossier gives its room back. Each refusal is a French message beside the file
field; it comes before the file is written, so nothing is stored. A falsy setting turns its limit off.
"""
import logging
from datetime import datetime, timezone

from flask import current_app
from limits import parse
from sqlalchemy import func, select

from ..auth.models import User
from ..common import ActionRefused
from ..extensions import db, limiter
from ..formatting import moment
from ..notifications.models import MessageAttachment
from .models import Case, Document, Message

logger = logging.getLogger(__name__)

RATE_SCOPE = "upload-account"
UNAVAILABLE = ("L'envoi de fichiers est momentanément indisponible. Réessayez dans quelques minutes ; "
               "si cela persiste, contactez l'équipe de la plateforme.")
_ONE = {"second": "une seconde", "minute": "une minute", "hour": "une heure", "day": "un jour",
        "month": "un mois", "year": "un an"}
_MANY = {"second": "secondes", "minute": "minutes", "hour": "heures", "day": "jours", "month": "mois",
         "year": "ans"}


def count_upload(actor: User, field: str) -> None:
    """Count one upload for ``actor``, or refuse it when the account has sent its share lately.

    The count is checked and increased in one step of the store (no two uploads slip in between);
    if the store cannot be reached the upload is refused rather than left unlimited."""
    setting = current_app.config.get("UPLOAD_RATE_LIMIT")
    if not setting:
        return
    item = parse(setting)
    key = str(actor.id)
    try:
        strategy = limiter.limiter
        if strategy.hit(item, RATE_SCOPE, key):
            return
        reset_at = strategy.get_window_stats(item, RATE_SCOPE, key).reset_time
    except Exception:
        logger.exception("Upload rate limit unavailable")
        raise ActionRefused(UNAVAILABLE, field) from None
    retry = moment(datetime.fromtimestamp(reset_at, timezone.utc))
    raise ActionRefused(f"Vous avez envoyé beaucoup de fichiers en peu de temps (au plus {item.amount} "
                        f"en {_period(item)}). Vous pourrez en envoyer d'autres à partir du {retry}.", field)


def check_room(actor: User, case: Case, size: int, field: str) -> None:
    """Refuse a file of ``size`` bytes that would take the dossier or the account past its quota.

    The dossier's row and the account's row are locked first (PostgreSQL), so that two uploads at
    the same moment cannot both take the last place."""
    config = current_app.config
    max_files = config.get("UPLOAD_MAX_FILES_PER_CASE")
    max_case_bytes = config.get("UPLOAD_MAX_BYTES_PER_CASE")
    max_account_bytes = config.get("UPLOAD_MAX_BYTES_PER_ACCOUNT")
    if not (max_files or max_case_bytes or max_account_bytes):
        return
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    db.session.execute(select(User.id).where(User.id == actor.id).with_for_update())
    files, case_bytes, account_bytes = usage(case.id, actor.id)
    if max_files and files + 1 > max_files:
        raise ActionRefused(f"Ce dossier compte déjà {files} fichier{'s' if files > 1 else ''} (pièces et "
                            f"fichiers joints aux messages), le maximum est de {max_files}. Supprimez une "
                            f"pièce devenue inutile ou regroupez plusieurs documents dans un seul fichier.",
                            field)
    if max_case_bytes and case_bytes + size > max_case_bytes:
        raise ActionRefused(f"Ce fichier dépasserait la place réservée à un dossier "
                            f"({_size(max_case_bytes)} au total, {_size(case_bytes)} déjà utilisés). "
                            f"Envoyez un fichier plus léger ou supprimez une pièce devenue inutile.", field)
    if max_account_bytes and account_bytes + size > max_account_bytes:
        raise ActionRefused(f"Ce fichier dépasserait la place dont dispose votre compte "
                            f"({_size(max_account_bytes)} au total, {_size(account_bytes)} déjà "
                            f"utilisés). Envoyez un fichier plus léger ou supprimez des pièces "
                            f"devenues inutiles.", field)


def usage(case_id: int, user_id: int) -> tuple[int, int, int]:
    """``(files of the dossier, bytes of the dossier, bytes uploaded by the account)``, in one query."""
    case_attachments = (select(MessageAttachment.id, MessageAttachment.size_bytes)
                        .join(Message, Message.id == MessageAttachment.message_id)
                        .where(Message.case_id == case_id).subquery())
    case_documents = select(Document.id, Document.size_bytes).where(Document.case_id == case_id).subquery()
    row = db.session.execute(select(
        select(func.count()).select_from(case_documents).scalar_subquery(),
        select(func.coalesce(func.sum(case_documents.c.size_bytes), 0)).scalar_subquery(),
        select(func.count()).select_from(case_attachments).scalar_subquery(),
        select(func.coalesce(func.sum(case_attachments.c.size_bytes), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(Document.size_bytes), 0))
        .where(Document.uploaded_by_id == user_id).scalar_subquery(),
        select(func.coalesce(func.sum(MessageAttachment.size_bytes), 0))
        .where(MessageAttachment.uploaded_by_id == user_id).scalar_subquery(),
    )).one()
    documents, document_bytes, attachments, attachment_bytes, account_documents, account_attachments = \
        (int(value) for value in row)
    return documents + attachments, document_bytes + attachment_bytes, account_documents + account_attachments


def _period(item) -> str:
    unit = item.GRANULARITY.name
    return _ONE.get(unit, unit) if item.multiples == 1 else f"{item.multiples} {_MANY.get(unit, unit)}"


def _size(size_bytes: int) -> str:
    from .documents import size_label  # documents calls this module: imported when needed

    return size_label(size_bytes)
