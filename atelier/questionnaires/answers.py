"""A dossier's questionnaires: what it asks (each line answers the version current when it was added),
the answers, their saving, what is still missing at submission, and what the dossier page shows.

Answered once: a standard question asked by several of the dossier's schemes is asked once, in the
common part (answer with no line); a scheme's own questions are asked per line. A question shown only
when another answer equals a value is, when hidden, neither required nor stored.
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from ..auth.models import User
from ..cases.events import check_editable, check_version
from ..common import ActionRefused, utcnow
from ..extensions import db
from .models import Answer, QuestionnaireVersion
from .rendering import read_raw
from .types import as_raw, condition_met, dump, is_empty, load, parse, shown

COMMON = "common"
COMMON_TITLE = "Questions communes à vos demandes"


@dataclass
class Part:
    """One part of the dossier's questionnaire page: the common questions, or a line's scheme."""

    scope: str  # "common" or "line<id>": the prefix of its fields' names
    title: str
    line: object = None
    version: QuestionnaireVersion | None = None
    sections: list = field(default_factory=list)  # [(section title, [question, …])]
    version_of: dict = field(default_factory=dict)  # standard key -> the version whose wording is shown

    @property
    def questions(self) -> list[dict]:
        return [question for _, questions in self.sections for question in questions]

    def name(self, question: dict) -> str:
        return f"{self.scope}-{question['key']}"


class AnswersRefused(ActionRefused):
    """Some answers could not be read: ``errors`` maps field names to French messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("Certaines réponses sont à corriger : voyez les messages à côté des questions.")
        self.errors = errors


def load_versions(case, answers=()) -> dict[int, QuestionnaireVersion]:
    """The versions the dossier's lines and answers refer to, in one query."""
    ids = {line.questionnaire_version_id for line in case.lines} | {answer.version_id for answer in answers}
    ids.discard(None)
    if not ids:
        return {}
    return {version.id: version for version in
            db.session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_(ids)))}


def load_answers(case) -> dict[tuple, Answer]:
    return {(answer.line_id, answer.question_key): answer
            for answer in db.session.scalars(select(Answer).where(Answer.case_id == case.id))}


def layout(case, versions: dict[int, QuestionnaireVersion]) -> list[Part]:
    """The common part (standard questions, each once) then one part per line with own questions."""
    common = Part(COMMON, COMMON_TITLE)
    common_questions: dict[str, dict] = {}
    parts = []
    for line in sorted(case.lines, key=lambda line: line.position):
        version = versions.get(line.questionnaire_version_id)
        if version is None:
            continue
        part = Part(f"line{line.id}", line.scheme.name, line=line, version=version)
        for section in version.structure.get("sections", []):
            own = []
            for question in section.get("questions", []):
                if question.get("standard"):
                    known = common_questions.get(question["key"])
                    if known is None:
                        common_questions[question["key"]] = dict(question)
                        common.version_of[question["key"]] = version
                    elif question.get("required"):
                        known["required"] = True
                else:
                    own.append(question)
            if own:
                part.sections.append((section.get("title", ""), own))
        if part.sections:
            parts.append(part)
    if common_questions:
        common.sections.append(("", list(common_questions.values())))
        return [common, *parts]
    return parts


def _line_id(part: Part):
    return part.line.id if part.line is not None else None


def _visible(part: Part, values: dict, common_values: dict) -> list[dict]:
    """The questions of ``part`` shown given ``values`` (by key), in order: a condition speaks of an
    earlier answer, and a hidden question's answer counts as none."""
    known = dict(common_values)
    visible = []
    for question in part.questions:
        if condition_met(question.get("condition"), known):
            visible.append(question)
            if not is_empty(values.get(question["key"])):
                known[question["key"]] = values[question["key"]]
    return visible


def stored_values(parts: list[Part], answers: dict) -> dict[str, dict]:
    """The answers as values by part scope and key (under the wording of each part's questions)."""
    values = {}
    for part in parts:
        line_id = _line_id(part)
        values[part.scope] = {}
        for question in part.questions:
            answer = answers.get((line_id, question["key"]))
            if answer is not None:
                values[part.scope][question["key"]] = load(question, answer.value)
    return values


def read_answers(case, parts: list[Part], formdata) -> tuple[dict, dict, dict]:
    """What the form posted: (raw by field name, values by scope and key, errors by field name), the
    errors of hidden questions left out."""
    raws, values, errors = {}, {}, {}
    for part in parts:
        values[part.scope] = {}
        for question in part.questions:
            name = part.name(question)
            raws[name] = read_raw(question, name, formdata)
            try:
                values[part.scope][question["key"]] = parse(question, raws[name], case.documents)
            except ActionRefused as refused:
                errors[name] = refused.message
                values[part.scope][question["key"]] = None
    common_values = values.get(COMMON, {})
    for part in parts:
        visible = {question["key"] for question in _visible(part, values[part.scope], common_values)}
        for question in part.questions:
            if question["key"] not in visible:
                errors.pop(part.name(question), None)
    return raws, values, errors


def save_answers(actor: User, case, formdata, *, expected_version=None) -> None:
    """Store what the form posted: every visible answer read by its type's rule; nothing is written
    when one is wrong (``AnswersRefused``). A hidden or emptied question loses its answer."""
    check_editable(actor, case)
    check_version(case, expected_version)
    answers = load_answers(case)
    parts = layout(case, load_versions(case))
    _, values, errors = read_answers(case, parts, formdata)
    if errors:
        raise AnswersRefused(errors)
    common_values = values.get(COMMON, {})
    kept = set()
    for part in parts:
        line_id = _line_id(part)
        for question in _visible(part, values[part.scope], common_values):
            value = values[part.scope].get(question["key"])
            if is_empty(value):
                continue
            version = part.version_of.get(question["key"]) or part.version
            answer = answers.get((line_id, question["key"]))
            if answer is None:
                answer = Answer(case_id=case.id, line_id=line_id, question_key=question["key"])
                db.session.add(answer)
            answer.version_id, answer.value, answer.updated_at = version.id, dump(question, value), utcnow()
            kept.add((line_id, question["key"]))
    asked = {(_line_id(part), question["key"]) for part in parts for question in part.questions}
    for key, answer in answers.items():
        if key in asked and key not in kept:
            db.session.delete(answer)
    case.updated_at = utcnow()
    db.session.flush()


def missing_answers(case) -> list[str]:
    """Every required answer still missing among the visible questions, one sentence per scheme."""
    if not any(line.questionnaire_version_id for line in case.lines):
        return []
    answers = load_answers(case)
    versions = load_versions(case)
    parts = layout(case, versions)
    values = stored_values(parts, answers)
    common_values = values.get(COMMON, {})
    problems = []
    for line in sorted(case.lines, key=lambda line: line.position):
        version = versions.get(line.questionnaire_version_id)
        if version is None:
            continue
        part = next((part for part in parts if part.line is line), None)
        labels = [question["label"] for question in version.questions()
                  if question.get("standard") and question.get("required")
                  and is_empty(common_values.get(question["key"]))]
        if part is not None:
            labels += [question["label"] for question in _visible(part, values[part.scope], common_values)
                       if question.get("required") and is_empty(values[part.scope].get(question["key"]))]
        if labels:
            problems.append(f"Questionnaire « {line.scheme.name} » : répondez à "
                            + ", ".join(f"« {label} »" for label in labels) + ".")
    return problems


# --------------------------------------------------------------------------- shown on the pages

def form_raws(parts: list[Part], answers: dict) -> dict:
    """What the questionnaire page shows in each field for the stored answers."""
    values = stored_values(parts, answers)
    return {part.name(question): as_raw(question, values[part.scope].get(question["key"]))
            for part in parts for question in part.questions}


@dataclass
class Asked:
    """A visible question of the dossier, worded as in the version answered (else the one asked)."""

    part: Part
    question: dict
    version: QuestionnaireVersion | None  # the version whose wording is shown
    value: object  # the typed value, None when unanswered


def asked_questions(case) -> list[tuple[Part, list[Asked]]]:
    """Every question the dossier shows now, part by part, with its answer and the wording of the
    version answered (an answer given under version 1 keeps version 1's wording). Two statements."""
    answers = load_answers(case)
    versions = load_versions(case, answers.values())
    parts = layout(case, versions)
    values = stored_values(parts, answers)
    common_values = values.get(COMMON, {})
    asked = []
    for part in parts:
        items = []
        for question in _visible(part, values[part.scope], common_values):
            answer = answers.get((_line_id(part), question["key"]))
            version = part.version_of.get(question["key"]) or part.version
            worded = question
            if answer is not None and answer.version_id in versions:
                version = versions[answer.version_id]
                worded = next((q for q in version.questions() if q["key"] == question["key"]), question)
            items.append(Asked(part, worded, version, values[part.scope].get(question["key"])))
        asked.append((part, items))
    return asked


@dataclass
class ShownAnswer:
    question: dict  # with the wording of the version answered
    text: str
    rows: list | None = None  # a repeated group: [[cell text, …], …]


def shown_answers(case) -> list[tuple[Part, list[ShownAnswer]]]:
    """The dossier's answers read-only, part by part, with the wording of the version answered."""
    result = []
    for part, items in asked_questions(case):
        shown_items = []
        for item in items:
            worded, value = item.question, item.value
            rows = None
            if worded["type"] == "group" and value:
                rows = [[shown(column, row.get(column["key"]), case.documents)
                         for column in worded["columns"]] for row in value]
            shown_items.append(ShownAnswer(worded, shown(worded, value, case.documents), rows))
        result.append((part, shown_items))
    return result
