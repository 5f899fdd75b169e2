"""``flask --app atelier deliver-webhooks [--once]``: the delivery loop of the outbox."""
import click
from flask import Flask

from ..loops import run_every
from .network import parse_allowed_networks


def register_webhook_commands(app: Flask) -> None:
    # A mistyped allow-list stops the start, with its French message, rather than every delivery.
    parse_allowed_networks(app.config.get("WEBHOOKS_ALLOWED_NETWORKS"))

    @app.cli.command("deliver-webhooks")
    @click.option("--once", is_flag=True, help="Envoyer ce qui est dû, puis s'arrêter.")
    @click.option("--interval", type=click.FloatRange(min=0.1), default=None,
                  help="Secondes entre deux passages (par défaut WEBHOOKS_POLL_SECONDS, 5).")
    def deliver_webhooks(once: bool, interval: float | None) -> None:
        """Send the webhooks' deliveries that are due (signed, in order per dossier, retried)."""
        from .delivery import deliver_due, setting

        if once:
            counts = deliver_due()
            click.echo(_summary(counts))
            return

        def one_pass():
            counts = deliver_due()
            return _summary(counts) if any(counts.values()) else None

        run_every(interval or setting("WEBHOOKS_POLL_SECONDS"), one_pass, name="webhooks")


def _summary(counts: dict) -> str:
    return (f"Webhooks : {counts['delivered']} livré(s), {counts['retry']} à réessayer, "
            f"{counts['failed']} abandonné(s).")
