"""``flask --app atelier deliver-webhooks [--once]``: the delivery loop of the outbox."""
import signal
import time

import click
from flask import Flask

from ..extensions import db


def register_webhook_commands(app: Flask) -> None:
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
        pause = interval or setting("WEBHOOKS_POLL_SECONDS")
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        click.echo(f"Envoi des webhooks : toutes les {pause:g} s (Ctrl+C pour arrêter).")
        try:
            while not stopping:
                try:
                    counts = deliver_due()
                    if any(counts.values()):
                        click.echo(_summary(counts))
                except Exception as error:  # the loop survives a database hiccup; the row stays pending
                    click.echo(f"Erreur pendant l'envoi des webhooks : {error}", err=True)
                finally:
                    db.session.remove()
                slept = 0.0
                while slept < pause and not stopping:
                    time.sleep(min(0.2, pause))
                    slept += min(0.2, pause)
        except KeyboardInterrupt:
            pass
        click.echo("Envoi des webhooks arrêté.")


def _summary(counts: dict) -> str:
    return (f"Webhooks : {counts['delivered']} livré(s), {counts['retry']} à réessayer, "
            f"{counts['failed']} abandonné(s).")
