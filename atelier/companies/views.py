from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..web import form_status, page_number, perform, role_required
from .access import companies_of, company_or_404
from .forms import CompanyDetailsForm, CompanyForm
from .operations import LEGAL_FORMS, declare_company, update_company

bp = Blueprint("companies", __name__, url_prefix="/entreprises")



@bp.get("/")
@role_required("applicant")
def my_companies():
    page = db.paginate(companies_of(current_user), page=page_number(),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("companies/list.html", page=page)


@bp.route("/nouvelle", methods=["GET", "POST"])
@role_required("applicant")
def new_company():
    form = CompanyForm()
    if form.validate_on_submit():
        ok, company = perform(lambda: declare_company(current_user, siret=form.siret.data,
                                                      **form.company_fields()),
                              form, success="L'entreprise est enregistrée.")
        if ok:
            return redirect(url_for("companies.show_company", company_id=company.id))
    return render_template("companies/new.html", form=form), form_status()


@bp.get("/<int:company_id>")
@role_required("applicant")
def show_company(company_id: int):
    company = company_or_404(current_user, company_id)
    return render_template("companies/show.html", company=company, legal_forms=LEGAL_FORMS)


@bp.route("/<int:company_id>/modifier", methods=["GET", "POST"])
@role_required("applicant")
def edit_company(company_id: int):
    company = company_or_404(current_user, company_id)
    form = CompanyDetailsForm(obj=company)
    if form.validate_on_submit():
        ok, _ = perform(lambda: update_company(current_user, company, **form.company_fields()),
                        form, success="Les informations de l'entreprise sont enregistrées.")
        if ok:
            return redirect(url_for("companies.show_company", company_id=company.id))
    return render_template("companies/edit.html", form=form, company=company), form_status()
