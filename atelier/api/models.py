"""Personal API tokens: only a SHA-256 of the token is stored, never the token itself."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import UTCDateTime, utcnow
from ..extensions import db

TOKEN_SCOPES = {"read": "Lecture seule", "write": "Lecture et écriture"}


class ApiToken(db.Model):
    """Jeton d'accès à l'API: acts as its user, with a scope, an expiry; revocable."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # hex SHA-256 of the whole token: a 256-bit random token needs no slow hash
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it in a list
    scope: Mapped[str] = mapped_column(String(10), default="read")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", lazy="joined")

    @property
    def scope_label(self) -> str:
        return TOKEN_SCOPES[self.scope]

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now and self.user.active

    def status_label(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "Révoqué"
        if self.expires_at <= now:
            return "Expiré"
        return "Actif"
