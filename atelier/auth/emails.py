"""The emails about a person's own account, written in French (``templates/auth/email/``).

None is handed to the mail server inside the request, so that a form answers as fast whether it
mails or not (a slow mail server would tell which addresses have an account):

- a reset link and a "password changed" notice go through the notifications outbox (written with the
  request's commit, sent once the response has gone, or by ``flask send-notifications``);
- the registration emails are sent once the response has gone (``mail.after_response``): the
  address may have no account yet, so there is no outbox row to hang them on, and the form writes
  nothing before the link is followed. If the mail server is down, the person registers again.

Every link comes from ``notifications.outbox.absolute_url``: the configured address of the site,
never the request's ``Host``.
"""
from flask import current_app, render_template

from ..extensions import db
from ..mail import after_response, send_mail
from ..notifications.outbox import absolute_url, queue_account_email
from .models import User
from .operations import password_reset_token
from .registration import Registration, link_max_age

RESET_SUBJECT = "Atelier des projets : choisir un nouveau mot de passe"
CHANGED_SUBJECT = "Atelier des projets : votre mot de passe a été changé"
CONFIRM_SUBJECT = "Atelier des projets : confirmez votre adresse pour créer votre compte"
EXISTS_SUBJECT = "Atelier des projets : vous avez déjà un compte"


def queue_reset_link(user: User) -> None:
    """Queue the email with a new reset link (sent after the commit)."""
    link = absolute_url("auth.reset_password_page", token=password_reset_token(user))
    body = render_template("auth/email/reset_link.txt", user=user, link=link,
                           minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60)
    queue_account_email(user, "password_reset", subject=RESET_SUBJECT, body=body,
                        link=absolute_url("auth.forgot_password"))


def queue_password_changed(user: User) -> None:
    """Queue the notice that the password was changed (sent after the commit)."""
    link = absolute_url("auth.forgot_password")
    body = render_template("auth/email/password_changed.txt", user=user, link=link)
    queue_account_email(user, "password_changed", subject=CHANGED_SUBJECT, body=body, link=link)


def send_registration_email(registration: Registration) -> None:
    """Once the response has gone: the confirmation link to a new address, or "you already have an
    account" to an address that has one."""
    existing_id = registration.existing.id if registration.existing is not None else None

    def send() -> None:
        if existing_id is None:
            link = absolute_url("auth.confirm_registration_page", token=registration.token)
            body = render_template("auth/email/registration_confirm.txt", name=registration.name, link=link,
                                   hours=link_max_age() // 3600)
            send_mail(registration.email, CONFIRM_SUBJECT, body)
            return
        user = db.session.get(User, existing_id)
        if user is None:
            return
        body = render_template("auth/email/registration_exists.txt", user=user, login_link=absolute_url("auth.login"),
                               link=absolute_url("auth.forgot_password"))
        send_mail(user.email, EXISTS_SUBJECT, body)

    after_response(send)
