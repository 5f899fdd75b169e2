from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation

from ..common import ActionRefused
from ..forms import Checked, FrenchForm
from .operations import MIN_PASSWORD_LENGTH, check_password_rules, normalise_email


class PasswordRules:
    """The rules of ``auth.operations.check_password_rules``, with the email of the form (its
    ``email`` field) or of the account (the form's ``account_email``) when there is one."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        email = form.email.data if "email" in form else getattr(form, "account_email", None)
        try:
            check_password_rules(field.data, email if isinstance(email, str) else None, field.name)
        except ActionRefused as refused:
            raise StopValidation(refused.message) from None


def new_password(label: str, missing: str) -> PasswordField:
    """A password being chosen, checked by the rules of ``auth.operations``."""
    return PasswordField(f"{label} ({MIN_PASSWORD_LENGTH} caractères au moins)",
                         validators=[DataRequired(missing), PasswordRules()],
                         render_kw={"autocomplete": "new-password"})


def password_confirmation() -> PasswordField:
    """The same password typed again (the field after ``new_password``, named ``password``)."""
    return PasswordField("Confirmez le mot de passe",
                         validators=[DataRequired("Confirmez le mot de passe."),
                                     EqualTo("password", "Les deux mots de passe sont différents.")],
                         render_kw={"autocomplete": "new-password"})


class EndSessionForm(FrenchForm):
    """The button that ends one session, or all the others (its CSRF token only)."""


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


PASSWORD_HINT = ("Au moins 12 caractères, pas un mot de passe courant ni votre adresse. "
                 "Une phrase de passe est plus facile à retenir.")


class ChangePasswordForm(FrenchForm):
    current = PasswordField("Mot de passe actuel", validators=[DataRequired("Indiquez votre mot de passe actuel.")],
                            render_kw={"autocomplete": "current-password"})
    password = new_password("Nouveau mot de passe", "Choisissez un nouveau mot de passe.")
    confirm = password_confirmation()
    revoke_tokens = BooleanField("Révoquer aussi mes jetons d'accès à l'API (les logiciels qui s'en servent "
                                 "devront recevoir un nouveau jeton)")

    def __init__(self, *args, account_email: str | None = None, **kwargs):
        self.account_email = account_email
        super().__init__(*args, **kwargs)


class ForgotPasswordForm(FrenchForm):
    email = EmailField("Adresse électronique de votre compte",
                       validators=[DataRequired("Indiquez votre adresse électronique.")],
                       render_kw={"autocomplete": "email"})


class ResetPasswordForm(FrenchForm):
    password = new_password("Nouveau mot de passe", "Choisissez un nouveau mot de passe.")
    confirm = password_confirmation()
    keep_tokens = BooleanField("Garder mes jetons d'accès à l'API (sans cette case, ils sont révoqués)")

    def __init__(self, *args, account_email: str | None = None, **kwargs):
        self.account_email = account_email
        super().__init__(*args, **kwargs)
