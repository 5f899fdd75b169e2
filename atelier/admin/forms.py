from decimal import Decimal

from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from ..agencies.models import AGENCY_KINDS
from ..agencies.operations import parse_kind, parse_optional_email, parse_optional_siret, parse_slug
from ..auth.forms import new_password, password_confirmation
from ..auth.operations import normalise_email
from ..common import ActionRefused
from ..companies.operations import clean_text
from ..forms import AmountField, Checked, DayField, FrenchForm, IdSelectField, Present, options
from ..schemes.models import INSTRUMENTS, REGIMES, REQUIRABLE_DOCUMENT_KINDS
from ..companies.models import SIZE_LABELS
from ..plans.models import EXPENSE_CATEGORIES
from ..schemes.operations import (parse_categories, parse_code, parse_optional_rate, parse_positive_amount,
                                  parse_rate_percent)
from ..schemes.rules import parse_departements, parse_excluded_naf, parse_sizes

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


class ListTextField(StringField):
    """A list stored as JSON (``["21", "25"]``), typed and shown as ``21, 25``."""

    def _value(self):
        if isinstance(self.data, (list, tuple)):
            return ", ".join(str(item) for item in self.data)
        return super()._value()


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choice_rule(choices: dict, message: str):
    def rule(value, field):
        if value not in choices:
            raise ActionRefused(message, field)
    return rule


class AgencyForm(FrenchForm):
    name = StringField("Nom", validators=[Checked(clean_text, "Le nom", 200)])
    short_name = StringField("Nom court (affiché dans les listes)",
                             validators=[Checked(clean_text, "Le nom court", 60)])
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


class UserForm(FrenchForm):
    name = StringField("Prénom et nom", validators=[Checked(clean_text, "Le nom", 200)])
    email = EmailField("Adresse électronique",
                       validators=[DataRequired("Indiquez l'adresse électronique."),
                                   Checked(lambda value, field: normalise_email(value))])
    kind = SelectField("Type de compte", choices=options(ACCOUNT_KINDS.items(), empty="— Choisissez —"),
                       validate_choice=False,
                       validators=[Checked(_choice_rule(ACCOUNT_KINDS, "Choisissez un type de compte."))])
    agency = SelectField("Organisme (pour un agent)", validate_choice=False)
    scheme_manager = BooleanField("Gestionnaire des dispositifs de son organisme (modifie et publie leurs "
                                  "questionnaires)")
    password = new_password("Mot de passe provisoire", "Choisissez un mot de passe provisoire.")
    confirm = password_confirmation()

    def validate_agency(self, field):
        if self.kind.data in ("agent", "secretary") and not field.data:
            raise StopValidation("Un agent doit appartenir à un organisme : choisissez-le.")


class CommitteeForm(FrenchForm):
    agency_id = IdSelectField("Organisme", message="Choisissez l'organisme dont dépend le comité.")
    name = StringField("Nom du comité", validators=[Checked(clean_text, "Le nom", 200)])
    slug = StringField("Identifiant", validators=[Checked(parse_slug, 80)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})


class SchemeForm(FrenchForm):
    code = StringField("Code", validators=[Checked(parse_code)],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    name = StringField("Nom", validators=[Checked(clean_text, "Le nom", 200)])
    agency_id = IdSelectField("Organisme", message="Choisissez l'organisme qui gère le dispositif.")
    committee_id = IdSelectField("Comité de décision",
                                 message="Choisissez le comité qui décide des demandes.")
    instrument = SelectField("Type d'aide", choices=options(INSTRUMENTS.items(), empty="— Choisissez —"),
                             validate_choice=False,
                             validators=[Checked(_choice_rule(INSTRUMENTS, "Choisissez un type d'aide."))])
    regime = SelectField("Régime d'aide d'État", choices=options(REGIMES.items(), empty="— Choisissez —"),
                         validate_choice=False,
                         validators=[Checked(_choice_rule(REGIMES, "Choisissez un régime d'aide d'État."))])
    ceiling = AmountField("Plafond par demande (en euros)", [Checked(parse_positive_amount, "Le plafond")],
                          subject="Le plafond", required=True, allow_zero=True)
    max_rate = PercentField("Taux maximal de la dépense éligible (en %)",
                            validators=[Checked(parse_rate_percent)], render_kw={"inputmode": "decimal"})
    annual_budget = AmountField("Enveloppe annuelle (en euros, facultatif)", subject="L'enveloppe annuelle",
                                allow_zero=True)
    opens_on = DayField("Date d'ouverture", [Present("La date d'ouverture est obligatoire.")],
                        message="La date d'ouverture doit être une date valide, par exemple 31/03/2026.")
    closes_on = DayField("Date de clôture (facultative)",
                         message="La date de clôture doit être une date valide, par exemple 31/03/2026.")
    required_documents = CheckboxesField("Pièces à joindre",
                                         choices=options(REQUIRABLE_DOCUMENT_KINDS.items()),
                                         validate_choice=False)
    description = TextAreaField("Description", render_kw={"rows": 8})
    eligible_sizes = CheckboxesField("Tailles d'entreprise éligibles", choices=options(SIZE_LABELS.items()),
                                     validate_choice=False, validators=[Checked(parse_sizes, required=False)])
    eligible_departements = ListTextField("Départements éligibles",
                                          validators=[Checked(parse_departements, required=False)],
                                          render_kw={"autocomplete": "off", "spellcheck": "false"})
    excluded_naf = ListTextField("Activités exclues (codes NAF)",
                                 validators=[Checked(parse_excluded_naf, required=False)],
                                 render_kw={"autocomplete": "off", "spellcheck": "false"})

    funded_categories = CheckboxesField("Dépenses financées", choices=options(EXPENSE_CATEGORIES.items()),
                                        validate_choice=False,
                                        validators=[Checked(parse_categories, required=False)])
    max_rate_small = PercentField("Intensité maximale pour une petite entreprise (en %, facultatif)",
                                  validators=[Checked(parse_optional_rate, required=False)],
                                  render_kw={"inputmode": "decimal"})
    max_rate_medium = PercentField("Intensité maximale pour une moyenne entreprise (en %, facultatif)",
                                   validators=[Checked(parse_optional_rate, required=False)],
                                   render_kw={"inputmode": "decimal"})
    max_rate_large = PercentField("Intensité maximale pour une grande entreprise (en %, facultatif)",
                                  validators=[Checked(parse_optional_rate, required=False)],
                                  render_kw={"inputmode": "decimal"})

    def scheme_fields(self) -> dict:
        return {name: self[name].data for name in (
            "code", "name", "instrument", "regime", "ceiling", "max_rate", "annual_budget", "opens_on",
            "closes_on", "required_documents", "description", "eligible_sizes", "eligible_departements",
            "excluded_naf", "funded_categories", "max_rate_small", "max_rate_medium", "max_rate_large")}
