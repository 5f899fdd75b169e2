"""The background loops run beside the server (webhooks, notifications): the same pass repeated every
few seconds until Ctrl+C or SIGTERM, surviving a database hiccup (what was not sent stays due)."""
import signal
import time
from typing import Callable

import click

from .extensions import db


def run_every(pause: float, one_pass: Callable[[], str | None], *, name: str) -> None:
    """Call ``one_pass`` every ``pause`` seconds; print what it returns (a French summary, or None
    when there was nothing to do). ``name`` completes "Envoi des …"."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"Envoi des {name} : toutes les {pause:g} s (Ctrl+C pour arrêter).")
    try:
        while not stopping:
            try:
                summary = one_pass()
                if summary:
                    click.echo(summary)
            except Exception as error:  # the loop survives a database hiccup; the row stays pending
                click.echo(f"Erreur pendant l'envoi des {name} : {error}", err=True)
            finally:
                db.session.remove()
            slept = 0.0
            while slept < pause and not stopping:
                time.sleep(min(0.2, pause))
                slept += min(0.2, pause)
    except KeyboardInterrupt:
        pass
    click.echo(f"Envoi des {name} arrêté.")
