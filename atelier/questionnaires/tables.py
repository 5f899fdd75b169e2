"""The answers of many funding lines at once, as the exports write them: one column per question,
read in a fixed number of statements whatever the number of lines, questions and answers.

A standard question is answered once per dossier (``line_id`` NULL): its column is shared by every
scheme that asks it and filled for each line of a dossier that answered it. A scheme's own question
has a column of its own. A cell holds the value typed as its question says (``types.load``) with the
question as worded in the version answered; a column is headed by the wording(s) of the versions
answered (the committee pack) or by the latest wording (the portfolio, see ``latest_questions``).
"""
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import or_, select

from ..extensions import db
from .models import Answer, QuestionnaireVersion
from .types import is_empty, load, shown

GROUP_ROW_SEPARATOR = "\n"
GROUP_CELL_SEPARATOR = " — "


@dataclass
class AnswerColumn:
    """One question as a column: ``scheme`` is None for a standard question."""

    key: str
    scheme: object
    question: dict  # as the first version met words it (its type makes the cells)
    labels: list[str] = field(default_factory=list)  # the wordings of the versions answered, in order

    @property
    def ident(self) -> tuple:
        return ("standard", self.key) if self.scheme is None else ("own", self.scheme.id, self.key)

    @property
    def title(self) -> str:
        return " / ".join(self.labels or [self.question["label"]])


def _column_id(question: dict, scheme) -> tuple:
    return ("standard", question["key"]) if question.get("standard") else ("own", scheme.id, question["key"])


def _worded(versions: dict, answer: Answer, fallback: dict) -> dict:
    version = versions.get(answer.version_id)
    if version is None:
        return fallback
    return next((question for question in version.questions() if question["key"] == fallback["key"]),
                fallback)


def line_answers(lines) -> tuple[list[AnswerColumn], dict[int, dict[tuple, tuple[dict, object]]]]:
    """The columns of the questions the lines' schemes asked (in the order met: line by line, then the
    questionnaire's), and per line id ``{column ident: (question as answered, value)}``. Each line's
    ``case_id``, ``scheme`` and ``questionnaire_version_id`` are read; two statements."""
    lines = list(lines)
    if not lines:
        return [], {}
    case_ids = sorted({line.case_id for line in lines})
    line_ids = sorted(line.id for line in lines)
    answers = list(db.session.scalars(select(Answer).where(
        Answer.case_id.in_(case_ids), or_(Answer.line_id.is_(None), Answer.line_id.in_(line_ids)))))
    version_ids = {line.questionnaire_version_id for line in lines}
    version_ids |= {answer.version_id for answer in answers}
    version_ids.discard(None)
    versions = {version.id: version for version in db.session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_(sorted(version_ids))))}
    by_place = {(answer.case_id, answer.line_id, answer.question_key): answer for answer in answers}

    columns: dict[tuple, AnswerColumn] = {}
    for line in lines:
        version = versions.get(line.questionnaire_version_id)
        for question in version.questions() if version is not None else ():
            ident = _column_id(question, line.scheme)
            if ident not in columns:
                scheme = None if question.get("standard") else line.scheme
                columns[ident] = AnswerColumn(question["key"], scheme, question)
    rows: dict[int, dict] = {}
    for line in lines:
        cells = rows.setdefault(line.id, {})
        for ident, column in columns.items():
            if column.scheme is not None and column.scheme.id != line.scheme_id:
                continue
            answer = by_place.get((line.case_id, None if column.scheme is None else line.id, column.key))
            if answer is None:
                continue
            worded = _worded(versions, answer, column.question)
            cells[ident] = (worded, load(worded, answer.value))
            if worded["label"] not in column.labels:
                column.labels.append(worded["label"])
    return list(columns.values()), rows


def cell_of(question: dict, value) -> tuple[str, object]:
    """``(kind, value)`` for a spreadsheet cell: ``money``, ``count``, ``date``, ``percent`` (a
    fraction: 12.5 % is 0.125) keep their numbers; anything else is the text a page shows — a
    repeated group one row per line, its filled cells joined (« Presse — Amada — 12 500,00 € »)."""
    if is_empty(value):
        return "text", None
    kind = question["type"]
    if kind == "amount":
        return "money", value
    if kind == "integer":
        return "count", value
    if kind == "date":
        return "date", value
    if kind == "percentage":
        return "percent", value / Decimal(100)
    if kind == "document":
        return "text", f"Pièce n° {value} du dossier"
    if kind == "group":
        lines = []
        for row in value:
            filled = [shown(column, row.get(column["key"])) for column in question.get("columns", [])
                      if not is_empty(row.get(column["key"]))]
            lines.append(GROUP_CELL_SEPARATOR.join(filled))
        return "text", GROUP_ROW_SEPARATOR.join(lines)
    return "text", shown(question, value)


# --------------------------------------------------------------------------- one scheme, streamed

def scheme_versions(scheme) -> list[QuestionnaireVersion]:
    """Every published version of the scheme's questionnaire, oldest first (one statement): the last
    one's questions head the columns, each answer is read with the version it answered."""
    query = (select(QuestionnaireVersion).where(QuestionnaireVersion.scheme_id == scheme.id)
             .order_by(QuestionnaireVersion.number))
    return list(db.session.scalars(query))


def answer_cells(questions: list[dict], versions: dict, answers: dict,
                 line_id: int) -> list[tuple[str, object]]:
    """The ``cell_of`` of each question for one line, from its dossier's answers
    ``{(line id or None, key): (version id, JSON value)}``: a standard question's answer is the dossier's."""
    cells = []
    for question in questions:
        found = answers.get((None if question.get("standard") else line_id, question["key"]))
        if found is None:
            cells.append(("text", None))
            continue
        version = versions.get(found[0])
        worded = question if version is None else next(
            (asked for asked in version.questions() if asked["key"] == question["key"]), question)
        cells.append(cell_of(worded, load(worded, found[1])))
    return cells
