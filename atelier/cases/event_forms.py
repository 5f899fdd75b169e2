"""The forms of the events people fire on a dossier (field names: see shared/design contract).

These forms read what was typed (an amount is an amount, a date is a date: ``atelier/forms.py``);
the rules of the event (amount within the proposal, meeting of the right committee, date not in
the future…) live in ``cases/operations.py``, which answers in French beside the field it names.
"""
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import (AmountField, ChoiceField, DayField, FrenchForm, IdSelectField, VersionField, multi_line,
                     one_line, options)
from .models import OPINION_VERDICTS, REPAYMENT_FREQUENCIES

REASON_MAX = 5000


class EventForm(FrenchForm):
    """An event with nothing to fill in: only the version seen."""

    version = VersionField()


def _reason(label: str, message: str | None):
    """A reason field, required when ``message`` (said when it is missing) is given."""
    validators = [Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au plus.")]
    if message:
        validators.insert(0, DataRequired(message))
    else:
        validators.insert(0, Optional())
    return TextAreaField(label, validators=validators, filters=[multi_line])


def reason_form(label: str, message: str | None) -> type[EventForm]:
    return type("ReasonForm", (EventForm,), {"reason": _reason(label, message)})


# --------------------------------------------------------------------------- case events

class RequestInfoForm(EventForm):
    message = TextAreaField(
        "Message au demandeur : ce qui manque au dossier",
        validators=[DataRequired("Écrivez au demandeur ce qui manque au dossier."),
                    Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au plus.")],
        filters=[multi_line])


class TransferLeadForm(EventForm):
    agency_id = IdSelectField("Organisme qui pilotera le dossier")
    reason = _reason("Motif du transfert", "Indiquez le motif du transfert.")


CASE_FORMS: dict[str, type[EventForm]] = {
    "submit": EventForm,
    "resubmit": EventForm,
    "accept": EventForm,
    "withdraw": reason_form("Motif du retrait (facultatif)", None),
    "request_info": RequestInfoForm,
    "transfer_lead": TransferLeadForm,
    "dismiss": reason_form("Motif du classement sans suite", "Indiquez le motif du classement sans suite."),
}


# --------------------------------------------------------------------------- line events

class TransferLineForm(EventForm):
    agency_id = IdSelectField("Organisme partenaire à qui confier la demande")
    scheme_id = IdSelectField("Nouveau dispositif (facultatif, de l'organisme choisi)")
    reason = _reason("Motif du transfert", "Indiquez le motif du transfert.")


class ProposeForm(EventForm):
    meeting_id = IdSelectField("Séance du comité")
    proposed_amount = AmountField("Montant proposé (en euros)", subject="Le montant proposé")


class ApproveForm(EventForm):
    granted_amount = AmountField("Montant accordé (en euros)", subject="Le montant accordé")
    gross_grant_equivalent = AmountField("Équivalent-subvention brut (en euros ; laissé vide : estimation)",
                                         subject="L'équivalent-subvention brut", allow_zero=True)
    over_envelope_confirmed = BooleanField("Je confirme l'accord au-delà de l'enveloppe annuelle")


class SignAgreementForm(EventForm):
    """The agreement; for an advance or a loan, its repayment schedule too (checked by the operation)."""

    signed_on = DayField("Date de signature de la convention",
                         message="La date de signature doit être une date valide (jj/mm/aaaa).")
    instalment_count = StringField("Nombre d'échéances de remboursement", render_kw={"inputmode": "numeric"},
                                   filters=[one_line])
    frequency_months = ChoiceField("Périodicité des échéances",
                                   choices=options(((months, label.capitalize())
                                                    for months, label in REPAYMENT_FREQUENCIES.items()),
                                                   empty="— Choisissez —"), validate_choice=False)
    deferral_months = StringField("Différé avant la première échéance (en mois)", render_kw={"inputmode": "numeric"},
                                  filters=[one_line])
    first_due_on = DayField("Date de la première échéance (facultatif)",
                            message="La date de la première échéance doit être une date valide (jj/mm/aaaa).")


class RecordPaymentForm(EventForm):
    amount = AmountField("Montant versé (en euros)", subject="Le montant versé")
    paid_on = DayField("Date du versement",
                       message="La date du versement doit être une date valide (jj/mm/aaaa).")


class RecordRepaymentForm(EventForm):
    amount = AmountField("Montant remboursé (en euros)", subject="Le montant remboursé")
    repaid_on = DayField("Date du remboursement",
                         message="La date du remboursement doit être une date valide (jj/mm/aaaa).")


class SettleForm(EventForm):
    """Settling a line; the balance fields are shown only where the balance follows the execution report."""

    balance_amount = AmountField("Solde versé (en euros ; calculé au prorata des dépenses réalisées)",
                                 subject="Le solde versé", allow_zero=True)
    balance_paid_on = DayField("Date du versement du solde",
                               message="La date du versement du solde doit être une date valide "
                                       "(jj/mm/aaaa).")
    reason = _reason("Motif (abandon du reste dû d'une avance, ou ajustement du solde calculé)", None)


LINE_FORMS: dict[str, type[EventForm]] = {
    "transfer": TransferLineForm,
    "propose": ProposeForm,
    "approve": ApproveForm,
    "reject": reason_form("Motif du refus", "Indiquez le motif du refus."),
    "adjourn": reason_form("Motif de l'ajournement", "Indiquez le motif de l'ajournement."),
    "sign_agreement": SignAgreementForm,
    "record_payment": RecordPaymentForm,
    "record_repayment": RecordRepaymentForm,
    "settle": SettleForm,
    "dismiss": reason_form("Motif du classement sans suite", "Indiquez le motif du classement."),
    "reopen": reason_form("Motif de la réouverture (recours gracieux)",
                          "Indiquez le motif de la réouverture (recours gracieux)."),
}


# --------------------------------------------------------------------------- opinions

class AskOpinionForm(EventForm):
    agency_id = IdSelectField("Organisme à consulter")
    due_on = DayField("Avis attendu au plus tard le",
                      message="La date d'échéance doit être une date valide (jj/mm/aaaa).")
    question = TextAreaField("Question posée (facultatif)",
                             validators=[Optional(), Length(max=REASON_MAX,
                                                            message=f"{REASON_MAX} caractères au plus.")],
                             filters=[multi_line])


class GiveOpinionForm(EventForm):
    version = VersionField(required=False)  # an opinion is answered once: the operation refuses a second
    verdict = RadioField("Votre avis", validate_choice=False,
                         choices=options(OPINION_VERDICTS.items()))
    intended_amount = AmountField("Cofinancement envisagé par votre organisme (en euros, facultatif)",
                                  subject="Le montant de cofinancement envisagé", allow_zero=True)
    comment = TextAreaField("Commentaire",
                            validators=[Optional(), Length(max=REASON_MAX,
                                                           message=f"{REASON_MAX} caractères au plus.")],
                            filters=[multi_line])


def display_form(form_class: type[EventForm], id_prefix: str, **data) -> EventForm:
    """A blank form to show on a page, with ids unique on that page (names stay those of the contract)."""
    form = form_class(formdata=None, meta={"csrf": False}, **data)
    for field in form:
        field.id = f"{id_prefix}-{field.name}"
        field.label.field_id = field.id
    return form


def error_messages(form) -> list[str]:
    """Each field error as "Label : message", so that a flash still says which field is wrong."""
    messages = []
    for field in form:
        for error in field.errors:
            if field.type in ("HiddenField", "VersionField", "CSRFTokenField"):
                messages.append(str(error))
            else:
                messages.append(f"{field.label.text} : {error}")
    messages.extend(str(error) for error in form.form_errors)
    return messages
