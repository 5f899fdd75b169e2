"""``flask --app atelier export-…``: the exports for scheduled jobs (cron), written to a file.

    export-meeting MEETING_ID -o FILE.xlsx
    export-lines --agency SLUG [--state S] [--scheme CODE] [--committee SLUG]
                 [--from DATE] [--to DATE] -o FILE.xlsx|FILE.csv
    export-opendata --agency SLUG --year YYYY -o FILE.csv

The operator names the agency (its slug); each command exports only what that agency may see.
Every refusal is a French message on standard error and a non-zero exit status; the file is
written under a temporary name and moved into place once complete.
"""
import os
from pathlib import Path

import click
from flask import Flask

from ..common import ActionRefused


def register_export_commands(app: Flask) -> None:
    @app.cli.command("export-meeting")
    @click.argument("meeting_id", type=int)
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
                  help="Fichier .xlsx à écrire.")
    def export_meeting(meeting_id: int, output: str) -> None:
        """Write the committee pack of a meeting (one workbook)."""
        try:
            from .pack import export_meeting_to
        except ImportError:
            raise click.ClickException("L'export du dossier de séance n'est pas disponible dans cette "
                                       "version.") from None
        if not output.lower().endswith(".xlsx"):
            raise click.ClickException("Le nom du fichier doit finir par .xlsx.")
        try:  # it writes the file whole or not at all, and refuses an unknown meeting in French
            export_meeting_to(meeting_id, output)
        except ActionRefused as refused:
            raise click.ClickException(refused.message) from None
        click.echo(f"Dossier de séance écrit dans {output}.")

    @app.cli.command("export-lines")
    @click.option("--agency", "agency_slug", required=True, help="Identifiant (slug) de l'organisme.")
    @click.option("--state", help="État des demandes (par exemple under_review, approved).")
    @click.option("--scheme", help="Code du dispositif.")
    @click.option("--committee", help="Identifiant (slug) du comité.")
    @click.option("--from", "date_from", help="Déposés à partir du (AAAA-MM-JJ ou JJ/MM/AAAA).")
    @click.option("--to", "date_to", help="Déposés jusqu'au (inclus).")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
                  help="Fichier .xlsx ou .csv à écrire (le format suit l'extension).")
    def export_lines(agency_slug, state, scheme, committee, date_from, date_to, output) -> None:
        """Write the portfolio of an agency: every funding line it holds or held."""
        from .portfolio import agency_by_slug, format_from_path, parse_filters, write_portfolio

        def export(path):
            fmt = format_from_path(output)
            agency = agency_by_slug(agency_slug)
            filters = parse_filters(state=state, scheme=scheme, committee=committee,
                                    submitted_from=date_from, submitted_to=date_to)
            write_portfolio(agency, filters, fmt, path)

        _run(export, output)
        click.echo(f"Portefeuille écrit dans {output}.")

    @app.cli.command("export-opendata")
    @click.option("--agency", "agency_slug", required=True, help="Identifiant (slug) de l'organisme.")
    @click.option("--year", required=True, help="Année des décisions d'attribution (AAAA).")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
                  help="Fichier .csv à écrire.")
    def export_opendata(agency_slug, year, output) -> None:
        """Write the grants an agency awarded in a year (SCDL « Subventions » 2.1.1)."""
        from .opendata import parse_year, write_opendata
        from .portfolio import agency_by_slug

        def export(path):
            if not output.lower().endswith(".csv"):
                raise ActionRefused("Le nom du fichier doit finir par .csv.")
            agency = agency_by_slug(agency_slug)
            write_opendata(agency, parse_year(year), path)

        _run(export, output)
        click.echo(f"Subventions {year} (SCDL 2.1.1) écrites dans {output}.")


def _run(export, output: str) -> None:
    """Run ``export(path)`` into a temporary file beside ``output``, then put it in place.

    A refusal becomes a French error (exit status 1) and leaves ``output`` as it was: a scheduled
    job never finds a half-written file under the expected name.
    """
    target = Path(output)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partiel")
    try:
        export(str(partial))
        os.replace(partial, target)
    except ActionRefused as refused:
        raise click.ClickException(refused.message) from None
    except OSError as error:
        raise click.ClickException(f"Impossible d'écrire {output} : {error.strerror or error}.") from None
    finally:
        if partial.exists():
            partial.unlink()
