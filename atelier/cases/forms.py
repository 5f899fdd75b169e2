"""Forms of the applicant's pages. They check the shape of the input (a date is a date, a choice is
in the list, an amount is written like a number); the rules themselves live in the operations,
whose refusals are shown beside the same fields (``web.perform``)."""
import re
import unicodedata

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from ..companies.models import MINIMIS_REGIMES
from .documents import ACCEPTED_EXTENSIONS

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
INVALID_DATE = "Indiquez une date valide (jj/mm/aaaa)."
# Digits with optional thousands spaces, one decimal comma or point: no exponent, no "NaN".
AMOUNT_PATTERN = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f]")
MAX_INTEGER_DIGITS = 12


def one_line(value):
    """Typed text without control characters (PostgreSQL refuses NUL; the others are noise)."""
    if not isinstance(value, str):
        return value
    return "".join(char for char in value if unicodedata.category(char) != "Cc").strip()


def multi_line(value):
    """Like ``one_line`` but keeping line breaks and tabs; Windows line ends become ``\n``."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in value if char in "\n\t" or unicodedata.category(char) != "Cc").strip()


def optional_int(value):
    """Coerce a choice to ``int``, the empty placeholder to ``None``."""
    if value in (None, ""):
        return None
    return int(value)


def amount_value(field) -> str | None:
    """The amount as typed, without its spaces (thousands separators), or None when empty."""
    text = AMOUNT_SPACES.sub("", field.data or "")
    return text or None


class AmountFormat:
    """An amount must look like a French number (``12 500,50``); its value is judged by the
    operation (positive, two decimals at most, ceilings), whose message shows beside the field."""

    def __init__(self, label: str):
        self.label = label

    def __call__(self, form, field):
        text = AMOUNT_SPACES.sub("", field.data or "")
        if not text:
            return
        if not AMOUNT_PATTERN.fullmatch(text):
            raise ValidationError(f"{self.label} doit être un nombre (par exemple 12500,50).")
        if len(re.split(r"[.,]", text.lstrip("+-"))[0].lstrip("0")) > MAX_INTEGER_DIGITS:
            raise ValidationError(f"{self.label} est trop élevé.")


class Present:
    """Required, for fields whose value is parsed (dates, choices): if the input could not be
    read, its own message is enough."""

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


class PlausibleDate:
    """Dates between 1900 and 2100: anything else is a typing mistake."""

    def __call__(self, form, field):
        if field.data is not None and not 1900 <= field.data.year <= 2100:
            raise ValidationError("Indiquez une date entre 1900 et 2100.")


def date_field(label: str, *validators) -> DateField:
    return DateField(label, validators=[*validators, PlausibleDate()], format=DATE_FORMATS,
                     invalid_value_message=INVALID_DATE)


def choice_field(label: str, required_message: str, **kwargs) -> SelectField:
    return SelectField(label, validators=[Present(required_message)],
                       invalid_value_message=required_message, invalid_choice_message=required_message,
                       **kwargs)


def amount_field(label: str, message_label: str, *, required: bool) -> StringField:
    validators = [DataRequired(f"{message_label} est obligatoire.")] if required else [Optional()]
    too_long = Length(max=40, message=f"{message_label} est trop long.")
    return StringField(label, validators=[*validators, too_long, AmountFormat(message_label)], filters=[one_line],
                       render_kw={"inputmode": "decimal", "autocomplete": "off"})


class FrenchForm(FlaskForm):
    """WTForms' own messages in French too, for the few we do not write ourselves."""

    class Meta:
        locales = ("fr_FR", "fr")

        def get_translations(self, form):
            return DefaultMeta.get_translations(self, form)


class ProjectForm(FrenchForm):
    title = StringField("Titre du projet", validators=[
        DataRequired("Le titre du projet est obligatoire."),
        Length(max=200, message="Le titre ne peut pas dépasser 200 caractères.")], filters=[one_line])
    description = TextAreaField("Description du projet", validators=[
        Optional(), Length(max=20000, message="La description ne peut pas dépasser 20 000 caractères.")],
        filters=[multi_line], render_kw={"rows": 8})
    starts_on = date_field("Date de début", Optional())
    ends_on = date_field("Date de fin prévue", Optional())
    eligible_cost = amount_field("Coût éligible du projet (en euros, hors taxes)", "Le coût éligible",
                                 required=False)


class EditProjectForm(ProjectForm):
    version = HiddenField()


class NewCaseForm(ProjectForm):
    company = choice_field("Entreprise qui porte le projet", "Choisissez l'entreprise.",
                           coerce=optional_int)


class LineForm(FrenchForm):
    scheme = choice_field("Dispositif d'aide", "Choisissez un dispositif d'aide dans la liste.",
                          coerce=optional_int)
    requested_amount = amount_field("Montant demandé (en euros)", "Le montant demandé", required=True)


class MinimisForm(FrenchForm):
    granted_on = date_field("Date d'octroi", Present("Indiquez la date d'octroi de l'aide."))
    granting_body = StringField("Organisme qui a accordé l'aide", validators=[
        DataRequired("L'organisme qui a accordé l'aide est obligatoire."),
        Length(max=200, message="Le nom de l'organisme ne peut pas dépasser 200 caractères.")],
        filters=[one_line])
    amount = amount_field("Montant de l'aide (équivalent-subvention brut, en euros)", "Le montant",
                          required=True)
    regime = choice_field("Régime de minimis", "Choisissez un régime de minimis.",
                          choices=[SelectChoice("", "— Choisissez —"),
                                   *(SelectChoice(code, label) for code, label in MINIMIS_REGIMES.items())],
                          coerce=lambda value: value or None)


class NoMinimisForm(FrenchForm):
    confirm = BooleanField("Je déclare que l'entreprise n'a reçu aucune aide de minimis au cours des "
                           "trois dernières années.",
                           validators=[DataRequired("Cochez la case pour confirmer cette déclaration.")])


class DocumentForm(FrenchForm):
    kind = choice_field("Type de pièce", "Choisissez le type de pièce dans la liste.")
    file = FileField("Fichier", validators=[FileRequired("Choisissez un fichier à envoyer.")],
                     render_kw={"accept": ",".join(ACCEPTED_EXTENSIONS)})


class MessageForm(FrenchForm):
    body = TextAreaField("Votre message", validators=[
        DataRequired("Le message est vide."),
        Length(max=10000, message="Le message ne peut pas dépasser 10 000 caractères.")],
        filters=[multi_line], render_kw={"rows": 5})
    internal = BooleanField("Note interne (visible des seuls agents des organismes)")


def scheme_choices(schemes) -> list[SelectChoice]:
    """Each scheme with its agency and instrument, grouped by agency."""
    from ..formatting import money, percent

    choices = [SelectChoice("", "— Choisissez un dispositif —")]
    for scheme in schemes:
        choices.append(SelectChoice(
            str(scheme.id),
            f"{scheme.name} — {scheme.agency.short_name} — {scheme.instrument_label} "
            f"(jusqu'à {money(scheme.ceiling)}, {percent(scheme.max_rate)} du coût éligible)",
            optgroup=scheme.agency.name))
    return choices
