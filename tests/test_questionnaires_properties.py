"""Properties of the question types, whatever the questionnaire: every question renders as an
accessible field, what a form shows for an answer reads back as that answer, answers go to JSON and
back unchanged; a hidden question is never required; a standard question shared by several schemes of
a dossier is asked once."""
import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from atelier.common import ActionRefused
from atelier.questionnaires import answers as answer_ops
from atelier.questionnaires.rendering import render_question
from atelier.questionnaires.types import COLUMN_TYPES, TYPES, as_raw, dump, is_empty, load, parse
from conftest import make_siret

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOCUMENTS = [SimpleNamespace(id=n, kind=kind, filename=f"piece-{n}.pdf")
             for n, kind in enumerate(["quotes", "kbis", "quotes", "rib"], start=1)]
WORDS = st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=60)
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


def _plain(text: str) -> str:
    return " ".join(text.split())


@st.composite
def questions(draw, kinds=tuple(TYPES), key=None):
    kind = draw(st.sampled_from(kinds))
    question = {"key": key or draw(KEYS), "type": kind, "label": draw(WORDS),
                "help": draw(st.one_of(st.just(""), WORDS)), "required": draw(st.booleans()),
                "standard": False}
    if kind in ("choice", "choices"):
        labels = draw(st.lists(WORDS, min_size=2, max_size=5))
        question["choices"] = [[f"c{n}", label] for n, label in enumerate(labels)]
    if kind == "document":
        question["document_kind"] = draw(st.sampled_from(["quotes", "kbis", "rib"]))
    if kind == "integer":
        question.update({"min": draw(st.one_of(st.none(), st.integers(-1000, 0))),
                         "max": draw(st.one_of(st.none(), st.integers(1, 10**6)))})
    if kind == "group":
        columns = draw(st.lists(questions(kinds=tuple(COLUMN_TYPES)), min_size=1, max_size=4,
                                unique_by=lambda column: column["key"]))
        question["columns"] = columns
        question["max_rows"] = draw(st.integers(1, 6))
    return question


@st.composite
def values(draw, question):
    """A value the question accepts (never empty)."""
    kind = question["type"]
    if kind in ("text", "long_text"):
        text = draw(WORDS.map(_plain).filter(bool))
        return text[:question.get("max_length") or 200]
    if kind == "integer":
        low, high = question.get("min"), question.get("max")
        return draw(st.integers(low if low is not None else -10**9, high if high is not None else 10**9))
    if kind == "amount":
        return Decimal(draw(st.integers(0, 10**13))) / 100
    if kind == "percentage":
        return Decimal(draw(st.integers(0, 10000))) / 100
    if kind == "date":
        return draw(st.dates(date(1900, 1, 1), date(2100, 12, 31)))
    if kind == "yes_no":
        return draw(st.booleans())
    if kind == "choice":
        return draw(st.sampled_from([value for value, _ in question["choices"]]))
    if kind == "choices":
        known = [value for value, _ in question["choices"]]
        picked = draw(st.sets(st.sampled_from(known), min_size=1))
        return [value for value in known if value in picked]
    if kind == "siret":
        return make_siret(draw(st.integers(1, 10**6)))
    if kind == "document":
        return draw(st.sampled_from([d.id for d in DOCUMENTS if d.kind == question["document_kind"]]))
    rows = draw(st.integers(1, question["max_rows"]))
    return [{column["key"]: draw(values(column)) for column in question["columns"]} for _ in range(rows)]


@SETTINGS
@given(st.data())
def test_any_question_renders_validates_and_round_trips(data):
    question = data.draw(questions())
    value = data.draw(values(question))
    raw = as_raw(question, value)
    assert parse(question, raw, DOCUMENTS) == value  # what the form shows reads back as the answer
    stored = json.loads(json.dumps(dump(question, value)))
    assert load(question, stored) == value
    assert parse(question, as_raw(question, None), DOCUMENTS) is None  # nothing typed, no answer
    field = str(render_question(question, f"common-{question['key']}", raw, "Message d'erreur", DOCUMENTS))
    field_id = f"q-common-{question['key']}"
    assert str(escape(question["label"])) in field
    assert f'id="{field_id}-error"' in field and 'aria-invalid="true"' in field
    described = f"{field_id}-help {field_id}-error" if question["help"] else f"{field_id}-error"
    assert f'aria-describedby="{described}"' in field
    if question["type"] not in ("choices", "yes_no", "group"):
        assert f'<label for="{field_id}">' in field
    else:
        assert "<legend>" in field


@SETTINGS
@given(st.data())
def test_anything_typed_is_read_or_refused_in_french(data):
    question = data.draw(questions())
    raw = data.draw(st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3),
                              st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=8)),
                                       max_size=8)))
    try:
        value = parse(question, raw, DOCUMENTS)
    except ActionRefused as refused:
        assert refused.message and refused.message[0].isupper()
    else:
        if value is not None:
            assert load(question, json.loads(json.dumps(dump(question, value)))) == value


def _part(scope, questions_):
    return answer_ops.Part(scope, "Partie", sections=[("", questions_)])


@SETTINGS
@given(st.data())
def test_conditions_never_require_a_hidden_question(data):
    """Whatever the answers, the required questions listed as missing are visible ones."""
    count = data.draw(st.integers(2, 8))
    built = []
    for n in range(count):
        question = data.draw(questions(kinds=("yes_no", "choice", "text"), key=f"k{n}"))
        if n and data.draw(st.booleans()):
            target = built[data.draw(st.integers(0, n - 1))]
            equals = "oui" if target["type"] == "yes_no" else (
                target["choices"][0][0] if target["type"] == "choice" else "x")
            question["condition"] = {"key": target["key"], "equals": equals}
        built.append(question)
    part = _part("line1", built)
    answered = {q["key"]: data.draw(st.one_of(st.none(), values(q))) for q in built}
    visible = answer_ops._visible(part, answered, {})
    visible_keys = {q["key"] for q in visible}
    for question in built:
        condition = question.get("condition")
        if condition and condition["key"] not in visible_keys:
            assert question["key"] not in visible_keys  # hidden controller: hidden question
    missing = [q["key"] for q in visible if q["required"] and is_empty(answered.get(q["key"]))]
    assert set(missing) <= visible_keys


@SETTINGS
@given(st.lists(st.sets(st.sampled_from(["headcount_fte", "turnover_last_year", "jobs_created_3y",
                                         "own_contribution"]), max_size=4), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=4, max_size=4))
def test_a_standard_question_shared_by_schemes_is_asked_once(picks, required):
    lines, versions = [], {}
    for n, keys in enumerate(picks, start=1):
        standard = [{"key": key, "type": "integer", "label": key, "required": required[i % 4],
                     "standard": True} for i, key in enumerate(sorted(keys))]
        own = [{"key": f"specific{n}", "type": "text", "label": "Propre", "required": False,
                "standard": False}]
        versions[n] = SimpleNamespace(id=n, number=1, structure={"sections": [{"title": "S", "questions":
                                                                               standard + own}]})
        lines.append(SimpleNamespace(id=n, position=n, questionnaire_version_id=n,
                                     scheme=SimpleNamespace(name=f"Dispositif {n}")))
    parts = answer_ops.layout(SimpleNamespace(lines=lines), versions)
    asked = [question["key"] for part in parts for question in part.questions]
    every_standard = set().union(*picks)
    for key in every_standard:
        assert asked.count(key) == 1
        common = next(part for part in parts if part.scope == answer_ops.COMMON)
        question = next(q for q in common.questions if q["key"] == key)
        # required if any scheme asking it requires it
        assert question["required"] == any(
            required[sorted(keys).index(key) % 4] for keys in picks if key in keys)
    specific = [key for key in asked if key.startswith("specific")]
    assert specific == [f"specific{n}" for n in range(1, len(picks) + 1)]
