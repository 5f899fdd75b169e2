"""``flask --app atelier create-token EMAIL --scope read|write [--days N] [--name NAME]``."""
import click
from flask import Flask
from sqlalchemy import func, select

from ..auth.models import User
from ..common import ActionRefused
from ..extensions import db
from .tokens import DEFAULT_DAYS, MAX_DAYS, create_token


def register_api_commands(app: Flask) -> None:
    @app.cli.command("create-token")
    @click.argument("email")
    @click.option("--scope", type=click.Choice(["read", "write"]), required=True,
                  help="read : lecture seule ; write : lecture et écriture.")
    @click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True,
                  help="Durée de validité en jours.")
    @click.option("--name", default="Jeton créé en ligne de commande", help="Nom du jeton.")
    def create_token_command(email: str, scope: str, days: int, name: str) -> None:
        """Create an API token for EMAIL and print it (once: only its hash is kept)."""
        user = db.session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
        if user is None:
            raise click.ClickException(f"Aucun utilisateur avec l'adresse {email}.")
        try:
            row, token = create_token(user, name=name, scope=scope, days=days)
            db.session.commit()
        except ActionRefused as refused:
            db.session.rollback()
            raise click.ClickException(refused.message) from None
        click.echo(f"Jeton « {row.name} » ({scope}) pour {user.email}, valable jusqu'au "
                   f"{row.expires_at:%Y-%m-%d %H:%M} UTC.", err=True)
        click.echo("Copiez-le maintenant : il ne sera plus jamais affiché.", err=True)
        click.echo(token)
