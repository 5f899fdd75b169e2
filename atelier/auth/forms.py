from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..companies.forms import Checked
from .operations import MIN_PASSWORD_LENGTH, check_password_rules, normalise_email


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[DataRequired("Indiquez votre adresse électronique.")],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Mot de passe", validators=[DataRequired("Indiquez votre mot de passe.")],
                             render_kw={"autocomplete": "current-password"})


class RegisterForm(FlaskForm):
    name = StringField("Prénom et nom", validators=[DataRequired("Indiquez votre nom."),
                                                    Length(max=200, message="200 caractères au plus.")],
                       render_kw={"autocomplete": "name"})
    email = EmailField("Adresse électronique",
                       validators=[DataRequired("Indiquez votre adresse électronique."),
                                   Checked(lambda value, field: normalise_email(value))],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(f"Mot de passe ({MIN_PASSWORD_LENGTH} caractères au moins)",
                             validators=[DataRequired("Choisissez un mot de passe."),
                                         Checked(lambda value, field: check_password_rules(value))],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Confirmez le mot de passe",
                            validators=[DataRequired("Confirmez le mot de passe."),
                                        EqualTo("password", "Les deux mots de passe sont différents.")],
                            render_kw={"autocomplete": "new-password"})
