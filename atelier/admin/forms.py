from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from ..agencies.models import AGENCY_KINDS
from ..agencies.operations import parse_kind, parse_optional_email, parse_optional_siret, parse_slug
from ..auth.operations import MIN_PASSWORD_LENGTH, check_password_rules, normalise_email
from ..common import ActionRefused
from ..companies.forms import AmountField, Checked, options, text_rule
from ..companies.operations import parse_amount
from ..schemes.models import DOCUMENT_KINDS, INSTRUMENTS, REGIMES
from ..schemes.operations import parse_code, parse_date, parse_positive_amount, parse_rate_percent

ACCOUNT_KINDS = {
    "agent": "Agent d'un organisme",
    "secretary": "Agent, secrétaire de comité",
    "admin": "Administrateur de la plateforme",
}


class PercentField(StringField):
    """A share stored as ``0.405``, typed and shown as a percentage (``40,5``)."""

    def _value(self):
        if isinstance(self.data, Decimal):
            text = f"{self.data * 100:f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return text.replace(".", ",")
        return super()._value()


class DateInputField(StringField):
    """A ``<input type=date>`` read by ``parse_date`` (French messages, ``jj/mm/aaaa`` accepted too)."""

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {"type": "date", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choice_rule(choices: dict, message: str):
    def rule(value, field):
        if value not in choices:
            raise ActionRefused(message, field)
    return rule


class AgencyForm(FlaskForm):
    name = StringField("Nom", validators=[Checked(text_rule("Le nom", 200))])
    short_name = StringField("Nom court (affiché dans les listes)",
                             validators=[Checked(text_rule("Le nom court", 60))])
    slug = StringField("Identifiant", validators=[Checked(parse_slug)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    kind = SelectField("Type d'organisme", choices=options(AGENCY_KINDS.items(), empty="— Choisissez —"),
                       validate_choice=False, validators=[Checked(parse_kind)])
    siret = StringField("SIRET (facultatif)", validators=[Checked(parse_optional_siret, required=False)],
                        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    email = EmailField("Adresse électronique de contact (facultatif)",
                       validators=[Checked(parse_optional_email, required=False)])

    def agency_fields(self) -> dict:
        return {name: self[name].data for name in ("name", "short_name", "slug", "kind", "siret", "email")}


class UserForm(FlaskForm):
    name = StringField("Prénom et nom", validators=[Checked(text_rule("Le nom", 200))])
    email = EmailField("Adresse électronique",
                       validators=[DataRequired("Indiquez l'adresse électronique."),
                                   Checked(lambda value, field: normalise_email(value))])
    kind = SelectField("Type de compte", choices=options(ACCOUNT_KINDS.items(), empty="— Choisissez —"),
                       validate_choice=False,
                       validators=[Checked(_choice_rule(ACCOUNT_KINDS, "Choisissez un type de compte."))])
    agency = SelectField("Organisme (pour un agent)", validate_choice=False)
    password = PasswordField(f"Mot de passe provisoire ({MIN_PASSWORD_LENGTH} caractères au moins)",
                             validators=[DataRequired("Choisissez un mot de passe provisoire."),
                                         Checked(lambda value, field: check_password_rules(value))],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Confirmez le mot de passe",
                            validators=[DataRequired("Confirmez le mot de passe."),
                                        EqualTo("password", "Les deux mots de passe sont différents.")],
                            render_kw={"autocomplete": "new-password"})

    def validate_agency(self, field):
        if self.kind.data in ("agent", "secretary") and not field.data:
            raise StopValidation("Un agent doit appartenir à un organisme : choisissez-le.")


class CommitteeForm(FlaskForm):
    agency_id = SelectField("Organisme", validate_choice=False,
                            validators=[DataRequired("Choisissez l'organisme dont dépend le comité.")])
    name = StringField("Nom du comité", validators=[Checked(text_rule("Le nom", 200))])
    slug = StringField("Identifiant", validators=[Checked(lambda value, field: parse_slug(value, field, 80))],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})


class SchemeForm(FlaskForm):
    code = StringField("Code", validators=[Checked(parse_code)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    name = StringField("Nom", validators=[Checked(text_rule("Le nom", 200))])
    agency_id = SelectField("Organisme", validate_choice=False,
                            validators=[DataRequired("Choisissez l'organisme qui gère le dispositif.")])
    committee_id = SelectField("Comité de décision", validate_choice=False,
                               validators=[DataRequired("Choisissez le comité qui décide des demandes.")])
    instrument = SelectField("Type d'aide", choices=options(INSTRUMENTS.items(), empty="— Choisissez —"),
                             validate_choice=False,
                             validators=[Checked(_choice_rule(INSTRUMENTS, "Choisissez un type d'aide."))])
    regime = SelectField("Régime d'aide d'État", choices=options(REGIMES.items(), empty="— Choisissez —"),
                         validate_choice=False,
                         validators=[Checked(_choice_rule(REGIMES, "Choisissez un régime d'aide d'État."))])
    ceiling = AmountField("Plafond par demande (en euros)",
                          validators=[Checked(lambda v, f: parse_positive_amount(v, f, "Le plafond"))],
                          render_kw={"inputmode": "decimal"})
    max_rate = PercentField("Taux maximal de la dépense éligible (en %)",
                            validators=[Checked(parse_rate_percent)], render_kw={"inputmode": "decimal"})
    annual_budget = AmountField("Enveloppe annuelle (en euros, facultatif)",
                                validators=[Checked(lambda v, f: parse_amount(v, f, "L'enveloppe annuelle")
                                                    if (v or "").strip() else None, required=False)],
                                render_kw={"inputmode": "decimal"})
    opens_on = DateInputField("Date d'ouverture",
                              validators=[Checked(lambda v, f: parse_date(v, f, "La date d'ouverture"))])
    closes_on = DateInputField("Date de clôture (facultative)",
                               validators=[Checked(lambda v, f: parse_date(v, f, "La date de clôture",
                                                                           required=False), required=False)])
    required_documents = CheckboxesField("Pièces à joindre", choices=options(DOCUMENT_KINDS.items()),
                                         validate_choice=False)
    description = TextAreaField("Description", render_kw={"rows": 8})

    def scheme_fields(self) -> dict:
        return {name: self[name].data for name in (
            "code", "name", "instrument", "regime", "ceiling", "max_rate", "annual_budget", "opens_on",
            "closes_on", "required_documents", "description")}
