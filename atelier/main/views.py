from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    if current_user.is_authenticated:
        if current_user.is_applicant:
            return redirect(url_for("cases.my_cases"))
        if current_user.is_agent:
            return redirect(url_for("inbox.inbox"))
        return redirect(url_for("admin.dashboard"))
    return render_template("main/home.html")


@bp.get("/accessibilite")
def accessibility():
    """The accessibility statement (déclaration d'accessibilité) that RGAA asks every public site for."""
    return render_template("main/accessibility.html")
