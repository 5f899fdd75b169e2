"""``flask send-notifications`` (what is due, with retries) and ``flask send-reminders`` (daily:
overdue-opinion reminders, then the digests, then sending)."""
import click
from flask import Flask

from ..extensions import db
from ..loops import run_every


def register_notification_commands(app: Flask) -> None:
    @app.cli.command("send-notifications")
    @click.option("--loop", "interval", type=click.FloatRange(min=0.1), default=None,
                  help="Recommencer toutes les N secondes (à lancer à côté du serveur) au lieu d'un seul passage.")
    def send_notifications_command(interval: float | None) -> None:
        """Send the email notifications that are due (retried with backoff, each attempt recorded)."""
        from .sending import send_due

        if interval is None:
            click.echo(_summary(send_due()))
            return

        def one_pass():
            counts = send_due()
            return _summary(counts) if any(counts.values()) else None

        run_every(interval, one_pass, name="notifications")

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Daily: remind overdue opinions (once a day at most), send the digests, then what is due."""
        from .operations import queue_digests, queue_overdue_reminders
        from .sending import send_due

        reminders = queue_overdue_reminders()
        db.session.commit()
        digests = queue_digests()
        db.session.commit()
        click.echo(f"Rappels d'avis en retard : {reminders}. Récapitulatifs : {digests}.")
        click.echo(_summary(send_due()))


def _summary(counts: dict) -> str:
    return (f"Notifications : {counts['sent']} envoyée(s), {counts['retry']} à réessayer, "
            f"{counts['failed']} abandonnée(s), {counts['skipped']} non envoyée(s) (compte désactivé).")
