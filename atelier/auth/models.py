from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..common import UTCDateTime, utcnow
from ..extensions import db

ROLES = {"applicant": "Porteur de projet", "agent": "Agent", "admin": "Administrateur"}


class User(UserMixin, db.Model):
    """Utilisateur: an applicant, an agent of one agency (maybe committee secretary) or an admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('applicant', 'agent', 'admin')", name="role"),
        CheckConstraint("role != 'agent' OR agency_id IS NOT NULL", name="agent_has_agency"),
        CheckConstraint("NOT is_secretary OR role = 'agent'", name="secretary_is_agent"),
        CheckConstraint("NOT is_scheme_manager OR role = 'agent'", name="scheme_manager_is_agent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="applicant")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    is_secretary: Mapped[bool] = mapped_column(default=False)
    # "Gestionnaire des dispositifs": edits and publishes the questionnaires of the agency's schemes.
    is_scheme_manager: Mapped[bool] = mapped_column(default=False, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many password-reset links were made: a link carries the number it was made with, so a newer
    # link makes every older one invalid.
    reset_count: Mapped[int] = mapped_column(default=0, server_default="0")

    agency = relationship("Agency", lazy="joined")
    companies = relationship("Company", secondary="company_members", back_populates="members")

    def set_password(self, password: str) -> None:
        # scrypt: werkzeug's default modern key-derivation function
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_applicant(self) -> bool:
        return self.role == "applicant"

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def role_label(self) -> str:
        if self.is_agent and self.is_secretary:
            return "Agent, secrétaire de comité"
        return ROLES[self.role]

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserSession(db.Model):
    """One open login of a user (a browser): the session cookie carries its key, the database its
    SHA-256 only. Logging out, a password change or reset and a deactivation end it here, so a copy of
    the cookie opens nothing once it has ended."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(45), default="")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"
