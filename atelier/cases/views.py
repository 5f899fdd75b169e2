from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("cases", __name__, url_prefix="/dossiers")


@bp.get("/")
@role_required("applicant")
def my_cases():
    return render_template("base.html")
