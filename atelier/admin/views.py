from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required("admin")
def dashboard():
    return render_template("base.html")
