"""Forms of the « Quelles aides pour mon projet ? » page."""
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from ..forms import AmountField, DayField, FrenchForm, IdSelectField, Present, one_line, optional_int


class EligibilityForm(FrenchForm):
    """The project described in a few words (sent by GET: no CSRF token needed to read)."""

    company = IdSelectField("Entreprise qui porte le projet",
                            message="Choisissez une de vos entreprises.", validate_choice=True)
    eligible_cost = AmountField("Coût éligible du projet (en euros, hors taxes)", subject="Le coût éligible",
                                required=True)
    starts_on = DayField("Date de début du projet", [Present("Indiquez la date de début du projet.")])


class DraftFromSchemesForm(EligibilityForm):
    """« Créer un brouillon avec ces dispositifs » (POST, with the CSRF token)."""

    title = StringField("Titre du projet", validators=[
        DataRequired("Le titre du projet est obligatoire."),
        Length(max=200, message="Le titre ne peut pas dépasser 200 caractères.")], filters=[one_line])
    schemes = SelectMultipleField("Dispositifs choisis", choices=[], coerce=optional_int,
                                  validate_choice=False)
