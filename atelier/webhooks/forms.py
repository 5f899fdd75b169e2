from wtforms import StringField

from ..forms import Checked, FrenchForm, one_line
from .operations import parse_description, parse_secret, parse_webhook_url


class WebhookForm(FrenchForm):
    url = StringField("Adresse de réception (URL)", filters=[one_line], validators=[Checked(parse_webhook_url)],
                      render_kw={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"})
    description = StringField("Description (facultatif)", filters=[one_line],
                              validators=[Checked(parse_description, required=False)])
    secret = StringField("Secret (facultatif)", filters=[one_line],
                         validators=[Checked(parse_secret, required=False)],
                         render_kw={"autocomplete": "off", "spellcheck": "false"})
