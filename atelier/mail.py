"""Outgoing mail: ``send_mail(to, subject, body)``.

With ``MAIL_SERVER`` configured the message goes through SMTP (``MAIL_PORT``, STARTTLS when
``MAIL_USE_TLS``, login when ``MAIL_USERNAME`` is set) from ``MAIL_FROM``. Without it (development,
tests) each message is written as an ``.eml`` file under ``MAIL_FOLDER`` (default
``<instance>/mail/``), where it can be read or opened with a mail program.

Send only after the transaction is committed: a refused operation must not have mailed anyone. And
send after the response (``after_response``): a form must answer as fast whether it mails or not (a
slow mail server would otherwise tell which addresses have an account).
"""
import os
import secrets
import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import after_this_request, current_app, has_request_context

SMTP_TIMEOUT = 10  # seconds; a stuck mail server must not hold a worker for long


def build_message(to: str, subject: str, body: str, headers: dict | None = None) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> "))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)  # text/plain, UTF-8
    return message


def send_mail(to: str, subject: str, body: str, headers: dict | None = None) -> EmailMessage:
    """Send one plain-text message (French) to one address; returns the message sent.
    ``headers``: extra ones (e.g. ``Auto-Submitted`` on notifications)."""
    message = build_message(to, subject, body, headers)
    config = current_app.config
    if config.get("MAIL_SERVER"):
        with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=SMTP_TIMEOUT) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            smtp.send_message(message)
    else:
        _write_to_folder(message)
    return message


def after_response(work) -> None:
    """Run ``work()`` once the response has gone to the browser (the server calls it when it closes
    the response), in an application context of its own; outside a request, run it now.

    Whatever goes wrong in ``work`` is logged, never shown: the person already has their answer.
    """
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:
                app.logger.exception("Work after the response failed")

    if not has_request_context():
        run()
        return

    @after_this_request
    def when_closed(response):
        response.call_on_close(run)
        return response


def mail_folder() -> str:
    return current_app.config.get("MAIL_FOLDER") or os.path.join(current_app.instance_path, "mail")


def _write_to_folder(message: EmailMessage) -> str:
    folder = mail_folder()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    name = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes())
    return path
