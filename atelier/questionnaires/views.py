"""The questionnaire pages: the applicant's page of a dossier (every scheme's questions and the common
ones, one save button), and the editor of a scheme's questionnaire (draft, preview, publication).

Outside its scope a page answers 404: a dossier through the cases' scopes, a scheme's editor to those
who may manage it (admins, scheme managers of its agency).
"""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..cases import access
from ..extensions import db
from ..forms import options
from ..schemes.models import Scheme
from ..web import perform, role_required
from ..workflow import CASE_EDITABLE_STATES, CASE_STATES
from . import answers as answer_ops
from . import operations
from .forms import AnswersForm, ItemForm, OwnQuestionForm, PublishForm, SectionForm, StandardQuestionForm
from .library import standard_questions
from .rendering import render_question
from .types import TYPES

bp = Blueprint("questionnaires", __name__)


# --------------------------------------------------------------------------- the dossier's questionnaires

@bp.route("/dossiers/<reference>/questionnaires", methods=["GET", "POST"])
@role_required("applicant")
def case_answers(reference: str):
    case = access.case_or_404(current_user, reference)  # an applicant sees their companies' only
    if case.state not in CASE_EDITABLE_STATES:
        flash("Les réponses ne peuvent plus être modifiées : le dossier est "
              f"{CASE_STATES[case.state].lower()}.", "error")
        return redirect(url_for("cases.show_case", reference=case.reference))
    form = AnswersForm(data={"version": case.version})
    answers = answer_ops.load_answers(case)
    parts = answer_ops.layout(case, answer_ops.load_versions(case))
    raws, errors = answer_ops.form_raws(parts, answers), {}
    if request.method == "POST" and form.validate():
        raws, _, errors = answer_ops.read_answers(case, parts, request.form)
        if not errors:
            ok, _ = perform(lambda: answer_ops.save_answers(current_user, case, request.form,
                                                            expected_version=form.version.data),
                            form, success="Vos réponses sont enregistrées.")
            if ok:
                return redirect(url_for(".case_answers", reference=case.reference))
    status = 422 if request.method == "POST" else 200
    return render_template("questionnaires/case_answers.html", case=case, form=form, parts=parts, raws=raws,
                           errors=errors, render_question=render_question), status


# --------------------------------------------------------------------------- the editor

def _managed_scheme(code: str) -> Scheme:
    scheme = db.session.scalar(select(Scheme).where(Scheme.code == code[:40]))
    if scheme is None or not operations.may_manage(current_user, scheme):
        abort(404)
    return scheme


def _manager_required():
    if not (current_user.is_admin or (current_user.is_agent and current_user.is_scheme_manager)):
        abort(404)


@bp.get("/questionnaires/")
@login_required
def managed_schemes():
    _manager_required()
    query = select(Scheme).order_by(Scheme.name)
    if not current_user.is_admin:
        query = query.where(Scheme.agency_id == current_user.agency_id)
    return render_template("questionnaires/schemes.html", schemes=list(db.session.scalars(query)))


@bp.get("/questionnaires/dispositifs/<code>")
@login_required
def edit_questionnaire(code: str):
    return _render_editor(_managed_scheme(code))


def _render_editor(scheme: Scheme, *, section_form=None, standard_form=None, question_form=None,
                   status: int = 200):
    draft = operations.draft_of(scheme)
    structure = draft.structure if draft else {"sections": []}
    version = draft.version if draft else 0
    library = standard_questions()
    keys = operations.draft_keys(structure)
    section_choices = options(((str(i), section["title"]) for i, section in enumerate(structure["sections"])))
    section_form = section_form or SectionForm(formdata=None)
    standard_form = standard_form or StandardQuestionForm(prefix="library", formdata=None)
    question_form = question_form or OwnQuestionForm(prefix="own", formdata=None)
    standard_form.section.choices = question_form.section.choices = section_choices
    standard_form.standard.choices = options(((key, question.label) for key, question in library.items()
                                              if key not in keys), empty="— Choisissez —")
    question_form.condition_key.choices = options(((key, key) for key in keys), empty="— Toujours posée —")
    return render_template(
        "questionnaires/editor.html", scheme=scheme, structure=structure, version=version, library=library,
        versions=operations.versions_of(scheme), section_form=section_form, standard_form=standard_form,
        question_form=question_form, item_form=ItemForm(formdata=None),
        publish_form=PublishForm(formdata=None), types=TYPES), status


def _back(scheme: Scheme):
    return redirect(url_for(".edit_questionnaire", code=scheme.code))


@bp.post("/questionnaires/dispositifs/<code>/sections")
@login_required
def add_section(code: str):
    scheme = _managed_scheme(code)
    form = SectionForm()
    if form.validate():
        ok, _ = perform(lambda: operations.add_section(current_user, scheme, title=form.title.data,
                                                       expected_version=form.version.data),
                        form, success="La section est ajoutée.")
        if ok:
            return _back(scheme)
    return _render_editor(scheme, section_form=form, status=422)


@bp.post("/questionnaires/dispositifs/<code>/questions-standard")
@login_required
def add_standard_question(code: str):
    scheme = _managed_scheme(code)
    form = StandardQuestionForm(prefix="library")
    if form.validate():
        ok, _ = perform(lambda: operations.add_standard_question(
            current_user, scheme, section=form.section.data, key=form.standard.data,
            required=form.required.data, expected_version=form.version.data),
            form, success="La question de la bibliothèque est ajoutée.")
        if ok:
            return _back(scheme)
    return _render_editor(scheme, standard_form=form, status=422)


@bp.post("/questionnaires/dispositifs/<code>/questions")
@login_required
def add_question(code: str):
    scheme = _managed_scheme(code)
    form = OwnQuestionForm(prefix="own")
    if form.validate():
        ok, _ = perform(lambda: operations.add_own_question(
            current_user, scheme, section=form.section.data, expected_version=form.version.data,
            **form.definition()), form, success="La question est ajoutée.")
        if ok:
            return _back(scheme)
    return _render_editor(scheme, question_form=form, status=422)


@bp.post("/questionnaires/dispositifs/<code>/deplacer")
@login_required
def move_item(code: str):
    scheme = _managed_scheme(code)
    form = ItemForm()
    if form.validate():
        perform(lambda: operations.move_item(current_user, scheme, item=form.item.data,
                                             direction=form.direction.data,
                                             expected_version=form.version.data),
                success="L'élément est déplacé.")
    return _back(scheme)


@bp.post("/questionnaires/dispositifs/<code>/retirer")
@login_required
def remove_item(code: str):
    scheme = _managed_scheme(code)
    form = ItemForm()
    if form.validate():
        perform(lambda: operations.remove_item(current_user, scheme, item=form.item.data,
                                               expected_version=form.version.data),
                success="L'élément est retiré du brouillon.")
    return _back(scheme)


@bp.get("/questionnaires/dispositifs/<code>/apercu")
@login_required
def preview(code: str):
    scheme = _managed_scheme(code)
    draft = operations.draft_of(scheme)
    structure = operations.resolve(draft.structure if draft else None)
    return render_template("questionnaires/preview.html", scheme=scheme, structure=structure,
                           render_question=render_question)


@bp.post("/questionnaires/dispositifs/<code>/publier")
@login_required
def publish(code: str):
    scheme = _managed_scheme(code)
    form = PublishForm()
    if form.validate():
        ok, version = perform(lambda: operations.publish(current_user, scheme,
                                                         expected_version=form.version.data))
        if ok:
            flash(f"La version {version.number} du questionnaire est publiée : les demandes ajoutées "
                  "désormais y répondront.", "success")
    return _back(scheme)
