from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import MONEY
from ..extensions import db

INSTRUMENTS = {
    "grant": "Subvention",
    "repayable_advance": "Avance remboursable",
    "zero_rate_loan": "Prêt à taux zéro",
    "honour_loan": "Prêt d'honneur",
    "guarantee": "Garantie",
}
REGIMES = {
    "de_minimis": "De minimis général (UE 2023/2831)",
    "de_minimis_agri": "De minimis agricole (UE 1408/2013)",
    "de_minimis_fish": "De minimis pêche (UE 717/2014)",
    "de_minimis_sgei": "De minimis SIEG (UE 2023/2832)",
    "gber": "Règlement général d'exemption par catégorie (UE 651/2014)",
    "none": "Hors aide d'État",
}
# Kinds of supporting document a scheme may require (Document.kind).
DOCUMENT_KINDS = {
    "kbis": "Extrait Kbis de moins de trois mois",
    "business_plan": "Plan d'affaires",
    "quotes": "Devis des dépenses prévues",
    "accounts": "Derniers comptes annuels (bilan et compte de résultat)",
    "rib": "Relevé d'identité bancaire",
    "tax_certificate": "Attestation de régularité fiscale et sociale",
    "other": "Autre pièce",
    # Joined to the execution report (plans/), never asked at submission.
    "execution_proof": "Justificatifs des dépenses réalisées (factures acquittées)",
}
# What a scheme may ask for at submission (the proofs of expenses made come with the execution report).
REQUIRABLE_DOCUMENT_KINDS = {kind: label for kind, label in DOCUMENT_KINDS.items()
                             if kind != "execution_proof"}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Scheme(db.Model):
    """Dispositif d'aide, operated by one agency and decided by one of its committees."""

    __tablename__ = "schemes"
    __table_args__ = (
        CheckConstraint(_in("instrument", INSTRUMENTS), name="instrument"),
        CheckConstraint(_in("regime", REGIMES), name="regime"),
        CheckConstraint("ceiling > 0", name="ceiling_positive"),
        CheckConstraint("max_rate > 0 AND max_rate <= 1", name="max_rate_range"),
        CheckConstraint("annual_budget IS NULL OR annual_budget >= 0", name="budget_positive"),
        CheckConstraint("closes_on IS NULL OR closes_on >= opens_on", name="dates_ordered"),
        *(CheckConstraint(f"max_rate_{size} IS NULL OR (max_rate_{size} > 0 AND max_rate_{size} <= 1)",
                          name=f"max_rate_{size}_range") for size in ("small", "medium", "large")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    instrument: Mapped[str] = mapped_column(String(30))
    regime: Mapped[str] = mapped_column(String(20))
    ceiling: Mapped[Decimal] = mapped_column(MONEY)
    max_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))  # share of the eligible cost, 0 < rate ≤ 1
    annual_budget: Mapped[Decimal | None] = mapped_column(MONEY)
    opens_on: Mapped[date]
    closes_on: Mapped[date | None]
    required_documents: Mapped[list] = mapped_column(JSON, default=list)
    # Eligibility rules (see rules.py); an empty list means no restriction.
    eligible_sizes: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    eligible_departements: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    excluded_naf: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    description: Mapped[str] = mapped_column(Text, default="")
    # Financing plan: the expense categories the scheme funds (plans/models.py; an empty list: all of
    # them), and the most that cumulated public aid may reach per company size, GBER-style (None: the
    # scheme's max_rate).
    funded_categories: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    max_rate_small: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    max_rate_medium: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    max_rate_large: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))

    agency = relationship("Agency", lazy="joined")
    committee = relationship("Committee", back_populates="schemes")

    @property
    def instrument_label(self) -> str:
        return INSTRUMENTS[self.instrument]

    @property
    def regime_label(self) -> str:
        return REGIMES[self.regime]

    @property
    def is_de_minimis(self) -> bool:
        return self.regime.startswith("de_minimis")

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day and (self.closes_on is None or day <= self.closes_on)

    @property
    def required_document_labels(self) -> list[str]:
        return [DOCUMENT_KINDS.get(kind, kind) for kind in self.required_documents]

    @property
    def eligible_size_labels(self) -> list[str]:
        from ..companies.models import SIZE_LABELS

        return [SIZE_LABELS.get(size, size) for size in self.eligible_sizes]

    @property
    def excluded_naf_labels(self) -> list[str]:
        from .rules import describe_naf_rule

        return [describe_naf_rule(rule) for rule in self.excluded_naf]

    def funds_category(self, category: str) -> bool:
        return not self.funded_categories or category in self.funded_categories

    @property
    def funded_category_labels(self) -> list[str]:
        from ..plans.models import EXPENSE_CATEGORIES

        return [EXPENSE_CATEGORIES.get(category, category) for category in self.funded_categories]

    def max_rate_for_size(self, size: str) -> Decimal:
        """The most cumulated public aid may reach for a company of ``size`` (companies.SIZE_LABELS):
        micro and small companies take the small rate, ETIs the large one, as the GBER does."""
        band = {"micro": "small", "small": "small", "medium": "medium"}.get(size, "large")
        rate = getattr(self, f"max_rate_{band}")
        return rate if rate is not None else self.max_rate

    def max_for_cost(self, eligible_cost: Decimal) -> Decimal:
        """The most this scheme can give for a project of this eligible cost."""
        return min(self.ceiling, (eligible_cost * self.max_rate).quantize(Decimal("0.01")))

    def __repr__(self) -> str:
        return f"<Scheme {self.code}>"
