"""``flask --app atelier <command>``: init-db, seed-demo, create-user, verify-audit, backup, restore,
and the export-… commands."""
import click
from flask import Flask
from flask_migrate import upgrade


def register_commands(app: Flask) -> None:
    from .exports.commands import register_export_commands

    register_export_commands(app)

    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the database or upgrade it to the latest migration."""
        upgrade()
        click.echo("Base de données à jour.")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo data (idempotent: does nothing if it is already there), then check its audit trail."""
        from .demo import load_demo

        created = load_demo()
        click.echo("Données de démonstration chargées." if created
                   else "Données de démonstration déjà présentes.")
        if created:  # what was just written must pass the check any operator may run
            _verify_audit()

    @app.cli.command("demo-logins")
    def demo_logins() -> None:
        """Print the demo accounts."""
        from .demo import DEMO_PASSWORD, demo_accounts

        click.echo("Comptes de démonstration (mot de passe : %s)" % DEMO_PASSWORD)
        for email, description in demo_accounts():
            click.echo(f"  {email:<40} {description}")

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--name", required=True, help="Nom affiché.")
    @click.option("--role", type=click.Choice(["applicant", "agent", "admin"]), required=True)
    @click.option("--agency", "agency_slug", help="Identifiant (slug) de l'organisme, pour un agent.")
    @click.option("--secretary", is_flag=True, help="L'agent est secrétaire de comité.")
    @click.password_option()
    def create_user_command(email, name, role, agency_slug, secretary, password) -> None:
        """Create an account (agents, secretaries and admins are created this way)."""
        from .auth.operations import create_user
        from .common import ActionRefused
        from .extensions import db

        try:
            user = create_user(email=email, name=name, password=password, role=role,
                               agency_slug=agency_slug, is_secretary=secretary)
        except ActionRefused as refused:
            raise click.ClickException(refused.message) from None
        db.session.commit()
        click.echo(f"Compte créé : {user.email} ({user.role_label}).")

    @app.cli.command("verify-audit")
    def verify_audit() -> None:
        """Check every dossier's audit trail (hash chain); exit code 1 if one is broken."""
        _verify_audit()

    @app.cli.command("backup")
    @click.argument("directory", type=click.Path(file_okay=False))
    def backup_command(directory) -> None:
        """Back up the database and the uploaded files into DIRECTORY (new or empty)."""
        from .backup import BackupError, backup

        try:
            manifest = backup(directory)
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        rows = sum(manifest["tables"].values())
        click.echo(f"Sauvegarde écrite dans {directory} : base {manifest['database']} ({rows} lignes), "
                   f"{manifest['files']['count']} fichier(s) déposé(s).")
        if manifest["files_missing"]:
            click.echo(f"{len(manifest['files_missing'])} fichier(s) supprimé(s) pendant la copie, non "
                       f"sauvegardé(s) (voir files_missing dans manifest.json) : "
                       f"{', '.join(manifest['files_missing'])}.")

    @app.cli.command("restore")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False))
    @click.option("--yes", is_flag=True, help="Confirme le remplacement des données actuelles.")
    def restore_command(directory, yes) -> None:
        """Replace the database and the uploaded files by the backup in DIRECTORY (needs --yes)."""
        from .backup import BackupError, read_manifest, restore

        try:
            manifest = read_manifest(directory)
            if not yes:
                raise click.ClickException(
                    f"La restauration remplace toutes les données actuelles par la sauvegarde du "
                    f"{manifest['created_at']}. Arrêtez le site, puis relancez avec --yes pour confirmer.")
            differences = restore(directory)
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        if differences:
            for what, (expected, found) in differences.items():
                click.echo(f"  {what} : {expected} attendu(s), {found} trouvé(s)", err=True)
            raise click.ClickException("La restauration ne correspond pas au manifeste de la sauvegarde.")
        click.echo(f"Sauvegarde du {manifest['created_at']} restaurée : base et fichiers conformes au manifeste.")


def _verify_audit() -> None:
    """Every dossier's chain checked (``audit.verify_chains``), each broken one told; exit code 1 if any."""
    from . import audit

    broken = audit.verify_chains()
    for chain in broken:
        click.echo(f"Dossier {chain.reference} : historique altéré", err=True)
        for problem in chain.problems:
            click.echo(f"  - {problem}", err=True)
    if broken:
        raise click.ClickException(f"{len(broken)} dossier(s) dont l'historique a été altéré.")
    click.echo("Historique intact : la chaîne de chaque dossier est complète et inchangée.")
