"""The events a person may fire on a dossier page, and the routes that fire them.

(Stub: filled in by the agent-actions work.)
"""
from flask import Blueprint

bp = Blueprint("case_actions", __name__, url_prefix="/dossiers")


def available_actions(user, case) -> list:
    """What ``user`` may do on ``case`` now, from the machines' tables and the rights."""
    return []
