"""The form plumbing every page shares: the base form, text filters, choices, dates, amounts, ids.

Forms check the shape of what was typed and show every mistake at once, in French, beside its
field; the rules themselves live in the operations (``Checked`` runs one of them in the form too),
which run again whatever the path and answer beside the same field (``web.perform``).
"""
import unicodedata
from datetime import date
from decimal import Decimal

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS
from werkzeug.datastructures import CombinedMultiDict
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, StopValidation

from .common import DATE_FORMATS, ActionRefused, parse_amount, read_date
from .inputs import refused_fields

INVALID_DATE = "Indiquez une date valide (jj/mm/aaaa)."
IMPLAUSIBLE_DATE = "Indiquez une date entre 1900 et 2100."


class FrenchForm(FlaskForm):
    """The base of every form: WTForms' own messages in French too, for the few we do not write.

    A field whose posted value held a character the input rule refuses (``inputs.py``: NUL, lone
    surrogate) fails validation with that rule's message beside it.
    """

    class Meta:
        locales = ("fr_FR", "fr")

        def get_translations(self, form):  # WTForms' catalogue (Flask-WTF's needs Flask-Babel)
            return DefaultMeta.get_translations(self, form)

        def wrap_formdata(self, form, formdata):
            """A page reads what a browser posts — fields and files — never a JSON body (which
            Flask-WTF would take, unchecked, as the form)."""
            if formdata is not None and not hasattr(formdata, "getlist"):  # Flask-WTF's "from the request"
                if request.method not in SUBMIT_METHODS:
                    return None
                if request.files:
                    return CombinedMultiDict((request.files, request.form))
                return request.form or None
            return formdata

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        refused = refused_fields()
        for field in self:
            if field.name in refused:
                field.errors = [refused[field.name]]
                valid = False
        return valid


# --------------------------------------------------------------------------- filters and coercion

def one_line(value):
    """Typed text without control characters (PostgreSQL refuses NUL; the others are noise)."""
    if not isinstance(value, str):
        return value
    return "".join(char for char in value if unicodedata.category(char) != "Cc").strip()


def multi_line(value):
    """Like ``one_line`` but keeping line breaks and tabs; Windows line ends become ``\\n``."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in value if char in "\n\t" or unicodedata.category(char) != "Cc").strip()


MAX_ID = 2**31 - 1  # ids and versions are INTEGER columns: PostgreSQL refuses more in a query


def optional_int(value):
    """A posted id as an ``int``; ``None`` for the empty placeholder and for anything forged,
    numbers too large for the database included."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if -MAX_ID <= number <= MAX_ID else None


def options(items, *, empty: str | None = None) -> list[SelectChoice]:
    """Select options from ``(value, label)`` or ``(value, label, group)`` tuples (a group is an
    ``<optgroup>``), after an empty first option labelled ``empty`` when given."""
    first = [SelectChoice("", empty)] if empty is not None else []
    return first + [SelectChoice(item[0], item[1], optgroup=item[2] if len(item) > 2 else None)
                    for item in items]


# --------------------------------------------------------------------------- validators

class Checked:
    """Runs a ``parse_*`` rule of an operations module: ``rule(data, field name, *args, **kwargs)``.

    The rule's French refusal becomes the field's error, so the form shows every mistake at once,
    and the same rule runs again in the operation (one source of truth).
    """

    def __init__(self, rule, *args, required: bool = True, **kwargs):
        self.rule, self.args, self.kwargs = rule, args, kwargs
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form, field):
        if field.process_errors:  # already refused as unreadable: one message is enough
            raise StopValidation()
        try:
            self.rule(field.data, field.name, *self.args, **self.kwargs)
        except ActionRefused as refused:
            raise StopValidation(refused.message) from None


class Present:
    """Required, for fields whose input is read into a value (dates, choices): ``message`` when
    nothing was given; if the input could not be read, its own message is enough."""

    field_flags = {"required": True}

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field):
        if not field.raw_data or not str(field.raw_data[0]).strip():
            field.errors[:] = []
            raise StopValidation(self.message)
        if field.errors:
            raise StopValidation()
        if field.data is None:
            raise StopValidation(self.message)


# --------------------------------------------------------------------------- fields

class AmountField(StringField):
    """A sum in euros, typed the French way (``12 500,50``, ``12500 €``) and shown back so (``12500,50``).

    ``subject`` names it in the messages (``Le coût éligible``). What is typed is judged at once by
    the amount rule of the operations (``common.parse_amount``: a number, two decimals at most, not
    too high; zero too with ``allow_zero``), whose words are shown; ``data`` stays the text typed,
    which the operation reads again with the same rule and its own (ceilings, sums).
    """

    def __init__(self, label=None, validators=None, *, subject: str = "Le montant", required: bool = False,
                 allow_zero: bool = False, **kwargs):
        kwargs.setdefault("filters", [one_line])
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        checks = [DataRequired(f"{subject} est obligatoire.")] if required else []
        checks.append(Checked(lambda value, field: value and parse_amount(
            value, field, label=subject, allow_zero=allow_zero), required=required))
        super().__init__(label, [*checks, *(validators or [])], **kwargs)

    def _value(self):
        if isinstance(self.data, Decimal):
            return f"{self.data:.2f}".replace(".", ",")
        return super()._value()


class DayField(DateField):
    """A date from a date picker (``aaaa-mm-jj``) or typed by hand (``jj/mm/aaaa``), between 1900
    and 2100 (anything else is a typing mistake). Empty gives ``None``: ``Present`` requires one.
    ``message`` is said of what is not a date."""

    def __init__(self, label=None, validators=None, *, message: str = INVALID_DATE, **kwargs):
        super().__init__(label, validators, format=list(DATE_FORMATS), invalid_value_message=message, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = " ".join(valuelist).strip()
        self.data = None
        if not text:
            return
        day = read_date(text)
        if day is None:
            raise ValueError(self.invalid_value_message)
        if not 1900 <= day.year <= 2100:
            raise ValueError(IMPLAUSIBLE_DATE)
        self.data = day

    def _value(self):
        if isinstance(self.data, date):  # what a date picker understands, even if typed jj/mm/aaaa
            return self.data.isoformat()
        return super()._value()


class VersionField(HiddenField):
    """The version of the dossier (or line) shown on the page: a stale one means "modifié entre-temps"."""

    def __init__(self, label="Version affichée", validators=None, *, required: bool = True, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required = required

    def process_formdata(self, valuelist):
        self.data = optional_int(valuelist[0]) if valuelist else None

    def pre_validate(self, form):
        if self.required and self.data is None:
            raise StopValidation("La page ne dit pas quelle version du dossier vous avez vue : "
                                 "rechargez-la, puis recommencez.")


class ChoiceField(SelectField):
    """One option of a list. With ``message`` the choice is required, and ``message`` is also said
    of a value that is not in the list."""

    def __init__(self, label=None, validators=None, *, message: str | None = None, **kwargs):
        kwargs.setdefault("choices", [])
        if message:
            validators = [Present(message), *(validators or [])]
            kwargs.setdefault("invalid_value_message", message)
            kwargs.setdefault("invalid_choice_message", message)
        super().__init__(label, validators, **kwargs)


class IdSelectField(ChoiceField):
    """A choice of a row by its id (company, scheme, agency, committee, meeting): ``data`` is an
    ``int`` or ``None``. Any id is taken unless ``validate_choice``: the operation checks it."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("coerce", optional_int)
        kwargs.setdefault("validate_choice", False)
        super().__init__(label, validators, **kwargs)
