from wtforms import SelectField, StringField
from wtforms.validators import StopValidation

from ..common import ActionRefused
from ..forms import AmountField, Checked, FrenchForm, options
from .operations import (LEGAL_FORMS, clean_text, parse_departement, parse_headcount, parse_legal_form,
                         parse_naf_code, parse_postcode, parse_siret)


# Created before the other fields so that it comes first, as on every French form (and in the
# summary of errors, which follows the fields' order).
_SIRET = StringField("Numéro SIRET de l'établissement", validators=[Checked(parse_siret)],
                     render_kw={"inputmode": "numeric", "autocomplete": "off"})


class CompanyDetailsForm(FrenchForm):
    """Everything about a company except its SIRET (which identifies it and is never edited)."""

    name = StringField("Raison sociale", validators=[Checked(clean_text, "La raison sociale", 200)],
                       render_kw={"autocomplete": "organization"})
    legal_form = SelectField("Forme juridique", choices=options(LEGAL_FORMS.items(), empty="— Choisissez —"),
                             validate_choice=False, validators=[Checked(parse_legal_form)])
    naf_code = StringField("Code NAF (APE)", validators=[Checked(parse_naf_code)],
                           render_kw={"autocomplete": "off", "spellcheck": "false"})
    headcount = StringField("Effectif salarié", validators=[Checked(parse_headcount)],
                            render_kw={"inputmode": "numeric", "autocomplete": "off"})
    turnover = AmountField("Chiffre d'affaires annuel (en euros)", subject="Le chiffre d'affaires",
                           required=True, allow_zero=True)
    balance_sheet = AmountField("Total du bilan (en euros)", subject="Le total du bilan", required=True,
                                allow_zero=True)
    address = StringField("Adresse de l'établissement", validators=[Checked(clean_text, "L'adresse", 300)],
                          render_kw={"autocomplete": "street-address"})
    postcode = StringField("Code postal", validators=[Checked(parse_postcode)],
                           render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})
    commune = StringField("Commune", validators=[Checked(clean_text, "La commune", 100)],
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
