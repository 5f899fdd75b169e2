"""The financing plan's rules: editing it, its balance, the eligible cost it gives each line, the
cumulated public-aid intensity, the execution report and the pro-rata balance payment.

A dossier without a plan keeps the eligible cost typed on its project (dossiers drafted before plans
existed, and those whose applicant never opens the plan): every rule below then stands aside. Once a
plan exists, the dossier's eligible cost is computed from it and can no longer be typed.

Operations flush, never commit (the request commits once).
"""
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from ..auth.models import User
from ..cases.events import check_editable, check_version, parse_money_day
from ..common import CENT, ActionRefused, parse_amount, utcnow
from ..companies.models import SIZE_LABELS
from ..extensions import db
from ..formatting import money, percent
from .models import (AID_STATUSES, EXPENSE_CATEGORIES, MAX_ROWS, RESOURCE_KINDS, ExecutionReport, Expense,
                     FinancingPlan, RealisedExpense, Resource)

LABEL_MAX = 200
EXPLANATION_MAX = 5000
# Lines that no longer bring money to the project: not counted as public aid on it.
LINES_WITHOUT_AID = frozenset({"rejected", "withdrawn", "dismissed"})
REPORT_LINE_STATES = frozenset({"agreement_signed"})  # a line waiting for its balance
PROOF_KIND = "execution_proof"


# --------------------------------------------------------------------------- reading typed rows

def _label(value, field: str, message: str, *, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if not text and required:
        raise ActionRefused(message, field)
    if len(text) > LABEL_MAX:
        raise ActionRefused(f"{LABEL_MAX} caractères au plus.", field)
    return text


def read_expense(row: dict, prefix: str) -> dict:
    """One expense row as typed (``category``, ``label``, ``amount``), checked; fields ``<prefix>-…``."""
    category = row.get("category")
    if category not in EXPENSE_CATEGORIES:
        raise ActionRefused("Choisissez la catégorie de la dépense.", f"{prefix}-category")
    label = _label(row.get("label"), f"{prefix}-label", "Décrivez la dépense.")
    amount = parse_amount(row.get("amount"), f"{prefix}-amount", label="Le montant")
    return {"category": category, "label": label, "amount": amount}


def read_resource(row: dict, prefix: str) -> dict:
    """One resource row as typed (``kind``, ``label``, ``amount``, ``status``), checked."""
    kind = row.get("kind")
    if kind not in RESOURCE_KINDS:
        raise ActionRefused("Choisissez la nature de la ressource.", f"{prefix}-kind")
    public = kind == "public_aid"
    label = _label(row.get("label"), f"{prefix}-label", "Indiquez l'organisme qui accorde cette aide.",
                   required=public)
    amount = parse_amount(row.get("amount"), f"{prefix}-amount", label="Le montant")
    status = row.get("status") or None
    if public and status not in AID_STATUSES:
        raise ActionRefused("Indiquez si cette aide est obtenue ou demandée.", f"{prefix}-status")
    return {"kind": kind, "label": label, "amount": amount, "status": status if public else None}


def _check_row_count(rows, field: str, what: str) -> None:
    if len(rows) > MAX_ROWS:
        raise ActionRefused(f"Au plus {MAX_ROWS} {what}.", field)


# --------------------------------------------------------------------------- the plan

def save_plan(actor: User, case, *, expenses: list[dict], resources: list[dict], gap_explanation: str = "",
              expected_version=None) -> FinancingPlan:
    """Replace the plan's rows with those typed (the whole page is saved at once), while the applicant
    may edit the dossier; the dossier's eligible cost then follows the expenses."""
    check_editable(actor, case)
    check_version(case, expected_version)
    _check_row_count(expenses, "expenses", "dépenses")
    _check_row_count(resources, "resources", "ressources")
    expense_rows = [read_expense(row, f"expenses-{index}") for index, row in enumerate(expenses)]
    resource_rows = [read_resource(row, f"resources-{index}") for index, row in enumerate(resources)]
    explanation = (gap_explanation or "").strip()
    if len(explanation) > EXPLANATION_MAX:
        raise ActionRefused(f"{EXPLANATION_MAX} caractères au plus.", "gap_explanation")
    plan = case.financing_plan
    if plan is None:
        plan = FinancingPlan(case=case)
        db.session.add(plan)
    plan.expenses = [Expense(position=position, **row) for position, row in enumerate(expense_rows, start=1)]
    plan.resources = [Resource(position=position, **row)
                      for position, row in enumerate(resource_rows, start=1)]
    plan.gap_explanation = explanation
    plan.updated_at = utcnow()
    refresh_eligible_cost(case)
    case.updated_at = utcnow()
    db.session.flush()
    return plan


def has_plan(case) -> bool:
    return case.financing_plan is not None


def eligible_cost_for(case, scheme) -> Decimal | None:
    """A line's eligible cost: the plan's expenses in the categories its scheme funds, or the cost
    typed on the project when the dossier has no plan (or ``case`` is a project described, not stored)."""
    plan = getattr(case, "financing_plan", None)
    if plan is None:
        return case.eligible_cost
    return sum((expense.amount for expense in plan.expenses if scheme.funds_category(expense.category)),
               Decimal("0.00"))


def refresh_eligible_cost(case) -> None:
    """The dossier's eligible cost, once it has a plan: its expenses in the categories funded by at
    least one of its schemes (all of them while no scheme is asked)."""
    plan = case.financing_plan
    if plan is None:
        return
    schemes = [line.scheme for line in case.lines]
    case.eligible_cost = sum(
        (expense.amount for expense in plan.expenses
         if not schemes or any(scheme.funds_category(expense.category) for scheme in schemes)),
        Decimal("0.00"))


@dataclass(frozen=True)
class PlanTotals:
    expenses: Decimal
    typed_resources: Decimal  # own funds, loans, outside aid, other
    asked_here: Decimal  # the lines of this dossier, read from them
    outside_public_aid: Decimal

    @property
    def resources(self) -> Decimal:
        return self.typed_resources + self.asked_here

    @property
    def gap(self) -> Decimal:
        """Resources minus expenses: zero when the plan balances."""
        return self.resources - self.expenses


def plan_totals(case) -> PlanTotals | None:
    plan = case.financing_plan
    if plan is None:
        return None
    return PlanTotals(plan.expenses_total, plan.resources_total, case.requested_total,
                      plan.outside_public_aid)


def plan_problems(case) -> list[str]:
    """What keeps a dossier's plan from being submitted (the submission checklist adds them)."""
    totals = plan_totals(case)
    if totals is None:
        return []
    if not case.financing_plan.expenses:
        return ["Le plan de financement ne comporte aucune dépense : indiquez les dépenses du projet."]
    if totals.gap and not case.financing_plan.gap_explanation.strip():
        return [f"Le plan de financement n'est pas équilibré : les ressources ({money(totals.resources)}, "
                f"dont {money(totals.asked_here)} demandés ici) et les dépenses ({money(totals.expenses)}) "
                f"diffèrent de {money(abs(totals.gap))}. Équilibrez-le ou expliquez l'écart."]
    return []


# --------------------------------------------------------------------------- cumulated intensity

def line_aid(line, amount: Decimal | None = None) -> Decimal:
    """What a line brings to the project as public aid: ``amount``, else granted, else proposed, else
    requested; for a grant that sum, for a loan, an advance or a guarantee its gross grant equivalent
    (the one entered at approval, else the documented estimate of ``cases.minimis.estimated_gge``)."""
    from ..cases.minimis import estimated_gge

    if line.state in LINES_WITHOUT_AID and amount is None:
        return Decimal("0.00")
    face = amount or line.granted_amount or line.proposed_amount or line.requested_amount
    if line.scheme.instrument == "grant":
        return face
    if amount is None and line.gross_grant_equivalent is not None:
        return line.gross_grant_equivalent
    return estimated_gge(face)


@dataclass(frozen=True)
class Intensity:
    aid_here: Decimal
    outside_aid: Decimal
    eligible_cost: Decimal

    @property
    def total(self) -> Decimal:
        return self.aid_here + self.outside_aid

    @property
    def rate(self) -> Decimal | None:
        return self.total / self.eligible_cost if self.eligible_cost > 0 else None


def project_intensity(case) -> Intensity | None:
    """All public aid on the project (lines here and outside aid declared) against its eligible cost."""
    plan = case.financing_plan
    if plan is None:
        return None
    return Intensity(sum((line_aid(line) for line in case.lines), Decimal("0.00")), plan.outside_public_aid,
                     case.eligible_cost or Decimal("0.00"))


def line_intensities(case) -> dict[int, tuple[Decimal, Decimal | None, Decimal]]:
    """``{line id: (eligible cost, cumulated rate, maximum rate)}`` of each line, for the agents."""
    plan = case.financing_plan
    if plan is None:
        return {}
    total = sum((line_aid(line) for line in case.lines), Decimal("0.00")) + plan.outside_public_aid
    size = case.company.size
    result = {}
    for line in case.lines:
        eligible = eligible_cost_for(case, line.scheme)
        result[line.id] = (eligible, total / eligible if eligible > 0 else None,
                           line.scheme.max_rate_for_size(size))
    return result


def check_intensity(line, amount: Decimal, field: str = "granted_amount") -> None:
    """Granting ``amount`` on ``line`` may not take the project's cumulated public aid beyond the
    scheme's maximum rate for the company's size, measured on the line's eligible cost. A refusal
    gives the figures."""
    case = line.case
    plan = case.financing_plan
    if plan is None:
        return
    others = sum((line_aid(other) for other in case.lines if other.id != line.id), Decimal("0.00"))
    outside = plan.outside_public_aid
    eligible = eligible_cost_for(case, line.scheme)
    size = case.company.size
    maximum = line.scheme.max_rate_for_size(size)
    this_aid = line_aid(line, amount)
    total = others + outside + this_aid
    if eligible > 0 and total <= eligible * maximum:
        return
    headroom = max(Decimal("0.00"), (eligible * maximum - others - outside).quantize(CENT, ROUND_DOWN))
    rate = f"{percent(total / eligible)} " if eligible > 0 else "un taux infini "
    raise ActionRefused(
        f"Intensité cumulée des aides publiques dépassée : le projet reçoit déjà {money(others + outside)} "
        f"d'aides publiques (dont {money(outside)} hors guichet), cette aide représente {money(this_aid)}"
        f"{'' if this_aid == amount else ' en équivalent-subvention brut'}, "
        f"soit {rate}du coût éligible de {money(eligible)} ; le maximum pour une "
        f"{SIZE_LABELS[size].lower()} est de {percent(maximum)}. "
        f"{'Montant' if line.scheme.instrument == 'grant' else 'Équivalent-subvention brut'} maximal "
        f"possible : {money(headroom)}.",
        field)


# --------------------------------------------------------------------------- the execution report

def check_report_open(actor: User, case) -> ExecutionReport | None:
    from ..cases.access import is_member

    if not is_member(actor, case.company_id):
        raise ActionRefused("Seul un membre de l'entreprise peut déposer le bilan d'exécution.")
    if not any(line.state in REPORT_LINE_STATES for line in case.lines):
        raise ActionRefused("Le bilan d'exécution se dépose une fois la convention signée, avant le solde "
                            "de l'aide.")
    report = case.execution_report
    if report is not None and report.filed_at is not None:
        raise ActionRefused("Le bilan d'exécution est déjà déposé : il ne peut plus être modifié.")
    return report


def may_file_report(actor: User, case) -> bool:
    try:
        check_report_open(actor, case)
    except ActionRefused:
        return False
    return True


def save_execution_report(actor: User, case, *, expenses: list[dict], comment: str = "",
                          file: bool = False) -> ExecutionReport:
    """Save the expenses really made; with ``file`` the report is filed for good (an event says so)."""
    from ..cases.operations import record_event

    report = check_report_open(actor, case)
    _check_row_count(expenses, "expenses", "dépenses")
    rows = [read_expense(row, f"expenses-{index}") for index, row in enumerate(expenses)]
    text = (comment or "").strip()
    if len(text) > EXPLANATION_MAX:
        raise ActionRefused(f"{EXPLANATION_MAX} caractères au plus.", "comment")
    if file:
        if not rows:
            raise ActionRefused("Indiquez au moins une dépense réalisée avant de déposer le bilan.",
                                "expenses")
        if not any(document.kind == PROOF_KIND for document in case.documents):
            raise ActionRefused("Joignez les justificatifs des dépenses réalisées (factures acquittées) "
                                "avant de déposer le bilan.", "file")
    if report is None:
        report = ExecutionReport(case=case)
        db.session.add(report)
    report.expenses = [RealisedExpense(position=position, **row)
                       for position, row in enumerate(rows, start=1)]
    report.comment = text
    report.updated_at = utcnow()
    if file:
        realised = sum((row["amount"] for row in rows), Decimal("0.00"))
        plan = case.financing_plan
        data = {"realised_total": realised,
                "planned_total": plan.expenses_total if plan is not None else None}
        report.filed_at, report.filed_by = utcnow(), actor
        # Recorded beside the machines, like opinions: filing changes no state of the dossier or its lines.
        record_event(case, actor, "report", "file_execution_report", data=data)
    db.session.flush()
    return report


def add_report_document(actor: User, case, file_storage):
    """A supporting document of the expenses really made, while the report is being written."""
    from ..cases.documents import store_document

    check_report_open(actor, case)
    return store_document(actor, case, PROOF_KIND, file_storage)


# --------------------------------------------------------------------------- the balance payment

def pro_rata(granted: Decimal, planned: Decimal, realised: Decimal) -> Decimal:
    """What a line is worth once the project is done: the whole grant when the eligible expenses
    really made reach those planned, else ``granted × realised / planned``, rounded down to the cent
    (never more than granted)."""
    if planned <= 0 or realised >= planned:
        return granted
    return (granted * realised / planned).quantize(CENT, rounding=ROUND_DOWN)


def balance_applies(line) -> bool:
    """The balance of a grant on a dossier with a plan is computed from the execution report (loans,
    advances, honour loans and guarantees are paid, repaid or called as their agreements say)."""
    return line.case.financing_plan is not None and line.scheme.instrument == "grant"


@dataclass(frozen=True)
class Balance:
    planned: Decimal  # eligible expenses planned for this line's scheme
    realised: Decimal  # eligible expenses really made
    entitled: Decimal  # the grant, pro rata
    computed: Decimal  # what remains to pay of it
    amount: Decimal  # what is paid now (the computed one, or the agent's adjustment)
    paid_on: date | None

    @property
    def adjusted(self) -> bool:
        return self.amount != self.computed

    def event_data(self) -> dict:
        data = {"planned_eligible": self.planned, "realised_eligible": self.realised,
                "entitled_amount": self.entitled, "balance_computed": self.computed,
                "balance_amount": self.amount}
        if self.paid_on is not None:
            data["balance_paid_on"] = self.paid_on
        if self.adjusted:
            data["balance_adjusted"] = True
        return data


def computed_balance(line) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """``(planned, realised, entitled, still to pay)`` once the report is filed, else None."""
    report = line.case.execution_report
    if report is None or report.filed_at is None:
        return None
    planned = eligible_cost_for(line.case, line.scheme)
    realised = sum((expense.amount for expense in report.expenses
                    if line.scheme.funds_category(expense.category)), Decimal("0.00"))
    entitled = pro_rata(line.granted_amount, planned, realised)
    return planned, realised, entitled, max(Decimal("0.00"), entitled - line.paid_total)


def settle_balance(line, *, amount=None, paid_on=None, reason: str | None = None) -> Balance | None:
    """The balance paid when ``line`` is settled, checked (None where the plan's rule does not apply):
    the report must be filed; the agent may pay another amount than the computed one, within what
    remains granted, with a written reason."""
    if not balance_applies(line):
        return None
    figures = computed_balance(line)
    if figures is None:
        raise ActionRefused("Le demandeur doit d'abord déposer le bilan d'exécution (dépenses réalisées) : "
                            "le solde de l'aide en dépend.")
    planned, realised, entitled, computed = figures
    value = computed
    if amount not in (None, "") and str(amount).strip():
        value = parse_amount(amount, "balance_amount", label="Le solde versé", allow_zero=True)
    if value > line.remaining_to_pay:
        raise ActionRefused(f"Le solde ne peut pas dépasser ce qui reste à verser sur l'aide accordée "
                            f"({money(line.remaining_to_pay)}).", "balance_amount")
    if value != computed and not (reason or "").strip():
        raise ActionRefused(f"Le solde calculé au prorata des dépenses réalisées est de {money(computed)} : "
                            "indiquez le motif de l'ajustement.", "reason")
    when = None
    if value > 0:
        when = parse_money_day(paid_on, "balance_paid_on", "La date du versement du solde", not_before=None,
                                before_label="")
    return Balance(planned, realised, entitled, computed, value, when)


def check_payment_leaves_balance(line, value: Decimal) -> None:
    """Where the balance follows the execution report, an ordinary payment cannot pay the last cent:
    the last payment is made by settling the line."""
    if balance_applies(line) and line.paid_total + value >= line.granted_amount:
        raise ActionRefused("Le dernier versement (solde) est calculé au vu du bilan d'exécution : "
                            "soldez la demande pour le verser. Un acompte peut aller jusqu'à "
                            f"{money(max(Decimal('0.00'), line.remaining_to_pay - CENT))}.", "amount")


# --------------------------------------------------------------------------- what the dossier page shows

def dossier_summary(case, *, for_agents: bool) -> dict | None:
    """The plan, its totals, the report and (for agents) the cumulated intensity, for the dossier page;
    None when the dossier has neither plan nor report."""
    plan, report = case.financing_plan, case.execution_report
    if plan is None and report is None:
        return None
    intensity = project_intensity(case) if for_agents else None
    balances = {}
    if report is not None and report.filed_at is not None:
        for line in case.lines:
            if line.granted_amount is not None and balance_applies(line):
                balances[line.id] = computed_balance(line)
    return {"plan": plan, "totals": plan_totals(case), "report": report, "intensity": intensity,
            "line_intensities": line_intensities(case) if for_agents else {}, "balances": balances,
            "size": case.company.size}
