from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..common import ActionRefused
from ..companies.access import companies_of
from ..extensions import db, login_manager
from ..web import form_status, perform, safe_next_url
from .forms import LoginForm, RegisterForm
from .models import User
from .operations import authenticate, register_applicant

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    # A deactivated account's open session ends at its next request.
    return user if user is not None and user.active else None


def _start_session(user: User) -> None:
    session.clear()  # a fresh session at login: nothing carried over from before
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
    login_user(user)



@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next_url(url_for("main.home")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except ActionRefused as refused:
            form.form_errors.append(refused.message)
        else:
            _start_session(user)
            flash(f"Bienvenue, {user.name}.", "success")
            return redirect(safe_next_url(url_for("main.home")))
    return render_template("auth/login.html", form=form), form_status()


@bp.route("/inscription", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        ok, user = perform(lambda: register_applicant(email=form.email.data, name=form.name.data,
                                                      password=form.password.data), form)
        if ok:
            _start_session(user)
            flash("Votre compte est créé. Déclarez maintenant votre entreprise.", "success")
            return redirect(url_for("companies.new_company"))
    return render_template("auth/register.html", form=form), form_status()


@bp.post("/deconnexion")
def logout():
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("main.home"))


@bp.get("/compte")
@login_required
def account():
    companies = db.session.scalars(companies_of(current_user)).all() if current_user.is_applicant else []
    return render_template("auth/account.html", user=current_user, companies=companies)
