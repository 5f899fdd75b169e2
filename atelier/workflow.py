"""The two state machines of domain.md, declared once as data.

Each row of ``CASE_EVENTS`` / ``LINE_EVENTS`` is one row of the tables in
``shared/design/domain.md``: event, source states, destination, who may fire it
and the French label of its button. The ``transitions`` machines are built from
these rows, one shared machine per entity (``model=None``): an event is fired
with ``fire(MACHINE, instance, event)`` and the instances are never added to it.

``who`` is one of:
- ``applicant``   an applicant member of the case's company
- ``lead_agent``  an agent of the case's lead agency
- ``line_agent``  an agent of the line's agency
- ``secretary``   a committee secretary of the line's agency
- ``system``      fired only by the application itself (cascades, automatic steps)
"""
from dataclasses import dataclass

from transitions import Machine, MachineError

from .common import ActionRefused


@dataclass(frozen=True)
class EventRule:
    name: str
    sources: tuple[str, ...]
    dest: str | None  # None: the state does not change (an internal transition)
    who: str
    label: str
    needs_reason: bool = False


CASE_STATES = {
    "draft": "Brouillon",
    "submitted": "Déposé",
    "incomplete": "Incomplet — informations demandées",
    "in_review": "En instruction",
    "closed": "Clos",
    "dismissed": "Classé sans suite",
    "withdrawn": "Retiré par le demandeur",
}
CASE_FINAL_STATES = frozenset({"closed", "dismissed", "withdrawn"})
CASE_EDITABLE_STATES = frozenset({"draft", "incomplete"})

CASE_EVENTS = [
    EventRule("submit", ("draft",), "submitted", "applicant", "Déposer le dossier"),
    EventRule("request_info", ("submitted", "in_review"), "incomplete", "lead_agent",
              "Demander des informations", needs_reason=True),
    EventRule("resubmit", ("incomplete",), "submitted", "applicant", "Renvoyer le dossier complété"),
    EventRule("accept", ("submitted",), "in_review", "lead_agent", "Déclarer le dossier complet"),
    EventRule("transfer_lead", ("submitted", "in_review"), None, "lead_agent",
              "Transférer le pilotage", needs_reason=True),
    EventRule("dismiss", ("submitted", "incomplete", "in_review"), "dismissed", "lead_agent",
              "Classer sans suite", needs_reason=True),
    EventRule("withdraw", ("draft", "submitted", "incomplete", "in_review"), "withdrawn", "applicant",
              "Retirer le dossier"),
    EventRule("close", ("in_review",), "closed", "system", "Clore le dossier"),
    EventRule("reopen", ("closed",), "in_review", "system", "Rouvrir le dossier"),
]

LINE_STATES = {
    "requested": "Demandée",
    "under_review": "En instruction",
    "on_agenda": "Inscrite en comité",
    "approved": "Accordée",
    "rejected": "Refusée",
    "agreement_signed": "Convention signée",
    "settled": "Soldée",
    "withdrawn": "Retirée",
    "dismissed": "Classée sans suite",
}
LINE_FINAL_STATES = frozenset({"settled", "rejected", "withdrawn", "dismissed"})
LINE_OPEN_STATES = frozenset({"requested", "under_review", "on_agenda"})
LINE_GRANTED_STATES = frozenset({"approved", "agreement_signed", "settled"})

LINE_EVENTS = [
    EventRule("start_review", ("requested",), "under_review", "system", "Mettre en instruction"),
    EventRule("transfer", ("under_review",), None, "line_agent", "Transférer à un partenaire",
              needs_reason=True),
    EventRule("propose", ("under_review",), "on_agenda", "line_agent", "Inscrire en comité"),
    EventRule("approve", ("on_agenda",), "approved", "secretary", "Accorder"),
    EventRule("reject", ("on_agenda",), "rejected", "secretary", "Refuser", needs_reason=True),
    EventRule("adjourn", ("on_agenda",), "under_review", "secretary", "Ajourner", needs_reason=True),
    EventRule("sign_agreement", ("approved",), "agreement_signed", "line_agent",
              "Enregistrer la signature de la convention"),
    EventRule("record_payment", ("agreement_signed",), None, "line_agent", "Enregistrer un versement"),
    # Not in domain.md's table: a repayment of an advance or a loan, like a payment the other way.
    EventRule("record_repayment", ("agreement_signed",), None, "line_agent", "Enregistrer un remboursement"),
    EventRule("settle", ("agreement_signed",), "settled", "line_agent", "Solder"),
    EventRule("withdraw", ("requested", "under_review", "on_agenda"), "withdrawn", "system",
              "Retirer la demande"),
    EventRule("dismiss", ("requested", "under_review", "on_agenda"), "dismissed", "line_agent",
              "Classer sans suite", needs_reason=True),
    EventRule("reopen", ("rejected", "dismissed"), "under_review", "line_agent",
              "Rouvrir (recours gracieux)", needs_reason=True),
]

CASE_RULES = {rule.name: rule for rule in CASE_EVENTS}
LINE_RULES = {rule.name: rule for rule in LINE_EVENTS}


def _machine(states, rules) -> Machine:
    transitions = [
        {"trigger": rule.name, "source": list(rule.sources), "dest": rule.dest}
        for rule in rules
    ]
    return Machine(
        model=None,
        states=list(states),
        transitions=transitions,
        initial=None,
        auto_transitions=False,
        model_attribute="state",
    )


CASE_MACHINE = _machine(CASE_STATES, CASE_EVENTS)
LINE_MACHINE = _machine(LINE_STATES, LINE_EVENTS)

NOT_ALLOWED_NOW = "Cette action n'est pas possible dans l'état actuel du dossier ({state})."


def fire(machine: Machine, instance, event: str) -> None:
    """Fire ``event`` on ``instance`` through ``machine``; refuse it in French if not allowed now."""
    labels = CASE_STATES if machine is CASE_MACHINE else LINE_STATES
    try:
        moved = machine.events[event].trigger(instance)
    except MachineError:
        raise ActionRefused(NOT_ALLOWED_NOW.format(state=labels[instance.state].lower())) from None
    if not moved:  # a condition said no; our guards live in the operations, so this is a bug
        raise ActionRefused(NOT_ALLOWED_NOW.format(state=labels[instance.state].lower()))
