from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..common import ActionRefused
from ..companies.access import companies_of
from ..extensions import db, login_manager
from ..forms import FrenchForm
from ..web import form_status, perform, safe_next_url
from .emails import queue_password_changed, queue_reset_link, send_registration_email
from .forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from .models import User
from .operations import (active_user_by_email, authenticate, change_password, password_fingerprint, reset_password,
                         user_for_reset_token)
from .registration import confirm_registration, link_max_age, pending_registration, request_registration
from .throttle import AttemptRefused, Throttled, clear_failed_logins, reserve_attempt

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
    # A deactivated account's open session ends at its next request, and so does a session opened
    # before the password was changed or reset (somebody else's, maybe).
    if user is None or not user.active:
        return None
    stored = session.get("password")
    if isinstance(stored, str) and stored.startswith(f"{user.id}:") and stored != _session_mark(user):
        return None
    return user


def _session_mark(user: User) -> str:
    """What the session keeps of the password it was opened with (the account's id, then a
    fingerprint of the hash): a session opened before a password change no longer loads."""
    return f"{user.id}:{password_fingerprint(user)}"


def _start_session(user: User) -> None:
    session.clear()  # a fresh session at login: nothing carried over from before (no fixation)
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
    login_user(user)
    session["password"] = _session_mark(user)


def _throttled_page(refused: AttemptRefused):
    """429 with the time to come back, or 503 when the counters cannot be read (never let through)."""
    if isinstance(refused, Throttled):
        response = current_app.make_response((render_template("auth/throttled.html", throttled=refused), 429))
        response.headers["Retry-After"] = str(refused.seconds)
    else:
        response = current_app.make_response((render_template("auth/unavailable.html", refused=refused),
                                              refused.status))
        response.headers["Retry-After"] = str(refused.retry_after)
    return response



@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next_url(url_for("main.home")))
    form = LoginForm()
    if form.validate_on_submit():
        try:  # counted before the password is tested: at most the limit of tries are ever tested
            attempt = reserve_attempt(form.email.data, "login")
        except AttemptRefused as refused:
            return _throttled_page(refused)
        try:
            user = authenticate(form.email.data, form.password.data)
        except ActionRefused as refused:
            form.form_errors.append(refused.message)  # the attempt stays counted
        else:
            attempt.give_back()  # only failures count
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
        try:  # each registration counts, per address typed and per network address
            reserve_attempt(form.email.data, "register")
        except AttemptRefused as refused:
            return _throttled_page(refused)
        # The same answer, in the same time, whether the address has an account or not: the email
        # (a confirmation link, or "you already have an account") leaves after the response.
        ok, registration = perform(lambda: request_registration(email=form.email.data, name=form.name.data,
                                                                password=form.password.data), form)
        if ok:
            send_registration_email(registration)
            return render_template("auth/register_sent.html", email=registration.email,
                                   hours=link_max_age() // 3600)
    return render_template("auth/register.html", form=form), form_status()


@bp.route("/inscription/confirmer/<token>", methods=["GET", "POST"])
def confirm_registration_page(token: str):
    """The link of the confirmation email: a page with one button (a mail scanner following links
    creates nothing), which creates the account, logs the person in and goes on to their company."""
    try:
        pending = pending_registration(token)
    except ActionRefused as refused:
        return _no_store(render_template("auth/registration_invalid.html", message=refused.message), 400)
    form = FrenchForm()  # its CSRF token only
    if form.validate_on_submit():
        ok, user = perform(lambda: confirm_registration(token))
        if ok:
            _start_session(user)
            flash("Votre adresse est confirmée et votre compte est créé. Déclarez maintenant votre entreprise.",
                  "success")
            return redirect(url_for("companies.new_company"))
        return redirect(url_for("auth.confirm_registration_page", token=token))
    return _no_store(render_template("auth/confirm_registration.html", form=form, pending=pending), 200)


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


# --------------------------------------------------------------------------- password change and reset

@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password_page():
    form = ChangePasswordForm(account_email=current_user.email)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        ok, _ = perform(lambda: change_password(user, current=form.current.data, new=form.password.data), form)
        if ok:
            session["password"] = _session_mark(user)  # this session goes on, the others end
            _send_quietly(queue_password_changed, user)
            flash("Votre mot de passe est changé. Vos autres sessions sont fermées.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/change_password.html", form=form), form_status()


RESET_REQUESTED = ("Si un compte actif existe avec cette adresse, un message vient de lui être envoyé avec un "
                   "lien pour choisir un nouveau mot de passe. Ce lien est valable une heure et ne sert "
                   "qu'une fois. Pensez à regarder dans les courriers indésirables.")


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data
        try:  # no flood of mail to one address, nor from one address
            reserve_attempt(email, "reset")
        except AttemptRefused as refused:
            return _throttled_page(refused)
        user = active_user_by_email(email)
        if user is not None:  # queued, sent after the response: no mail server inside this request
            _send_quietly(queue_reset_link, user)  # a failure must not tell that the account exists
        flash(RESET_REQUESTED, "info")  # the same answer whether the account exists or not
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), form_status()


@bp.route("/mot-de-passe-oublie/<token>", methods=["GET", "POST"])
def reset_password_page(token: str):
    try:
        user = user_for_reset_token(token)
    except ActionRefused as refused:
        return _no_store(render_template("auth/reset_invalid.html", message=refused.message), 400)
    form = ResetPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        ok, user = perform(lambda: reset_password(token, form.password.data), form)
        if ok:
            clear_failed_logins(user.email)
            _send_quietly(queue_password_changed, user)
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Votre mot de passe est changé. Connectez-vous avec le nouveau.", "success")
            return redirect(url_for("auth.login"))
    return _no_store(render_template("auth/reset_password.html", form=form, user=user), form_status())


def _no_store(body, status: int):
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _send_quietly(queue, user: User) -> None:
    """Queue an account email in the outbox and commit (it leaves after the response)."""
    try:
        queue(user)
        db.session.commit()  # a newer reset link replaces the older ones (see password_reset_token)
    except Exception:  # logged for the administrators, the page goes on
        db.session.rollback()
        current_app.logger.exception("Mail to user %s not queued", user.id)
