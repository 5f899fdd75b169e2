"""The forms of the questionnaire editor, and the frame of the dossier's questionnaire page (its
questions are read by ``answers.read_answers``: they change with the dossier's schemes)."""
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from ..forms import FrenchForm, IdSelectField, VersionField, multi_line, one_line, optional_int, options
from ..schemes.models import DOCUMENT_KINDS
from .types import TYPES


class AnswersForm(FrenchForm):
    version = VersionField()


class DraftVersionField(HiddenField):
    """The draft's version the editor saw (0 before the first change)."""

    def process_formdata(self, valuelist):
        self.data = optional_int(valuelist[0]) if valuelist else None


class SectionForm(FrenchForm):
    title = StringField("Titre de la section", filters=[one_line])
    version = DraftVersionField()


class StandardQuestionForm(FrenchForm):
    section = IdSelectField("Section")
    standard = SelectField("Question de la bibliothèque", validate_choice=False)
    required = BooleanField("Réponse obligatoire")
    version = DraftVersionField()


class OwnQuestionForm(FrenchForm):
    section = IdSelectField("Section")
    label = StringField("Libellé de la question", filters=[one_line])
    key = StringField("Clé (stable, pour les exports et l'API)", filters=[one_line],
                      render_kw={"autocomplete": "off", "spellcheck": "false"})
    help = TextAreaField("Aide affichée sous la question", filters=[multi_line])
    type = SelectField("Type de réponse", choices=options(TYPES.items(), empty="— Choisissez —"),
                       validate_choice=False)
    required = BooleanField("Réponse obligatoire")
    min = StringField("Minimum (nombre, montant, pourcentage)", filters=[one_line])
    max = StringField("Maximum (nombre, montant, pourcentage)", filters=[one_line])
    max_length = StringField("Longueur maximale (texte)", filters=[one_line])
    choices = TextAreaField("Réponses possibles (liste), une par ligne", filters=[multi_line])
    document_kind = SelectField("Type de pièce demandé", choices=options(DOCUMENT_KINDS.items(), empty="—"),
                                validate_choice=False)
    columns = TextAreaField("Colonnes du tableau, une par ligne : « Libellé | type » (* devant le libellé : "
                            "à remplir)", filters=[multi_line])
    max_rows = StringField("Nombre maximal de lignes du tableau", filters=[one_line])
    condition_key = SelectField("Posée seulement si la question", validate_choice=False)
    condition_value = StringField("… a pour réponse (par exemple oui)", filters=[one_line])
    version = DraftVersionField()

    def definition(self) -> dict:
        return {name: self[name].data for name in (
            "label", "key", "help", "type", "required", "min", "max", "max_length", "choices",
            "document_kind", "columns", "max_rows", "condition_key", "condition_value")}


class ItemForm(FrenchForm):
    item = HiddenField()
    direction = HiddenField()
    version = DraftVersionField()


class PublishForm(FrenchForm):
    version = DraftVersionField()
