"""The notification choices of the account page, and the message form with its attached file."""
from flask_wtf.file import FileField
from wtforms import RadioField
from wtforms.validators import InputRequired

from ..cases.documents import ACCEPTED_EXTENSIONS
from ..cases.forms import MessageForm
from ..forms import FrenchForm, options
from .models import KINDS, MANDATORY_KINDS, MODES, kinds_for


class MessageWithAttachmentForm(MessageForm):
    attachment = FileField("Pièce jointe (facultative)",
                           render_kw={"accept": ",".join(ACCEPTED_EXTENSIONS)})


class _PreferencesForm(FrenchForm):
    pass


def preferences_form(user, **kwargs) -> FrenchForm:
    """One group of radio buttons per kind of notification that may reach ``user``."""

    class PreferencesForm(_PreferencesForm):
        pass

    for kind in kinds_for(user):
        choices = options((mode, label) for mode, label in MODES.items()
                          if not (mode == "none" and kind in MANDATORY_KINDS))
        setattr(PreferencesForm, kind, RadioField(
            KINDS[kind][0], choices=choices,
            validators=[InputRequired("Choisissez comment être prévenu.")]))
    return PreferencesForm(prefix="notifications", **kwargs)
