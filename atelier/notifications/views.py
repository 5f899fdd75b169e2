"""The "Notifications" part of the account page, and the download of a message's attached file."""

from flask import Blueprint, abort, current_app, g, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..cases import access, documents
from ..companies.access import companies_of
from ..extensions import db
from ..web import perform
from .forms import preferences_form
from .models import MANDATORY_KINDS, MessageAttachment, kinds_for
from .operations import attachments_by_message, preferences_of, set_preferences

bp = Blueprint("notifications", __name__)


@bp.app_template_global("notification_preferences_form")
def notification_preferences_form():
    """The form of the account page: the one just posted with its errors, else the saved choices."""
    user = current_user
    if not getattr(user, "is_authenticated", False) or not kinds_for(user):
        return None
    posted = g.get("notification_form")
    if posted is not None:
        return posted
    return preferences_form(user, formdata=None, data=preferences_of(user))


@bp.app_template_global("notification_is_mandatory")
def notification_is_mandatory(kind: str) -> bool:
    return kind in MANDATORY_KINDS


@bp.app_template_global("message_attachments")
def message_attachments(messages) -> dict:
    return attachments_by_message(message.id for message in messages)


@bp.app_template_global("message_attachment_hint")
def message_attachment_hint() -> str:
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    return (f"Un fichier {documents.ACCEPTED_DESCRIPTION}, de {documents.size_label(limit)} au plus. "
            "Il sera visible de tous ceux qui lisent ce message.")


@bp.post("/compte/notifications")
@login_required
def save_preferences():
    user = current_user._get_current_object()
    kinds = kinds_for(user)
    if not kinds:
        abort(404)
    form = preferences_form(user)
    if form.validate():
        choices = {kind: form[kind].data for kind in kinds}
        ok, _ = perform(lambda: set_preferences(user, choices), form,
                        success="Vos choix de notification sont enregistrés.")
        if ok:
            return redirect(url_for("auth.account", _anchor="notifications"))
    g.notification_form = form
    companies = db.session.scalars(companies_of(user)).all() if user.is_applicant else []
    return render_template("auth/account.html", user=user, companies=companies), 422


@bp.get("/dossiers/<reference>/messages/<int:message_id>/pieces/<int:attachment_id>")
@login_required
def download_attachment(reference: str, message_id: int, attachment_id: int):
    """For whoever sees the message: its dossier is in their scope, and an internal note's file is
    for agents only (the page hides internal notes from applicants). Anything else is a 404."""
    case = access.case_or_404(current_user, reference)
    attachment = db.session.get(MessageAttachment, attachment_id)
    if attachment is None or attachment.message_id != message_id or attachment.message.case_id != case.id:
        abort(404)
    if attachment.message.internal and not (current_user.is_agent or current_user.is_admin):
        abort(404)
    return documents.stored_file_response(attachment.stored_name, content_type=attachment.content_type,
                                          filename=attachment.filename)
