from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..common import ActionRefused
from ..companies.access import companies_of
from ..extensions import db, login_manager
from ..forms import FrenchForm
from ..web import form_status, perform, safe_next_url
from .emails import queue_password_changed, queue_reset_link, send_registration_email
from .forms import (ChangePasswordForm, EndSessionForm, ForgotPasswordForm, LoginForm, RegisterForm,
                    ResetPasswordForm)
from .models import User
from .operations import (active_user_by_email, authenticate, change_password, reset_password,
                         user_for_reset_token)
from .registration import confirm_registration, link_max_age, pending_registration, request_registration
from .sessions import (SESSION_KEY, browser_label, end_session, end_session_of, end_sessions, note_activity,
                       open_session, open_sessions_of, session_with_key, user_of_session)
from .throttle import AttemptRefused, Throttled, clear_failed_logins, reserve_attempt

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # Only while the session's record is open: logging out, a password change or reset, a
    # deactivation and inactivity end it on the server, whatever copy of the cookie remains.
    found = user_of_session(user_id, session.get(SESSION_KEY))
    if found is None:
        return None
    user, g.user_session = found
    return user


@bp.before_app_request
def _note_session_activity():
    """Load the person at the start of each page request, so that the session's last activity is
    written (once a minute at most) before the page changes anything; the API has its tokens."""
    if request.blueprint == "api" or request.endpoint == "static" or "_user_id" not in session:
        return
    if current_user.is_authenticated and g.get("user_session") is not None \
            and note_activity(g.user_session):
        db.session.commit()


def _start_session(user: User) -> None:
    session.clear()  # a fresh session at login: nothing carried over from before (no fixation)
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
    key = _open_session(user)
    db.session.commit()
    login_user(user)
    session[SESSION_KEY] = key


def _open_session(user: User) -> str:
    return open_session(user, user_agent=request.user_agent.string, address=request.remote_addr)


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
    record = session_with_key(session.get(SESSION_KEY))
    if record is not None:
        end_session(record)
        db.session.commit()
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("main.home"))


@bp.get("/compte")
@login_required
def account():
    companies = db.session.scalars(companies_of(current_user)).all() if current_user.is_applicant else []
    return render_template("auth/account.html", user=current_user, companies=companies)


@bp.get("/compte/sessions")
@login_required
def sessions_page():
    current = session_with_key(session.get(SESSION_KEY))
    hours = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() / 3600
    lifetime = f"{hours:g} heure{'s' if hours >= 2 else ''}" if hours >= 1 else f"{hours * 60:g} minutes"
    return render_template("auth/sessions.html", sessions=open_sessions_of(current_user),
                           form=EndSessionForm(), current_id=current.id if current else None,
                           browser_label=browser_label, lifetime_label=lifetime)


@bp.post("/compte/sessions/<int:session_id>/fermer")
@login_required
def end_session_page(session_id: int):
    if EndSessionForm().validate_on_submit():
        current = session_with_key(session.get(SESSION_KEY))
        ok, ended = perform(lambda: end_session_of(current_user, session_id),
                            success="La session est fermée.")
        if ok and current is not None and ended.id == current.id:
            logout_user()
            session.clear()
            flash("Vous êtes déconnecté.", "info")
            return redirect(url_for("auth.login"))
    return redirect(url_for("auth.sessions_page"))


@bp.post("/compte/sessions/fermer-les-autres")
@login_required
def end_other_sessions():
    if EndSessionForm().validate_on_submit():
        current = session_with_key(session.get(SESSION_KEY))
        user = current_user._get_current_object()
        perform(lambda: end_sessions(user, keep=current), success="Vos autres sessions sont fermées.")
    return redirect(url_for("auth.sessions_page"))


# --------------------------------------------------------------------------- password change and reset

@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password_page():
    form = ChangePasswordForm(account_email=current_user.email)
    if form.validate_on_submit():
        user = current_user._get_current_object()

        def change():
            change_password(user, current=form.current.data, new=form.password.data,
                            revoke_tokens=form.revoke_tokens.data)
            return _open_session(user)  # this browser goes on, with a new key: every other session ends

        ok, key = perform(change, form)
        if ok:
            session[SESSION_KEY] = key
            _send_quietly(queue_password_changed, user)
            tokens = " et vos jetons d'accès à l'API révoqués" if form.revoke_tokens.data else ""
            flash(f"Votre mot de passe est changé. Vos autres sessions sont fermées{tokens}.", "success")
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
        ok, user = perform(lambda: reset_password(token, form.password.data,
                                                  keep_tokens=form.keep_tokens.data), form)
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
