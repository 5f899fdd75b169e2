"""A question as an accessible form field: a visible label (or legend), the help tied to the field by
``aria-describedby``, the error beside it and announced the same way. Works without JavaScript.

``name`` is the field's name in the posted form (``common-<key>`` or ``line<id>-<key>``); a repeated
group posts ``<name>-<row>-<column key>``.
"""
from markupsafe import Markup

from .types import MAX_ROWS

REQUIRED = Markup(' <span class="required">(obligatoire)</span>')


def _described(field_id: str, question: dict, error: str | None) -> tuple[Markup, Markup, Markup]:
    """The help paragraph, the error paragraph and the attributes that tie them to the field."""
    ids, help_html, error_html = [], Markup(""), Markup("")
    if question.get("help"):
        ids.append(f"{field_id}-help")
        help_html = Markup('<p class="hint" id="{}-help">{}</p>').format(field_id, question["help"])
    if error:
        ids.append(f"{field_id}-error")
        error_html = Markup('<p class="error-message" id="{}-error">{}</p>').format(field_id, error)
    attrs = Markup("")
    if ids:
        attrs += Markup(' aria-describedby="{}"').format(" ".join(ids))
    if error:
        attrs += Markup(' aria-invalid="true"')
    return help_html, error_html, attrs


def _input(question: dict, name: str, field_id: str, raw, attrs: Markup, documents, disabled: bool) -> Markup:
    kind = question["type"]
    off = Markup(" disabled") if disabled else Markup("")
    if kind == "long_text":
        return Markup('<textarea id="{}" name="{}" rows="5"{}{}>{}</textarea>').format(
            field_id, name, attrs, off, raw or "")
    if kind in ("choice", "document"):
        if kind == "choice":
            items = question.get("choices", [])
        else:
            items = [(str(document.id), document.filename) for document in documents
                     if document.kind == question.get("document_kind")]
        options = Markup('<option value="">— Choisissez —</option>')
        for value, label in items:
            selected = Markup(" selected") if str(value) == raw else Markup("")
            options += Markup('<option value="{}"{}>{}</option>').format(value, selected, label)
        return Markup('<select id="{}" name="{}"{}{}>{}</select>').format(field_id, name, attrs, off, options)
    html_type, extra = "text", Markup("")
    if kind == "date":
        html_type = "date"
    elif kind in ("integer", "siret"):
        extra = Markup(' inputmode="numeric"')
    elif kind in ("amount", "percentage"):
        extra = Markup(' inputmode="decimal"')
    if kind in ("text",) and question.get("max_length"):
        extra += Markup(' maxlength="{}"').format(question["max_length"])
    return Markup('<input type="{}" id="{}" name="{}" value="{}"{}{}{}>').format(
        html_type, field_id, name, raw or "", extra, attrs, off)


def _legend(question: dict) -> Markup:
    marker = REQUIRED if question.get("required") else ""
    return Markup("<legend>{}{}</legend>").format(question["label"], marker)


def render_question(question: dict, name: str, raw, error: str | None = None, documents=(),
                    disabled: bool = False) -> Markup:
    """The field of ``question`` showing ``raw`` (what was typed, or ``types.as_raw`` of the answer)."""
    field_id = f"q-{name}"
    help_html, error_html, attrs = _described(field_id, question, error)
    kind = question["type"]
    off = Markup(" disabled") if disabled else Markup("")
    classes = "field question" + (" field-error" if error else "")
    if kind in ("yes_no", "choices"):
        if kind == "yes_no":
            items, input_type = [("oui", "Oui"), ("non", "Non")], "radio"
        else:
            items, input_type = question.get("choices", []), "checkbox"
        picked = set(raw) if isinstance(raw, list) else {raw}
        boxes = Markup("")
        for number, (value, label) in enumerate(items):
            checked = Markup(" checked") if value in picked else Markup("")
            boxes += Markup('<div class="choice"><input type="{}" id="{}-{}" name="{}" value="{}"{}{}>'
                            '<label for="{}-{}">{}</label></div>').format(
                input_type, field_id, number, name, value, checked, off, field_id, number, label)
        return Markup('<fieldset class="{}" id="{}"{}>{}{}{}{}</fieldset>').format(
            classes, field_id, attrs, _legend(question), help_html, boxes, error_html)
    if kind == "group":
        return _render_group(question, name, field_id, raw, classes, attrs, help_html, error_html, disabled)
    label = Markup('<label for="{}">{}{}</label>').format(
        field_id, question["label"], REQUIRED if question.get("required") else "")
    field = _input(question, name, field_id, raw, attrs, documents, disabled)
    return Markup('<div class="{}">{}{}{}{}</div>').format(classes, label, help_html, field, error_html)


def group_rows_shown(question: dict, filled: int) -> int:
    """Rows a repeated group offers: those filled and two empty ones, within its bound."""
    return min(max(filled + 2, 3), min(question.get("max_rows") or MAX_ROWS, MAX_ROWS))


def _render_group(question, name, field_id, raw, classes, attrs, help_html, error_html, disabled) -> Markup:
    rows = raw if isinstance(raw, list) else []
    columns = question.get("columns", [])
    head = Markup("").join(Markup('<th scope="col">{}{}</th>').format(
        column["label"], REQUIRED if column.get("required") else "") for column in columns)
    body = Markup("")
    for number in range(group_rows_shown(question, len(rows))):
        row = rows[number] if number < len(rows) else {}
        cells = Markup("")
        for column in columns:
            cell_name = f"{name}-{number}-{column['key']}"
            cell_id = f"q-{cell_name}"
            # each cell is named by its column and row for screen readers
            cell_label = Markup('<label for="{}" class="visually-hidden">{}, ligne {}</label>').format(
                cell_id, column["label"], number + 1)
            cell = _input(column, cell_name, cell_id, row.get(column["key"], ""), Markup(""), (), disabled) \
                if column["type"] not in ("yes_no", "choices") else _input(
                    {**column, "type": "choice", "choices": [["oui", "Oui"], ["non", "Non"]]
                     if column["type"] == "yes_no" else column.get("choices", [])},
                    cell_name, cell_id, _first(row.get(column["key"], "")), Markup(""), (), disabled)
            cells += Markup("<td>{}{}</td>").format(cell_label, cell)
        body += Markup("<tr>{}</tr>").format(cells)
    limit = min(question.get("max_rows") or MAX_ROWS, MAX_ROWS)
    note = Markup('<p class="hint">Au plus {} lignes ; enregistrez pour en obtenir d\'autres.</p>').format(
        limit)
    table = Markup('<div class="table-wrap" tabindex="0" role="region" aria-labelledby="{}-caption">'
                   '<table class="table"><caption id="{}-caption">{}</caption><thead><tr>{}</tr></thead>'
                   '<tbody>{}</tbody></table></div>').format(
        field_id, field_id, question["label"], head, body)
    return Markup('<fieldset class="{} group" id="{}"{}>{}{}{}{}{}</fieldset>').format(
        classes, field_id, attrs, _legend(question), help_html, table, note, error_html)


def _first(raw):
    if isinstance(raw, list):
        return raw[0] if raw else ""
    return raw


def read_raw(question: dict, name: str, formdata):
    """What the form posted for ``question`` (see the module's naming)."""
    kind = question["type"]
    if kind == "choices":
        return formdata.getlist(name)
    if kind == "group":
        rows = []
        for number in range(min(question.get("max_rows") or MAX_ROWS, MAX_ROWS) + 1):
            prefix = f"{name}-{number}-"
            if not any(key.startswith(prefix) for key in formdata.keys()):
                break
            rows.append({column["key"]: (formdata.getlist(prefix + column["key"])
                                         if column["type"] == "choices"
                                         else formdata.get(prefix + column["key"], ""))
                         for column in question.get("columns", [])})
        return rows
    return formdata.get(name, "")


