"""The agency dashboard page, and the template helpers the dossier and scheme pages call.

``dossier_paths`` (the diagrams of templates/cases/_path.html) and ``usual_processing_days`` (the
« la plupart des dossiers sont traités en moins de N jours » line) are template globals, so the
pages owned by other blueprints need no change to their views.
"""
from babel.numbers import format_decimal
from flask import Blueprint, render_template
from flask_login import current_user

from ..cases.diagram import dossier_paths
from ..common import utcnow
from ..formatting import money, paris_today
from ..web import role_required
from ..workflow import CASE_STATES, LINE_STATES
from .charts import bar_chart
from .processing import in_days, usual_days
from .queries import agency_dashboard

bp = Blueprint("dashboards", __name__, url_prefix="/organisme")

TIME_SERIES = ("Médiane", "90e centile")


def days_label(value) -> str:
    if value is None:
        return "—"
    return format_decimal(round(value, 1), format="#,##0.#", locale="fr_FR") + " j"


def usual_processing_days(scheme_ids) -> dict[int, int]:
    """``{scheme id: N}`` for the schemes with enough history (one grouped read for all of them)."""
    return usual_days(list(scheme_ids), utcnow())


bp.add_app_template_global(dossier_paths, "dossier_paths")
bp.add_app_template_global(usual_processing_days, "usual_processing_days")
bp.add_app_template_filter(lambda delta: days_label(in_days(delta)), "days_delta")


@bp.get("/tableau-de-bord")
@role_required("agent")
def agency_dashboard_page():
    today = paris_today()
    board = agency_dashboard(current_user.agency_id, today)
    count = str
    charts = {
        "cases": bar_chart("graphe-dossiers", "Dossiers pilotés par état",
                           [(CASE_STATES[s], [n]) for s, n in board.cases_by_state.items()], ["Dossiers"], count),
        "lines": bar_chart("graphe-demandes", "Demandes de financement par état",
                           [(LINE_STATES[s], [n]) for s, n in board.lines_by_state.items()], ["Demandes"], count),
        "intake": bar_chart("graphe-delai-complet", "Délai du dépôt au dossier complet, par dispositif",
                            [(s.name, [in_days(board.times[s.id].intake.median),
                                       in_days(board.times[s.id].intake.p90)]) for s in board.schemes],
                            TIME_SERIES, days_label),
        "decision": bar_chart("graphe-delai-decision", "Délai du dossier complet à la décision, par dispositif",
                              [(s.name, [in_days(board.times[s.id].decision.median),
                                         in_days(board.times[s.id].decision.p90)]) for s in board.schemes],
                              TIME_SERIES, days_label),
        "amounts": bar_chart("graphe-montants", f"Montants {board.year} par dispositif, face à l'enveloppe",
                             [(a.scheme.name, [a.envelope, a.requested, a.granted, a.paid]) for a in board.amounts],
                             ["Enveloppe", "Demandé", "Accordé", "Versé"], money),
    }
    return render_template("dashboards/agency.html", board=board, charts=charts, today=today,
                           case_states=CASE_STATES, line_states=LINE_STATES)
