from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import StopValidation

from ..common import ActionRefused
from .operations import (LEGAL_FORMS, clean_text, parse_amount, parse_departement, parse_headcount,
                         parse_legal_form, parse_naf_code, parse_postcode, parse_siret)

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3 takes (value, label) pairs
    def SelectChoice(value, label):  # noqa: N802
        return (value, label)


class Checked:
    """A WTForms validator that runs a ``parse_*`` rule of an operations module.

    The rule's French refusal becomes the field's error, so the form shows every mistake at once,
    and the same rule runs again in the operation (one source of truth).
    """

    def __init__(self, rule, *, required: bool = True):
        self.rule = rule
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form, field):
        try:
            self.rule(field.data, field.name)
        except ActionRefused as refused:
            raise StopValidation(refused.message) from None


def options(pairs, *, empty: str | None = None) -> list:
    """SelectField choices from ``(value, label)`` pairs, with an optional empty first option."""
    items = [("", empty)] if empty is not None else []
    return [SelectChoice(value, label) for value, label in [*items, *pairs]]


class AmountField(StringField):
    """A sum in euros, typed and shown the French way (``1250000,50``)."""

    def _value(self):
        if isinstance(self.data, Decimal):
            return f"{self.data:f}".replace(".", ",")
        return super()._value()


def text_rule(label: str, max_length: int):
    """A required text of at most ``max_length`` characters (``clean_text`` of the operations)."""
    return lambda value, field: clean_text(value, field, label, max_length)


# Created before the other fields so that it comes first, as on every French form (and in the
# summary of errors, which follows the fields' order).
_SIRET = StringField("Numéro SIRET de l'établissement", validators=[Checked(parse_siret)],
                     render_kw={"inputmode": "numeric", "autocomplete": "off"})


class CompanyDetailsForm(FlaskForm):
    """Everything about a company except its SIRET (which identifies it and is never edited)."""

    name = StringField("Raison sociale", validators=[Checked(text_rule("La raison sociale", 200))],
                       render_kw={"autocomplete": "organization"})
    legal_form = SelectField("Forme juridique", choices=options(LEGAL_FORMS.items(), empty="— Choisissez —"),
                             validate_choice=False, validators=[Checked(parse_legal_form)])
    naf_code = StringField("Code NAF (APE)", validators=[Checked(parse_naf_code)],
                           render_kw={"autocomplete": "off", "spellcheck": "false"})
    headcount = StringField("Effectif salarié", validators=[Checked(parse_headcount)],
                            render_kw={"inputmode": "numeric", "autocomplete": "off"})
    turnover = AmountField("Chiffre d'affaires annuel (en euros)",
                           validators=[Checked(lambda v, f: parse_amount(v, f, "Le chiffre d'affaires"))],
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    balance_sheet = AmountField("Total du bilan (en euros)",
                                validators=[Checked(lambda v, f: parse_amount(v, f, "Le total du bilan"))],
                                render_kw={"inputmode": "decimal", "autocomplete": "off"})
    address = StringField("Adresse de l'établissement", validators=[Checked(text_rule("L'adresse", 300))],
                          render_kw={"autocomplete": "street-address"})
    postcode = StringField("Code postal", validators=[Checked(parse_postcode)],
                           render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})
    commune = StringField("Commune", validators=[Checked(text_rule("La commune", 100))],
                          render_kw={"autocomplete": "address-level2"})
    departement = StringField("Département (facultatif)", render_kw={"autocomplete": "off"})

    def validate_departement(self, field):
        try:
            postcode = parse_postcode(self.postcode.data)
        except ActionRefused:
            return  # the postcode's own error says what to fix first
        try:
            parse_departement(field.data, postcode, field.name)
        except ActionRefused as refused:
            raise StopValidation(refused.message) from None

    def company_fields(self) -> dict:
        return {name: self[name].data for name in (
            "name", "legal_form", "naf_code", "headcount", "turnover", "balance_sheet", "address",
            "postcode", "commune", "departement")}


class CompanyForm(CompanyDetailsForm):
    siret = _SIRET
