from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("schemes", __name__, url_prefix="/dispositifs")


@bp.get("/")
def catalogue():
    return render_template("base.html")
