"""What agencies and the applicant say about a dossier without changing its state: the opinions one
agency asks of another on a funding line, and the messages between agencies and the applicant.
Each writes its event.
"""
from sqlalchemy import update

from ..agencies.models import Agency
from ..auth.models import User
from ..common import ActionRefused, parse_amount, utcnow
from ..extensions import db
from ..formatting import paris_today
from .access import may_post_messages, roles_on
from .events import WHO_LABELS, check_version, grant_access, parse_iso_date, record_event, required_text
from .models import Case, Event, FundingLine, Message, Opinion


# --------------------------------------------------------------------------- opinions

OPINION_LINE_STATES = frozenset({"under_review", "on_agenda"})  # a line on which an opinion may be asked


def ask_opinion(actor: User, line: FundingLine, *, agency: Agency | None, due_on, question: str = "",
                expected_version=None) -> Opinion:
    check_version(line, expected_version)
    if "line_agent" not in roles_on(actor, line.case, line):
        raise ActionRefused(f"Seul {WHO_LABELS['line_agent']} peut demander un avis.")
    if line.state not in OPINION_LINE_STATES:
        raise ActionRefused("Un avis ne peut être demandé que sur une demande en instruction.")
    if agency is None:
        raise ActionRefused("Choisissez l'organisme à consulter.", "agency")
    if agency.id == line.agency_id:
        raise ActionRefused("On ne demande pas l'avis de l'organisme qui instruit la demande.", "agency")
    if any(o.agency_id == agency.id and o.verdict is None for o in line.opinions):
        raise ActionRefused("Un avis de cet organisme est déjà attendu sur cette demande.", "agency")
    if not due_on:
        raise ActionRefused("Indiquez la date à laquelle l'avis est attendu.", "due_on")
    due = parse_iso_date(due_on, "due_on", "La date d'échéance")
    if due < paris_today():
        raise ActionRefused("La date d'échéance ne peut pas être passée.", "due_on")
    opinion = Opinion(line=line, agency=agency, requested_by=actor, due_on=due,
                      question=(question or "").strip())
    db.session.add(opinion)
    grant_access(line.case, agency.id)
    db.session.flush()
    record_event(line.case, actor, "opinion", "ask_opinion", line=line, reason=opinion.question or None,
                 data={"opinion_id": opinion.id, "agency": agency.short_name, "due_on": due})
    db.session.flush()
    return opinion


def give_opinion(actor: User, opinion: Opinion, *, verdict: str, intended_amount=None,
                 comment: str = "") -> Event:
    if not (actor.is_agent and actor.agency_id == opinion.agency_id):
        raise ActionRefused("Seul un agent de l'organisme consulté peut donner cet avis.")
    if opinion.verdict is not None:
        raise ActionRefused("Cet avis a déjà été donné.")
    if opinion.line.is_final or opinion.line.case.is_final:
        raise ActionRefused("La demande est close : cet avis n'est plus attendu.")
    from .models import OPINION_VERDICTS

    if verdict not in OPINION_VERDICTS:
        raise ActionRefused("Choisissez un avis : favorable, réservé ou défavorable.", "verdict")
    amount = (None if intended_amount in (None, "") else
              parse_amount(intended_amount, "intended_amount", allow_zero=True,
                           label="Le montant de cofinancement envisagé"))
    opinion.verdict, opinion.intended_amount = verdict, amount
    opinion.comment = (comment or "").strip()
    opinion.answered_by, opinion.answered_at = actor, utcnow()
    event = record_event(opinion.line.case, actor, "opinion", "give_opinion", line=opinion.line,
                         reason=opinion.comment or None,
                         data={"opinion_id": opinion.id, "verdict": verdict, "intended_amount": amount})
    db.session.flush()
    return event


# --------------------------------------------------------------------------- messages

def post_message(actor: User, case: Case, *, body: str, internal: bool = False) -> Message:
    text = required_text(body, "body", "Le message est vide.")
    if actor.is_applicant:
        if not may_post_messages(actor, case):
            raise ActionRefused("Seul un membre de l'entreprise peut écrire sur ce dossier.")
        if internal:
            raise ActionRefused("Les notes internes sont réservées aux agents.")
    elif not actor.is_agent:
        raise ActionRefused("Les administrateurs n'interviennent pas sur les dossiers.")
    elif not may_post_messages(actor, case):
        raise ActionRefused("Votre organisme consulte ce dossier en lecture seule : seuls l'organisme "
                            "pilote et ceux qui instruisent une demande y écrivent.")
    message = Message(case=case, author=actor, agency_id=actor.agency_id, body=text,
                      internal=bool(internal) and actor.is_agent)
    db.session.add(message)
    # A message changes nothing that a concurrent decision relies on: refresh the "last update" of
    # the dossier without bumping its version, so that two messages at once both go through.
    db.session.execute(update(Case).where(Case.id == case.id).values(updated_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.flush()
    return message
