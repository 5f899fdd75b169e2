from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[DataRequired("Indiquez votre adresse électronique.")],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Mot de passe", validators=[DataRequired("Indiquez votre mot de passe.")],
                             render_kw={"autocomplete": "current-password"})


class RegisterForm(FlaskForm):
    name = StringField("Prénom et nom", validators=[DataRequired("Indiquez votre nom."), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = EmailField("Adresse électronique",
                       validators=[DataRequired("Indiquez votre adresse électronique."), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField("Mot de passe (12 caractères au moins)",
                             validators=[DataRequired("Choisissez un mot de passe.")],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Confirmez le mot de passe",
                            validators=[DataRequired("Confirmez le mot de passe."),
                                        EqualTo("password", "Les deux mots de passe sont différents.")],
                            render_kw={"autocomplete": "new-password"})
