"""The forms of the events people fire on a dossier (field names: see shared/design contract).

These forms only carry and coerce what was typed: the rules themselves (amount within the
proposal, meeting of the right committee, date not in the future…) live in
``cases/operations.py``, which answers in French beside the field it names.
"""
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, Length, Optional, StopValidation
from wtforms.widgets import DateInput

from .models import OPINION_VERDICTS

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3: tuples, and a dict of lists for groups
    SelectChoice = None

REASON_MAX = 5000
TOO_MUCH = Decimal("1e12")  # as in operations.as_amount
_FRENCH_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")


def optional_int(value):
    """A select's value as an id, or None for anything else (the operation then names the field)."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def make_choices(items) -> list | dict:
    """Select options from ``(value, label, group or None)`` triples, in the WTForms installed."""
    items = list(items)
    if SelectChoice is not None:
        return [SelectChoice(value=value, label=label, optgroup=group) for value, label, group in items]
    if any(group for _, _, group in items):
        grouped: dict = {}
        for value, label, group in items:
            grouped.setdefault(group or "", []).append((value, label))
        return grouped
    return [(value, label) for value, label, _ in items]


class VersionField(HiddenField):
    """The version of the case (or line) shown on the page: a stale one means "modifié entre-temps"."""

    def __init__(self, label="Version affichée", required=True, **kwargs):
        super().__init__(label, **kwargs)
        self.required = required

    def process_formdata(self, valuelist):
        self.data = optional_int(valuelist[0]) if valuelist else None

    def pre_validate(self, form):
        if self.required and self.data is None:
            raise StopValidation("La page ne dit pas quelle version du dossier vous avez vue : "
                                 "rechargez-la, puis recommencez.")


class IdSelectField(SelectField):
    """A choice of agency, scheme or meeting: any id is taken, the operation checks it."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("coerce", optional_int)
        kwargs.setdefault("validate_choice", False)
        kwargs.setdefault("choices", [])
        super().__init__(label, **kwargs)

    def process_formdata(self, valuelist):
        self.data = optional_int(valuelist[0]) if valuelist else None


def _not_absurd(form, field):
    """Reject amounts of a trillion euros or more before the operation has to round them."""
    text = (field.data or "").replace(" ", "").replace("\u202f", "").replace("\xa0", "").replace(",", ".")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return  # not a number: the operation says so, in its own words
    if value.is_finite() and abs(value) >= TOO_MUCH:
        raise StopValidation("Ce montant est trop élevé.")


class MoneyField(StringField):
    """An amount in euros, typed the French way or not (``12 500,50``): parsed by the operation."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        kwargs.setdefault("validators", [Length(max=30, message="Ce montant est trop long."), _not_absurd])
        super().__init__(label, **kwargs)


class DayField(StringField):
    """A date: ``YYYY-MM-DD`` from a date picker, or ``jj/mm/aaaa`` typed by hand."""

    widget = DateInput()

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "") or ""
        match = _FRENCH_DATE.match(text)
        if match:
            day, month, year = (int(part) for part in match.groups())
            text = f"{year:04d}-{month:02d}-{day:02d}"
        self.data = text.strip()

    def _value(self):
        if isinstance(self.data, date):
            return self.data.isoformat()
        return self.data or ""


class EventForm(FlaskForm):
    """An event with nothing to fill in: only the version seen."""

    class Meta:
        locales = ("fr_FR", "fr")

        def get_translations(self, form):  # WTForms' own French messages (no Flask-Babel here)
            return DefaultMeta.get_translations(self, form)

    version = VersionField()


def _reason(label: str, message: str | None):
    """A reason field, required when ``message`` (said when it is missing) is given."""
    validators = [Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au plus.")]
    if message:
        validators.insert(0, DataRequired(message))
    else:
        validators.insert(0, Optional())
    return TextAreaField(label, validators=validators)


def reason_form(label: str, message: str | None) -> type[EventForm]:
    return type("ReasonForm", (EventForm,), {"reason": _reason(label, message)})


# --------------------------------------------------------------------------- case events

class RequestInfoForm(EventForm):
    message = TextAreaField(
        "Message au demandeur : ce qui manque au dossier",
        validators=[DataRequired("Écrivez au demandeur ce qui manque au dossier."),
                    Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au plus.")])


class TransferLeadForm(EventForm):
    agency_id = IdSelectField("Organisme qui pilotera le dossier")
    reason = _reason("Motif du transfert", "Indiquez le motif du transfert.")


CASE_FORMS: dict[str, type[EventForm]] = {
    "submit": EventForm,
    "resubmit": EventForm,
    "accept": EventForm,
    "withdraw": reason_form("Motif du retrait (facultatif)", None),
    "request_info": RequestInfoForm,
    "transfer_lead": TransferLeadForm,
    "dismiss": reason_form("Motif du classement sans suite", "Indiquez le motif du classement sans suite."),
}


# --------------------------------------------------------------------------- line events

class TransferLineForm(EventForm):
    agency_id = IdSelectField("Organisme partenaire à qui confier la demande")
    scheme_id = IdSelectField("Nouveau dispositif (facultatif, de l'organisme choisi)")
    reason = _reason("Motif du transfert", "Indiquez le motif du transfert.")


class ProposeForm(EventForm):
    meeting_id = IdSelectField("Séance du comité")
    proposed_amount = MoneyField("Montant proposé (en euros)")


class ApproveForm(EventForm):
    granted_amount = MoneyField("Montant accordé (en euros)")
    gross_grant_equivalent = MoneyField("Équivalent-subvention brut (en euros, pour une avance ou un prêt)")


class SignAgreementForm(EventForm):
    signed_on = DayField("Date de signature de la convention")


class RecordPaymentForm(EventForm):
    amount = MoneyField("Montant versé (en euros)")
    paid_on = DayField("Date du versement")


LINE_FORMS: dict[str, type[EventForm]] = {
    "transfer": TransferLineForm,
    "propose": ProposeForm,
    "approve": ApproveForm,
    "reject": reason_form("Motif du refus", "Indiquez le motif du refus."),
    "adjourn": reason_form("Motif de l'ajournement", "Indiquez le motif de l'ajournement."),
    "sign_agreement": SignAgreementForm,
    "record_payment": RecordPaymentForm,
    "settle": EventForm,
    "dismiss": reason_form("Motif du classement sans suite", "Indiquez le motif du classement."),
    "reopen": reason_form("Motif de la réouverture (recours gracieux)",
                          "Indiquez le motif de la réouverture (recours gracieux)."),
}


# --------------------------------------------------------------------------- opinions

class AskOpinionForm(EventForm):
    agency_id = IdSelectField("Organisme à consulter")
    due_on = DayField("Avis attendu au plus tard le")
    question = TextAreaField("Question posée (facultatif)",
                             validators=[Optional(), Length(max=REASON_MAX,
                                                            message=f"{REASON_MAX} caractères au plus.")])


class GiveOpinionForm(EventForm):
    version = VersionField(required=False)  # an opinion is answered once: the operation refuses a second
    verdict = RadioField("Votre avis", validate_choice=False,
                         choices=make_choices((value, label, None)
                                              for value, label in OPINION_VERDICTS.items()))
    intended_amount = MoneyField("Cofinancement envisagé par votre organisme (en euros, facultatif)")
    comment = TextAreaField("Commentaire",
                            validators=[Optional(), Length(max=REASON_MAX,
                                                           message=f"{REASON_MAX} caractères au plus.")])


def display_form(form_class: type[EventForm], id_prefix: str, **data) -> EventForm:
    """A blank form to show on a page, with ids unique on that page (names stay those of the contract)."""
    form = form_class(formdata=None, meta={"csrf": False}, **data)
    for field in form:
        field.id = f"{id_prefix}-{field.name}"
        field.label.field_id = field.id
    return form


def error_messages(form) -> list[str]:
    """Each field error as "Label : message", so that a flash still says which field is wrong."""
    messages = []
    for field in form:
        for error in field.errors:
            if field.type in ("HiddenField", "VersionField", "CSRFTokenField"):
                messages.append(str(error))
            else:
                messages.append(f"{field.label.text} : {error}")
    messages.extend(str(error) for error in form.form_errors)
    return messages
