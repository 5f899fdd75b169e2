from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import Checked, FrenchForm
from .operations import MIN_PASSWORD_LENGTH, check_password_rules, normalise_email


def new_password(label: str, missing: str) -> PasswordField:
    """A password being chosen, checked by the rules of ``auth.operations``."""
    return PasswordField(f"{label} ({MIN_PASSWORD_LENGTH} caractères au moins)",
                         validators=[DataRequired(missing),
                                     Checked(lambda value, field: check_password_rules(value))],
                         render_kw={"autocomplete": "new-password"})


def password_confirmation() -> PasswordField:
    """The same password typed again (the field after ``new_password``, named ``password``)."""
    return PasswordField("Confirmez le mot de passe",
                         validators=[DataRequired("Confirmez le mot de passe."),
                                     EqualTo("password", "Les deux mots de passe sont différents.")],
                         render_kw={"autocomplete": "new-password"})


class LoginForm(FrenchForm):
    email = EmailField("Adresse électronique", validators=[DataRequired("Indiquez votre adresse électronique.")],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Mot de passe", validators=[DataRequired("Indiquez votre mot de passe.")],
                             render_kw={"autocomplete": "current-password"})


class RegisterForm(FrenchForm):
    name = StringField("Prénom et nom", validators=[DataRequired("Indiquez votre nom."),
                                                    Length(max=200, message="200 caractères au plus.")],
                       render_kw={"autocomplete": "name"})
    email = EmailField("Adresse électronique",
                       validators=[DataRequired("Indiquez votre adresse électronique."),
                                   Checked(lambda value, field: normalise_email(value))],
                       render_kw={"autocomplete": "email"})
    password = new_password("Mot de passe", "Choisissez un mot de passe.")
    confirm = password_confirmation()
