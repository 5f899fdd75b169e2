"""A dossier's answers as the partner API reads and writes them.

Read: every question the dossier shows now (the common questions with no line, then each line's own),
each with the wording and number of the version answered, its type and its typed value (``types.dump``).
Write: the same list, sent back whole like the questionnaire page's form: each value becomes what the
page would have posted (``types.from_json``) and goes through the page's very reading and saving
(``answers.read_answers`` / ``answers.save_answers``): same type rules, same conditions (a hidden
question keeps no answer), same editable states, same optimistic version. A question left out, or
sent as null, loses its answer.
"""
from werkzeug.datastructures import MultiDict

from ..cases.events import check_editable, check_version
from ..common import ActionRefused
from .answers import AnswersRefused, Part, asked_questions, layout, load_versions, read_answers, save_answers
from .types import dump, from_json


def answers_json(case) -> list[dict]:
    """The dossier's questions and answers for the API, in the order of the questionnaire page."""
    items = []
    for part, asked in asked_questions(case):
        for item in asked:
            question = item.question
            data = {"line_id": part.line.id if part.line is not None else None,
                    "question_key": question["key"], "label": question["label"], "type": question["type"],
                    "required": bool(question.get("required")),
                    "version": item.version.number if item.version is not None else None,
                    "value": dump(question, item.value)}
            if question["type"] in ("choice", "choices"):
                data["choices"] = [value for value, _ in question.get("choices", [])]
            if question["type"] == "group":
                data["columns"] = [{"key": column["key"], "label": column["label"], "type": column["type"]}
                                   for column in question.get("columns", [])]
            items.append(data)
    return items


def _unknown(key, line_id, parts: list[Part]) -> str:
    common = {question["key"] for part in parts if part.line is None for question in part.questions}
    own = {question["key"] for part in parts if part.line is not None for question in part.questions}
    if line_id is not None and key in common:
        return "Cette question est posée une fois pour tout le dossier : envoyez-la avec « line_id » null."
    if line_id is None and key in own:
        return "Cette question est propre à une demande : indiquez son « line_id »."
    return "Ce dossier ne pose pas cette question (voyez « answers » du dossier)."


def _post(formdata: MultiDict, question: dict, name: str, raw) -> None:
    """Put ``raw`` where the questionnaire page's form would have posted it (``rendering.read_raw``)."""
    if question["type"] == "choices":
        formdata.setlist(name, raw)
    elif question["type"] == "group":
        for number, row in enumerate(raw):
            for column in question.get("columns", []):
                cell = row.get(column["key"], "")
                cells = cell if isinstance(cell, list) else [cell]
                formdata.setlist(f"{name}-{number}-{column['key']}", cells)
    else:
        formdata[name] = raw


def save_json_answers(actor, case, items: list[dict], *, expected_version=None) -> None:
    """Store the answers an API client sent (the list ``answers_json`` gives). Nothing is written when
    one is wrong: ``AnswersRefused`` whose ``errors`` name each item (``answers/<n>``) and its question."""
    check_editable(actor, case)
    check_version(case, expected_version)
    parts = layout(case, load_versions(case))
    asked = {(part.line.id if part.line is not None else None, question["key"]): (part, question)
             for part in parts for question in part.questions}
    formdata, errors, sent = MultiDict(), {}, {}
    for number, item in enumerate(items):
        field, key = f"answers/{number}", (item.get("line_id"), item.get("question_key"))
        if key in sent.values():
            errors[field] = "Cette question figure deux fois dans la liste."
            continue
        if key not in asked:
            errors[field] = _unknown(key[1], key[0], parts)
            continue
        part, question = asked[key]
        sent[field] = key
        try:
            _post(formdata, question, part.name(question), from_json(question, item.get("value")))
        except ActionRefused as refused:
            errors[f"{field}/value"] = f"« {question['label']} » : {refused.message}"
    if not errors:
        fields = {asked[key][0].name(asked[key][1]): field for field, key in sent.items()}
        _, _, refused = read_answers(case, parts, formdata)
        for name, message in refused.items():
            question = next(q for part in parts for q in part.questions if part.name(q) == name)
            errors[f"{fields.get(name, 'answers')}/value"] = f"« {question['label']} » : {message}"
    if errors:
        raise AnswersRefused(errors)
    save_answers(actor, case, formdata, expected_version=expected_version)
