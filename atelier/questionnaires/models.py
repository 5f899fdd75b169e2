"""What a scheme asks (its questionnaire, edited as a draft, published as immutable versions), the
shared library of standard questions, and the answers of a dossier.

A question is a plain dict (``types.py`` says its shape): the draft and every published version hold
their whole structure as JSON, so that a version keeps the wording the applicant saw forever.
"""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, backref, mapped_column, object_session, relationship

from ..common import UTCDateTime, utcnow
from ..extensions import db


class StandardQuestion(db.Model):
    """A question of the shared library, asked once per dossier whatever the schemes that pick it."""

    __tablename__ = "standard_questions"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(300))
    help: Mapped[str] = mapped_column(Text, default="")
    bounds: Mapped[dict] = mapped_column(JSON, default=dict)  # min, max, max_length…
    position: Mapped[int] = mapped_column(default=0)

    def as_question(self) -> dict:
        """The question as a version stores it (a copy: the library may be reworded later)."""
        return {"key": self.key, "type": self.type, "label": self.label, "help": self.help or "",
                "required": False, "standard": True, **(self.bounds or {})}


class Questionnaire(db.Model):
    """The draft of a scheme's questionnaire: ``structure`` = ``{"sections": [{"title", "questions"}]}``;
    a standard question appears in it as ``{"standard": "<key>", "required": bool}``."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), unique=True)
    structure: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    scheme = relationship("Scheme")


class QuestionnaireVersion(db.Model):
    """A published questionnaire: never changed (a listener refuses it); a new one is a new row."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (
        UniqueConstraint("scheme_id", "number", name="uq_questionnaire_versions_scheme_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    number: Mapped[int]
    structure: Mapped[dict] = mapped_column(JSON)  # standard questions resolved into full questions
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    scheme = relationship("Scheme")

    def questions(self):
        for section in self.structure.get("sections", []):
            yield from section.get("questions", [])


class PublishedVersionChanged(Exception):
    """Code tried to change or delete a published questionnaire version."""


@event.listens_for(QuestionnaireVersion, "before_update")
def _refuse_update(mapper, connection, target: QuestionnaireVersion) -> None:
    if object_session(target).is_modified(target, include_collections=False):
        raise PublishedVersionChanged(f"La version {target.number} d'un questionnaire est publiée : elle ne "
                                      "change plus. Publiez une nouvelle version.")


@event.listens_for(QuestionnaireVersion, "before_delete")
def _refuse_delete(mapper, connection, target: QuestionnaireVersion) -> None:
    raise PublishedVersionChanged(f"La version {target.number} d'un questionnaire est publiée : elle ne "
                                  "peut pas être supprimée.")


class Answer(db.Model):
    """One answer of a dossier: at dossier level (``line_id`` NULL, standard questions) or for one of
    its lines (the scheme's own questions), under the version whose wording was shown."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("case_id", "line_id", "question_key", name="uq_answers_case_line_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("funding_lines.id", ondelete="CASCADE"),
                                                index=True)
    question_key: Mapped[str] = mapped_column(String(40))
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # A line removed from a draft takes its answers along (SQLite does not enforce ON DELETE CASCADE).
    line = relationship("FundingLine", backref=backref("answers", cascade="all, delete-orphan"))
