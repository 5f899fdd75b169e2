"""The full financing plan of a dossier (expenses and resources) and its execution report.

The lines asked through the single window are a resource of the plan too, but they are never stored
here: they are read from the dossier's funding lines, so they cannot disagree with them.
"""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from ..common import MONEY, UTCDateTime, utcnow
from ..extensions import db

EXPENSE_CATEGORIES = {
    "tangible": "Investissements matériels",
    "intangible": "Investissements immatériels",
    "property": "Investissements immobiliers",
    "recruitment": "Recrutements",
    "consulting": "Conseil et études",
    "working_capital": "Besoin en fonds de roulement",
    "other": "Autres dépenses",
}
RESOURCE_KINDS = {
    "own_funds": "Apport en fonds propres",
    "bank_loan": "Emprunt bancaire",
    "public_aid": "Autre aide publique (hors guichet)",
    "other": "Autre ressource",
}
AID_STATUSES = {"obtained": "Obtenue", "requested": "Demandée"}
MAX_ROWS = 50  # per side of a plan, and in an execution report


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FinancingPlan(db.Model):
    """Plan de financement: the project's expenses and its resources besides the lines asked here."""

    __tablename__ = "financing_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    # Why resources and expenses differ, when they do (else the dossier cannot be submitted).
    gap_explanation: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case", backref=backref("financing_plan", uselist=False, passive_deletes=True))
    expenses = relationship("Expense", back_populates="plan", order_by="Expense.position",
                            cascade="all, delete-orphan")
    resources = relationship("Resource", back_populates="plan", order_by="Resource.position",
                             cascade="all, delete-orphan")

    @property
    def expenses_total(self) -> Decimal:
        return sum((expense.amount for expense in self.expenses), Decimal("0.00"))

    @property
    def resources_total(self) -> Decimal:
        """Resources typed in the plan (the lines asked here are added by ``plans.operations``)."""
        return sum((resource.amount for resource in self.resources), Decimal("0.00"))

    @property
    def outside_public_aid(self) -> Decimal:
        return sum((resource.amount for resource in self.resources if resource.kind == "public_aid"),
                   Decimal("0.00"))


class Expense(db.Model):
    """Dépense prévisionnelle: one row of the plan's expenses, before tax."""

    __tablename__ = "plan_expenses"
    __table_args__ = (
        CheckConstraint(_in("category", EXPENSE_CATEGORIES), name="category"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("financing_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    category: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    plan = relationship("FinancingPlan", back_populates="expenses")

    @property
    def category_label(self) -> str:
        return EXPENSE_CATEGORIES[self.category]


class Resource(db.Model):
    """Ressource: own funds, a bank loan, public aid asked or obtained outside the window, other."""

    __tablename__ = "plan_resources"
    __table_args__ = (
        CheckConstraint(_in("kind", RESOURCE_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IS NULL OR " + _in("status", AID_STATUSES), name="status"),
        CheckConstraint("kind <> 'public_aid' OR status IS NOT NULL", name="public_aid_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("financing_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))  # the funder, for public aid
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str | None] = mapped_column(String(10))  # public aid only

    plan = relationship("FinancingPlan", back_populates="resources")

    @property
    def kind_label(self) -> str:
        return RESOURCE_KINDS[self.kind]

    @property
    def status_label(self) -> str | None:
        return AID_STATUSES.get(self.status) if self.status else None


class ExecutionReport(db.Model):
    """Bilan d'exécution: the expenses really made, filed by the applicant before the balance payment.

    Editable until filed; once filed (``filed_at``) it is what the balance is computed from.
    """

    __tablename__ = "execution_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case", backref=backref("execution_report", uselist=False, passive_deletes=True))
    filed_by = relationship("User")
    expenses = relationship("RealisedExpense", back_populates="report", order_by="RealisedExpense.position",
                            cascade="all, delete-orphan")

    @property
    def expenses_total(self) -> Decimal:
        return sum((expense.amount for expense in self.expenses), Decimal("0.00"))


class RealisedExpense(db.Model):
    """Dépense réalisée: one expense really made, in the plan's categories."""

    __tablename__ = "realised_expenses"
    __table_args__ = (
        CheckConstraint(_in("category", EXPENSE_CATEGORIES), name="category"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_realised_expenses_report_id", "report_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("execution_reports.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    category: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    report = relationship("ExecutionReport", back_populates="expenses")

    @property
    def category_label(self) -> str:
        return EXPENSE_CATEGORIES[self.category]
