"""The "Jetons d'accès à l'API" part of the account page: create (shown once), list, revoke."""
from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from ..common import utcnow
from ..extensions import db
from ..forms import ChoiceField, FrenchForm, one_line, options
from ..web import form_status, perform
from .models import TOKEN_SCOPES, ApiToken
from .tokens import DEFAULT_DAYS, MAX_DAYS, create_token, revoke_token, tokens_of

bp = Blueprint("api_tokens", __name__, url_prefix="/compte/jetons")


class TokenForm(FrenchForm):
    name = StringField("Nom du jeton (le logiciel qui l'utilisera)", validators=[
        DataRequired("Donnez un nom au jeton (par exemple le logiciel qui l'utilise)."),
        Length(max=100, message="Le nom du jeton ne peut pas dépasser 100 caractères.")], filters=[one_line])
    scope = ChoiceField("Portée", message="Choisissez la portée du jeton.",
                        choices=options(TOKEN_SCOPES.items()), default="read")
    days = IntegerField("Durée de validité (en jours)", default=DEFAULT_DAYS, validators=[
        DataRequired(f"Indiquez une durée de validité entre 1 et {MAX_DAYS} jours."),
        NumberRange(1, MAX_DAYS, message=f"La durée de validité doit être comprise entre 1 et {MAX_DAYS} jours.")])


class RevokeForm(FrenchForm):
    pass


@bp.app_template_global("api_tokens_of")
def api_tokens_of(user) -> list[ApiToken]:
    return tokens_of(user) if user is not None and user.is_authenticated else []


@bp.app_template_global("api_token_revoke_form")
def api_token_revoke_form() -> RevokeForm:
    return RevokeForm()


@bp.app_template_global("api_now")
def api_now():
    return utcnow()


@bp.route("/nouveau", methods=["GET", "POST"])
@login_required
def new_token():
    form = TokenForm()
    if form.validate_on_submit():
        ok, created = perform(lambda: create_token(current_user, name=form.name.data, scope=form.scope.data,
                                                   days=form.days.data), form)
        if ok:
            row, token = created
            # Shown in this answer only, never stored nor put in the session: no redirect here.
            response = render_template("api/token_created.html", row=row, token=token)
            return response, 201, {"Cache-Control": "no-store"}
    if form.days.errors:
        form.days.errors = [form.days.errors[-1]]  # one message, not "not a number" twice
    return render_template("api/new_token.html", form=form), form_status()


@bp.post("/<int:token_id>/revoquer")
@login_required
def revoke(token_id: int):
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    if RevokeForm().validate_on_submit():
        perform(lambda: revoke_token(current_user, row), success=f"Le jeton « {row.name} » est révoqué.")
    return redirect(url_for("auth.account", _anchor="jetons-api"), 303)
