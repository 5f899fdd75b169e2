"""The webhooks of an agency, for the platform's admins (there is no agency-administrator role):
the list, a new one (its secret shown once), deactivate / reactivate / delete, and the log of
deliveries with every attempt. Anyone but an admin gets 404."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..agencies.models import Agency
from ..cases.models import Event
from ..cases.views import event_label
from ..extensions import db
from ..forms import optional_int
from ..web import form_status, page_number, perform, role_required
from .delivery import setting
from .forms import WebhookForm
from .models import DELIVERY_STATUSES, Webhook, WebhookDelivery
from .operations import (create_webhook, deactivate_webhook, delete_webhook, reactivate_webhook,
                         retry_delivery, retry_failed_deliveries)

bp = Blueprint("webhooks", __name__, url_prefix="/admin/organismes/<int:agency_id>/webhooks")


@bp.before_request
@role_required("admin")
def _admins_only():
    """Every page of this blueprint is for admins only (404 for anyone else, login page if anonymous)."""


def _webhook_of(agency: Agency, webhook_id: int) -> Webhook:
    webhook = db.session.get(Webhook, webhook_id)
    if webhook is None or webhook.agency_id != agency.id:
        abort(404)
    return webhook


@bp.get("/")
def webhooks(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    items = db.session.scalars(select(Webhook).where(Webhook.agency_id == agency.id)
                               .order_by(Webhook.created_at, Webhook.id)).all()
    counts = {}
    for webhook_id, status, count in db.session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count(WebhookDelivery.id))
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(Webhook.agency_id == agency.id)
            .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status)):
        counts.setdefault(webhook_id, {})[status] = count
    return render_template("webhooks/list.html", agency=agency, webhooks=items, counts=counts,
                           statuses=DELIVERY_STATUSES)


@bp.route("/nouveau", methods=["GET", "POST"])
def new_webhook(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    form = WebhookForm()
    if form.validate_on_submit():
        ok, created = perform(lambda: create_webhook(current_user, agency, url=form.url.data,
                                                     secret=form.secret.data,
                                                     description=form.description.data), form)
        if ok:
            webhook, secret = created
            # Shown once, on this answer only: never put in a redirect, a flash or a cookie.
            response = current_app.make_response(
                render_template("webhooks/created.html", agency=agency, webhook=webhook, secret=secret))
            response.headers["Cache-Control"] = "no-store"
            return response
    return (render_template("webhooks/form.html", agency=agency, form=form,
                            allow_http=bool(setting("WEBHOOKS_ALLOW_HTTP"))), form_status())


@bp.post("/<int:webhook_id>/desactiver")
def deactivate(agency_id: int, webhook_id: int):
    agency = db.get_or_404(Agency, agency_id)
    webhook = _webhook_of(agency, webhook_id)
    perform(lambda: deactivate_webhook(current_user, webhook),
            success="Le webhook est désactivé : plus aucun événement ne lui est envoyé.")
    return redirect(url_for(".webhooks", agency_id=agency.id))


@bp.post("/<int:webhook_id>/reactiver")
def reactivate(agency_id: int, webhook_id: int):
    agency = db.get_or_404(Agency, agency_id)
    webhook = _webhook_of(agency, webhook_id)
    perform(lambda: reactivate_webhook(current_user, webhook),
            success="Le webhook est réactivé : les envois en attente repartent.")
    return redirect(url_for(".webhooks", agency_id=agency.id))


@bp.post("/<int:webhook_id>/supprimer")
def delete(agency_id: int, webhook_id: int):
    agency = db.get_or_404(Agency, agency_id)
    webhook = _webhook_of(agency, webhook_id)
    perform(lambda: delete_webhook(current_user, webhook),
            success="Le webhook et l'historique de ses envois sont supprimés.")
    return redirect(url_for(".webhooks", agency_id=agency.id))


@bp.post("/<int:webhook_id>/relancer")
def retry_webhook(agency_id: int, webhook_id: int):
    agency = db.get_or_404(Agency, agency_id)
    webhook = _webhook_of(agency, webhook_id)
    perform(lambda: retry_failed_deliveries(current_user, webhook),
            success="Les envois abandonnés de ce webhook sont remis en file d'attente.")
    return redirect(url_for(".webhooks", agency_id=agency.id))


@bp.get("/envois")
def deliveries(agency_id: int):
    agency = db.get_or_404(Agency, agency_id)
    webhooks = db.session.scalars(select(Webhook).where(Webhook.agency_id == agency.id)
                                  .order_by(Webhook.created_at, Webhook.id)).all()
    chosen = optional_int(request.args.get("webhook"))
    if chosen not in {webhook.id for webhook in webhooks}:
        chosen = None
    status = request.args.get("statut", "")
    if status not in DELIVERY_STATUSES:
        status = ""
    query = (select(WebhookDelivery)
             .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
             .where(Webhook.agency_id == agency.id)
             .options(joinedload(WebhookDelivery.event).joinedload(Event.case),
                      selectinload(WebhookDelivery.attempt_log))
             .order_by(WebhookDelivery.id.desc()))
    if chosen is not None:
        query = query.where(WebhookDelivery.webhook_id == chosen)
    if status:
        query = query.where(WebhookDelivery.status == status)
    page = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    args = {"agency_id": agency.id, **({"webhook": chosen} if chosen else {}),
            **({"statut": status} if status else {})}
    return render_template("webhooks/deliveries.html", agency=agency, webhooks=webhooks,
                           by_id={webhook.id: webhook for webhook in webhooks}, chosen=chosen,
                           status=status, statuses=DELIVERY_STATUSES, page=page, args=args,
                           event_label=event_label)


@bp.post("/envois/<int:delivery_id>/relancer")
def retry(agency_id: int, delivery_id: int):
    agency = db.get_or_404(Agency, agency_id)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook.agency_id != agency.id:
        abort(404)
    perform(lambda: retry_delivery(current_user, delivery),
            success="L'envoi est remis en file d'attente (avec les envois abandonnés qui le suivent "
                    "sur ce dossier).")
    return redirect(url_for(".deliveries", agency_id=agency.id))
