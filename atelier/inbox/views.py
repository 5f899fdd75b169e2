from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("inbox", __name__, url_prefix="/organisme")


@bp.get("/")
@role_required("agent")
def inbox():
    return render_template("base.html")
