from flask import Blueprint, render_template

from ..web import role_required

bp = Blueprint("companies", __name__, url_prefix="/entreprises")


@bp.get("/")
@role_required("applicant")
def my_companies():
    return render_template("base.html")


@bp.get("/nouvelle")
@role_required("applicant")
def new_company():
    return render_template("base.html")
