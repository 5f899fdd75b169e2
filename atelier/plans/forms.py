"""The plan page's and the execution report's forms.

Rows are plain numbered fields (``expenses-0-amount``, ``resources-2-status``…) so that a row is added
or removed by a submit button, without JavaScript: the page comes back with one row more or less,
nothing saved until « Enregistrer ». Each field is checked by the operations' own rules and its
message shown beside it.
"""
import re

from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from ..common import ActionRefused
from ..forms import FrenchForm, VersionField, multi_line
from ..inputs import refused_fields
from .models import MAX_ROWS
from .operations import EXPLANATION_MAX, read_expense, read_resource

EXPENSE_FIELDS = ("category", "label", "amount")
RESOURCE_FIELDS = ("kind", "label", "amount", "status")
TOO_LONG = f"{EXPLANATION_MAX} caractères au plus."
_ROW_FIELD = re.compile(r"(expenses|resources)-([0-9]{1,4})-([a-z]+)")


class PlanForm(FrenchForm):
    version = VersionField(required=False)
    gap_explanation = TextAreaField(
        "Explication de l'écart entre ressources et dépenses (seulement si le plan n'est pas équilibré)",
        validators=[Optional(), Length(max=EXPLANATION_MAX, message=TOO_LONG)],
        filters=[multi_line], render_kw={"rows": 3})


class ReportForm(FrenchForm):
    comment = TextAreaField(
        "Commentaire (écarts avec le plan, ce qui a changé)",
        validators=[Optional(), Length(max=EXPLANATION_MAX, message=TOO_LONG)],
        filters=[multi_line], render_kw={"rows": 3})


def posted_rows(form_data, side: str) -> list[dict]:
    """The rows of ``side`` as posted, in their order; a row left entirely blank is dropped."""
    names = EXPENSE_FIELDS if side == "expenses" else RESOURCE_FIELDS
    indexes = sorted({int(match.group(2)) for key in form_data
                      if (match := _ROW_FIELD.fullmatch(key)) and match.group(1) == side})
    rows = []
    for index in indexes[:MAX_ROWS + 1]:  # one more than allowed: the operation says it is too many
        row = {name: (form_data.get(f"{side}-{index}-{name}") or "").strip() for name in names}
        typed = {name: value for name, value in row.items() if name not in ("category", "kind", "status")}
        if any(typed.values()):
            rows.append(row)
    return rows


def row_errors(side: str, rows: list[dict]) -> dict[str, str]:
    """``{field name: French message}`` for every wrong field of ``rows`` (numbered as shown)."""
    names = EXPENSE_FIELDS if side == "expenses" else RESOURCE_FIELDS
    read = read_expense if side == "expenses" else read_resource
    errors = {}
    for index, row in enumerate(rows):
        prefix = f"{side}-{index}"
        # Each field on its own, so that every wrong field of a row gets its message at once.
        for name in names:
            trial = dict(_valid_row(side, row), **{name: row.get(name, "")})
            try:
                read(trial, prefix)
            except ActionRefused as refused:
                errors.setdefault(refused.field or prefix, refused.message)
    return errors


def input_rule_messages() -> list[str]:
    """The site-wide input rule's messages (a NUL typed…) about row fields."""
    return [message for name, message in refused_fields().items() if _ROW_FIELD.fullmatch(name)]


def _valid_row(side: str, row: dict) -> dict:
    """A row that passes, of the same kind as ``row`` (a public aid needs its funder and status)."""
    if side == "expenses":
        return {"category": "other", "label": "x", "amount": "1"}
    public = row.get("kind") == "public_aid"
    return {"kind": "public_aid" if public else "other", "label": "x", "amount": "1",
            "status": "obtained" if public else ""}
