from wtforms import StringField
from wtforms.validators import Length

from ..forms import DayField, FrenchForm, IdSelectField, Present
from .operations import PLACE_MAX_LENGTH


class MeetingForm(FrenchForm):
    committee = IdSelectField("Comité", message="Choisissez le comité.")
    meets_on = DayField("Date de la séance", [Present("Indiquez la date de la séance.")],
                        message="Cette date n'est pas valide : écrivez-la sous la forme jj/mm/aaaa.")
    place = StringField("Lieu", validators=[Length(max=PLACE_MAX_LENGTH,
                                                   message=f"Le lieu ne peut pas dépasser "
                                                           f"{PLACE_MAX_LENGTH} caractères.")],
                        render_kw={"autocomplete": "off"})
