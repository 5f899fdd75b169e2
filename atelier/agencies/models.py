from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

AGENCY_KINDS = {
    "region": "Région",
    "development_agency": "Agence de développement",
    "bank": "Banque publique",
    "chamber": "Chambre consulaire",
    "departement": "Département",
    "intercommunality": "Intercommunalité",
    "loan_network": "Réseau de prêts d'honneur",
    "other": "Autre",
}


class Agency(db.Model):
    """Organisme partenaire."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str] = mapped_column(String(60))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(30), default="other")
    siret: Mapped[str | None] = mapped_column(String(14))
    email: Mapped[str | None] = mapped_column(String(254))

    def __repr__(self) -> str:
        return f"<Agency {self.slug}>"

    @property
    def kind_label(self) -> str:
        return AGENCY_KINDS.get(self.kind, self.kind)
