from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("committees", __name__, url_prefix="/comites")


@bp.get("/")
@role_required("agent")
def meetings():
    return render_template("base.html")
