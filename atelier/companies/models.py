from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import MONEY, UTCDateTime, utcnow
from ..extensions import db

company_members = Table(
    "company_members",
    db.Model.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True, index=True),
)

SIZE_LABELS = {
    "micro": "Microentreprise",
    "small": "Petite entreprise",
    "medium": "Moyenne entreprise",
    "eti": "Entreprise de taille intermédiaire",
    "large": "Grande entreprise",
}

MILLION = Decimal(1_000_000)


def size_category(headcount: int, turnover: Decimal, balance_sheet: Decimal) -> str:
    """EU recommendation 2003/361 bands, plus the French ETI band (décret 2008-1354)."""
    if headcount < 10 and (turnover <= 2 * MILLION or balance_sheet <= 2 * MILLION):
        return "micro"
    if headcount < 50 and (turnover <= 10 * MILLION or balance_sheet <= 10 * MILLION):
        return "small"
    if headcount < 250 and (turnover <= 50 * MILLION or balance_sheet <= 43 * MILLION):
        return "medium"
    if headcount < 5000 and (turnover <= 1500 * MILLION or balance_sheet <= 2000 * MILLION):
        return "eti"
    return "large"


class Company(db.Model):
    """Entreprise, identified by the SIRET of the establishment that carries the project."""

    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint("headcount >= 0", name="headcount_positive"),
        CheckConstraint("turnover >= 0", name="turnover_positive"),
        CheckConstraint("balance_sheet >= 0", name="balance_sheet_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    siren: Mapped[str] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_form: Mapped[str] = mapped_column(String(100))
    naf_code: Mapped[str] = mapped_column(String(6))
    headcount: Mapped[int] = mapped_column(default=0)
    turnover: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    balance_sheet: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(5))
    commune: Mapped[str] = mapped_column(String(100))
    departement: Mapped[str] = mapped_column(String(3), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members = relationship("User", secondary=company_members, back_populates="companies")

    @property
    def size(self) -> str:
        return size_category(self.headcount, self.turnover, self.balance_sheet)

    @property
    def size_label(self) -> str:
        return SIZE_LABELS[self.size]

    def __repr__(self) -> str:
        return f"<Company {self.siret}>"


MINIMIS_REGIMES = {
    "de_minimis": "De minimis général (règlement UE 2023/2831)",
    "de_minimis_agri": "De minimis agricole (règlement UE 1408/2013)",
    "de_minimis_fish": "De minimis pêche et aquaculture (règlement UE 717/2014)",
    "de_minimis_sgei": "De minimis SIEG (règlement UE 2023/2832)",
}
MINIMIS_CEILINGS = {
    "de_minimis": Decimal("300000"),
    "de_minimis_sgei": Decimal("750000"),
    "de_minimis_agri": Decimal("50000"),
    "de_minimis_fish": Decimal("40000"),
}


class MinimisAid(db.Model):
    """Aide de minimis received by a company (SIREN): declared by the applicant or granted here."""

    __tablename__ = "minimis_aids"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("source IN ('declared', 'granted')", name="source"),
        CheckConstraint(
            "regime IN ('de_minimis', 'de_minimis_agri', 'de_minimis_fish', 'de_minimis_sgei')",
            name="regime",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    siren: Mapped[str] = mapped_column(String(9), index=True)
    granted_on: Mapped[date]
    granting_body: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    regime: Mapped[str] = mapped_column(String(20), default="de_minimis")
    source: Mapped[str] = mapped_column(String(10), default="declared")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("funding_lines.id"))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def regime_label(self) -> str:
        return MINIMIS_REGIMES[self.regime]
