"""The applicant's financing-plan page and execution-report page.

Both are one form saved by one button; « Ajouter une ligne » and « Supprimer » are submit buttons that
bring the page back with a row more or less, nothing saved (no JavaScript needed). The dossier page
shows the plan and the report to everyone who sees the dossier (``templates/plans/_block.html``).
"""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..cases import access
from ..cases.documents import size_label
from ..cases.forms import DocumentForm
from ..cases.events import check_editable
from ..common import ActionRefused
from ..web import perform, role_required
from . import operations
from .forms import PlanForm, ReportForm, input_rule_messages, posted_rows, row_errors
from .models import AID_STATUSES, EXPENSE_CATEGORIES, MAX_ROWS, RESOURCE_KINDS

bp = Blueprint("plans", __name__, url_prefix="/dossiers")


def _back_to_case(case, message: str):
    flash(message, "error")
    return redirect(url_for("cases.show_case", reference=case.reference))


def _edit_rows(rows_by_side: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], bool]:
    """Apply an « add a row » or « remove row n » button; True when one was pressed (nothing is saved)."""
    button = request.form.get("row_action", "")
    side, _, what = button.partition(":")
    if side not in rows_by_side:
        return rows_by_side, False
    rows = rows_by_side[side]
    if what == "add":
        if len(rows) >= MAX_ROWS:
            flash(f"Au plus {MAX_ROWS} lignes.", "error")
        else:
            rows.append({})
    elif what.isdigit() and int(what) < len(rows):
        del rows[int(what)]
    return rows_by_side, True


def _stored_expenses(expenses) -> list[dict]:
    return [{"category": e.category, "label": e.label, "amount": e.amount} for e in expenses]


# --------------------------------------------------------------------------- the plan

@bp.route("/<reference>/plan-de-financement", methods=["GET", "POST"])
@role_required("applicant")
def edit_plan(reference: str):
    case = access.case_or_404(current_user, reference)
    try:
        check_editable(current_user, case)
    except ActionRefused as refused:
        return _back_to_case(case, refused.message)
    plan = case.financing_plan
    errors: dict[str, str] = {}
    if request.method == "GET":
        form = PlanForm(data={"version": case.version,
                              "gap_explanation": plan.gap_explanation if plan is not None else ""})
        rows = {"expenses": _stored_expenses(plan.expenses) if plan is not None else [],
                "resources": ([{"kind": r.kind, "label": r.label, "amount": r.amount, "status": r.status}
                               for r in plan.resources] if plan is not None else [])}
        return _render_plan(case, form, rows, errors)
    form = PlanForm()
    rows = {side: posted_rows(request.form, side) for side in ("expenses", "resources")}
    rows, edited = _edit_rows(rows)
    if edited:
        form.validate()  # the token and the explanation's length, to show their messages
        return _render_plan(case, form, rows, errors, status=200 if form.errors == {} else 422)
    for message in input_rule_messages():
        flash(message, "error")
    errors = {**row_errors("expenses", rows["expenses"]), **row_errors("resources", rows["resources"])}
    if form.validate() and not errors and not input_rule_messages():
        ok, _ = perform(lambda: operations.save_plan(
            current_user, case, expenses=rows["expenses"], resources=rows["resources"],
            gap_explanation=form.gap_explanation.data, expected_version=form.version.data),
            form, success="Le plan de financement est enregistré.")
        if ok:
            return redirect(url_for(".edit_plan", reference=case.reference))
    return _render_plan(case, form, rows, errors, status=422)


def _render_plan(case, form, rows, errors, status: int = 200):
    for side in ("expenses", "resources"):
        if not rows[side]:
            rows[side] = [{}]  # one blank row to start with
    return render_template(
        "plans/edit.html", case=case, form=form, rows=rows, errors=errors, categories=EXPENSE_CATEGORIES,
        kinds=RESOURCE_KINDS, statuses=AID_STATUSES, max_rows=MAX_ROWS,
        totals=operations.plan_totals(case), lines=case.lines,
    ), status


# --------------------------------------------------------------------------- the execution report

@bp.route("/<reference>/bilan-execution", methods=["GET", "POST"])
@role_required("applicant")
def edit_report(reference: str):
    case = access.case_or_404(current_user, reference)
    try:
        operations.check_report_open(current_user, case)
    except ActionRefused as refused:
        return _back_to_case(case, refused.message)
    report = case.execution_report
    errors: dict[str, str] = {}
    if request.method == "GET":
        form = ReportForm(data={"comment": report.comment if report is not None else ""})
        rows = {"expenses": _stored_expenses(report.expenses) if report is not None else []}
        return _render_report(case, form, rows, errors)
    form = ReportForm()
    rows = {"expenses": posted_rows(request.form, "expenses")}
    rows, edited = _edit_rows(rows)
    if edited:
        form.validate()
        return _render_report(case, form, rows, errors, status=200 if form.errors == {} else 422)
    for message in input_rule_messages():
        flash(message, "error")
    errors = row_errors("expenses", rows["expenses"])
    file = request.form.get("file_report") == "1"
    if form.validate() and not errors and not input_rule_messages():
        ok, _ = perform(lambda: operations.save_execution_report(
            current_user, case, expenses=rows["expenses"], comment=form.comment.data, file=file),
            form, success=f"Le bilan d'exécution est {'déposé' if file else 'enregistré'}.")
        if ok:
            if file:
                return redirect(url_for("cases.show_case", reference=case.reference, _anchor="plan"))
            return redirect(url_for(".edit_report", reference=case.reference))
    return _render_report(case, form, rows, errors, status=422)


@bp.post("/<reference>/bilan-execution/pieces")
@role_required("applicant")
def upload_proof(reference: str):
    case = access.case_or_404(current_user, reference)
    form = DocumentForm(prefix="document")
    del form.kind  # always a proof of the expenses really made
    if form.validate():
        ok, document = perform(lambda: operations.add_report_document(current_user, case, form.file.data),
                               form)
        if ok:
            flash(f"La pièce « {document.filename} » est jointe au bilan d'exécution.", "success")
    else:
        for field_errors in form.errors.values():
            for message in field_errors:
                flash(str(message), "error")
    return redirect(url_for(".edit_report", reference=case.reference, _anchor="pieces"))


def _render_report(case, form, rows, errors, status: int = 200):
    if not rows["expenses"]:
        rows["expenses"] = [{}]
    proofs = [document for document in case.documents if document.kind == operations.PROOF_KIND]
    document_form = DocumentForm(prefix="document", formdata=None)
    del document_form.kind
    return render_template(
        "plans/report.html", case=case, form=form, rows=rows, errors=errors, categories=EXPENSE_CATEGORIES,
        max_rows=MAX_ROWS, proofs=proofs, document_form=document_form, size_label=size_label,
        plan=case.financing_plan,
    ), status
