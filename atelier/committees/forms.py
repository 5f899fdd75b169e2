from datetime import date, datetime

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, StopValidation

from .operations import PLACE_MAX_LENGTH


class FrenchDateField(DateField):
    """A date typed as ``AAAA-MM-JJ`` (the date picker) or ``JJ/MM/AAAA``, refused in French."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%d/%m/%Y"], **kwargs)

    def process_formdata(self, valuelist):
        text = " ".join(valuelist).strip() if valuelist else ""
        self.data = None
        if not text:
            return
        for pattern in self.strptime_format:
            try:
                self.data = datetime.strptime(text, pattern).date()
                return
            except ValueError:
                continue
        raise ValueError("Cette date n'est pas valide : écrivez-la sous la forme jj/mm/aaaa.")

    def _value(self):
        if isinstance(self.data, date):
            return self.data.isoformat()
        return super()._value()


def _committee_id(value):
    """The posted committee id, or ``None`` when it is not a number (never a 500)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Required:
    def __init__(self, message: str):
        self.message = message
        self.field_flags = {"required": True}

    def __call__(self, form, field):
        if field.process_errors:  # already refused as unreadable: one message is enough
            raise StopValidation()
        if field.data in (None, ""):
            raise StopValidation(self.message)


class MeetingForm(FlaskForm):
    committee = SelectField("Comité", coerce=_committee_id, validate_choice=False,
                            validators=[Required("Choisissez le comité.")])
    meets_on = FrenchDateField("Date de la séance", validators=[Required("Indiquez la date de la séance.")])
    place = StringField("Lieu", validators=[Length(max=PLACE_MAX_LENGTH,
                                                   message=f"Le lieu ne peut pas dépasser "
                                                           f"{PLACE_MAX_LENGTH} caractères.")],
                        render_kw={"autocomplete": "off"})
