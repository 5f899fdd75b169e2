"""Forms of the applicant's pages. They check the shape of the input (a date is a date, a choice is
in the list, an amount is written like a number); the rules themselves live in the operations,
whose refusals are shown beside the same fields (``web.perform``)."""
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..companies.models import MINIMIS_REGIMES
from ..formatting import money, percent
from ..forms import (AmountField, ChoiceField, DayField, FrenchForm, IdSelectField, Present, VersionField,
                     multi_line, one_line, options)
from .documents import ACCEPTED_EXTENSIONS


class ProjectForm(FrenchForm):
    title = StringField("Titre du projet", validators=[
        DataRequired("Le titre du projet est obligatoire."),
        Length(max=200, message="Le titre ne peut pas dépasser 200 caractères.")], filters=[one_line])
    description = TextAreaField("Description du projet", validators=[
        Optional(), Length(max=20000, message="La description ne peut pas dépasser 20 000 caractères.")],
        filters=[multi_line], render_kw={"rows": 8})
    starts_on = DayField("Date de début")
    ends_on = DayField("Date de fin prévue")
    eligible_cost = AmountField("Coût éligible du projet (en euros, hors taxes)", subject="Le coût éligible")


class EditProjectForm(ProjectForm):
    version = VersionField(required=False)


class NewCaseForm(ProjectForm):
    company = IdSelectField("Entreprise qui porte le projet", message="Choisissez l'entreprise.",
                            validate_choice=True)


class LineForm(FrenchForm):
    scheme = IdSelectField("Dispositif d'aide", message="Choisissez un dispositif d'aide dans la liste.",
                           validate_choice=True)
    requested_amount = AmountField("Montant demandé (en euros)", subject="Le montant demandé", required=True)


class MinimisForm(FrenchForm):
    granted_on = DayField("Date d'octroi", [Present("Indiquez la date d'octroi de l'aide.")])
    granting_body = StringField("Organisme qui a accordé l'aide", validators=[
        DataRequired("L'organisme qui a accordé l'aide est obligatoire."),
        Length(max=200, message="Le nom de l'organisme ne peut pas dépasser 200 caractères.")],
        filters=[one_line])
    amount = AmountField("Montant de l'aide (équivalent-subvention brut, en euros)", required=True)
    regime = ChoiceField("Régime de minimis", message="Choisissez un régime de minimis.",
                         choices=options(MINIMIS_REGIMES.items(), empty="— Choisissez —"),
                         coerce=lambda value: value or None)


class NoMinimisForm(FrenchForm):
    confirm = BooleanField("Je déclare que l'entreprise n'a reçu aucune aide de minimis au cours des "
                           "trois dernières années.",
                           validators=[DataRequired("Cochez la case pour confirmer cette déclaration.")])


class DocumentForm(FrenchForm):
    kind = ChoiceField("Type de pièce", message="Choisissez le type de pièce dans la liste.")
    file = FileField("Fichier", validators=[FileRequired("Choisissez un fichier à envoyer.")],
                     render_kw={"accept": ",".join(ACCEPTED_EXTENSIONS)})


class MessageForm(FrenchForm):
    body = TextAreaField("Votre message", validators=[
        DataRequired("Le message est vide."),
        Length(max=10000, message="Le message ne peut pas dépasser 10 000 caractères.")],
        filters=[multi_line], render_kw={"rows": 5})
    internal = BooleanField("Note interne (visible des seuls agents des organismes)")


def scheme_choices(schemes) -> list:
    """Each scheme with its agency and instrument, grouped by agency."""
    return options(((str(scheme.id),
                     f"{scheme.name} — {scheme.agency.short_name} — {scheme.instrument_label} "
                     f"(jusqu'à {money(scheme.ceiling)}, {percent(scheme.max_rate)} du coût éligible)",
                     scheme.agency.name) for scheme in schemes), empty="— Choisissez un dispositif —")
