from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import MONEY, UTCDateTime, utcnow
from ..extensions import db
from ..workflow import CASE_FINAL_STATES, CASE_STATES, LINE_FINAL_STATES, LINE_STATES

# Instruments the company pays back on a schedule (an honour loan is lent to the founder, not to the
# company, and is followed by the loan network: no schedule here).
REPAYABLE_INSTRUMENTS = frozenset({"repayable_advance", "zero_rate_loan"})
REPAYMENT_FREQUENCIES = {1: "mensuelle", 3: "trimestrielle", 6: "semestrielle", 12: "annuelle"}

OPINION_VERDICTS = {
    "favourable": "Favorable",
    "reserved": "Réservé",
    "unfavourable": "Défavorable",
}


def _state_check(states) -> CheckConstraint:
    return CheckConstraint(f"state IN ({', '.join(repr(s) for s in states)})", name="state")


class ReferenceCounter(db.Model):
    """The last case number given in a year: ``AP-<year>-<5 digits>``, sequential per year."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class Case(db.Model):
    """Dossier: one project of one company, submitted once to the single window."""

    __tablename__ = "cases"
    __table_args__ = (
        _state_check(CASE_STATES),
        CheckConstraint("eligible_cost IS NULL OR eligible_cost >= 0", name="eligible_cost_positive"),
        CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on",
                        name="dates_ordered"),
        Index("ix_cases_lead_state", "lead_agency_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(13), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    eligible_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    lead_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    minimis_declared: Mapped[bool] = mapped_column(default=False)  # "none received" counts as declared
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    company = relationship("Company", lazy="joined")
    created_by = relationship("User")
    lead_agency = relationship("Agency")
    lines = relationship("FundingLine", back_populates="case", order_by="FundingLine.position",
                         cascade="all, delete-orphan")
    documents = relationship("Document", back_populates="case", order_by="Document.id")
    messages = relationship("Message", back_populates="case", order_by="Message.id")
    events = relationship("Event", back_populates="case", order_by="Event.id")
    declared_minimis = relationship("MinimisAid", primaryjoin="and_(MinimisAid.case_id == Case.id, "
                                    "MinimisAid.source == 'declared')", viewonly=True,
                                    order_by="MinimisAid.granted_on")

    def __init__(self, **kwargs):
        kwargs.setdefault("state", "draft")
        super().__init__(**kwargs)

    @property
    def state_label(self) -> str:
        return CASE_STATES[self.state]

    @property
    def is_final(self) -> bool:
        return self.state in CASE_FINAL_STATES

    @property
    def requested_total(self) -> Decimal:
        return sum((line.requested_amount for line in self.lines), Decimal(0))

    def __repr__(self) -> str:
        return f"<Case {self.reference} {self.state}>"


class CaseAgency(db.Model):
    """An agency that has or had a hand in a case (lead, line holder, consulted): it may see it.

    Rows are only ever added, so an agency that handed a case or a line over keeps read access.
    """

    __tablename__ = "case_agencies"
    __table_args__ = (UniqueConstraint("case_id", "agency_id", name="uq_case_agencies_case_agency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FundingLine(db.Model):
    """Demande de financement: one line of the financing plan, one scheme, one agency."""

    __tablename__ = "funding_lines"
    __table_args__ = (
        _state_check(LINE_STATES),
        CheckConstraint("requested_amount > 0", name="requested_positive"),
        CheckConstraint("proposed_amount IS NULL OR proposed_amount > 0", name="proposed_positive"),
        CheckConstraint("granted_amount IS NULL OR granted_amount > 0", name="granted_positive"),
        CheckConstraint("gross_grant_equivalent IS NULL OR gross_grant_equivalent >= 0",
                        name="gge_positive"),
        CheckConstraint("released_amount IS NULL OR released_amount >= 0", name="released_positive"),
        CheckConstraint("written_off_amount IS NULL OR written_off_amount >= 0", name="written_off_positive"),
        CheckConstraint("repayment_frequency_months IS NULL OR repayment_frequency_months IN (1, 3, 6, 12)",
                        name="repayment_frequency"),
        CheckConstraint("repayment_deferral_months IS NULL OR repayment_deferral_months >= 0",
                        name="repayment_deferral_positive"),
        Index("ix_funding_lines_agency_state", "agency_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    requested_amount: Mapped[Decimal] = mapped_column(MONEY)
    proposed_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    granted_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    gross_grant_equivalent: Mapped[Decimal | None] = mapped_column(MONEY)
    released_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    # Advances and zero-rate loans: the schedule set at the agreement, and what was written off at settle.
    repayment_frequency_months: Mapped[int | None]
    repayment_deferral_months: Mapped[int | None]
    written_off_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    state: Mapped[str] = mapped_column(String(20), default="requested")
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The scheme's questionnaire version current when the line was added: answered for good (None if
    # the scheme had published none).
    questionnaire_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_versions.id", name="fk_funding_lines_questionnaire_version"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreement_signed_on: Mapped[date | None]
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    case = relationship("Case", back_populates="lines")
    scheme = relationship("Scheme", lazy="joined")
    agency = relationship("Agency", lazy="joined")
    assigned_agent = relationship("User")
    payments = relationship("Payment", back_populates="line", order_by="Payment.paid_on")
    instalments = relationship("RepaymentInstalment", back_populates="line",
                               order_by="RepaymentInstalment.number", cascade="all, delete-orphan")
    repayments = relationship("Repayment", back_populates="line",
                              order_by=lambda: (Repayment.repaid_on, Repayment.id))
    opinions = relationship("Opinion", back_populates="line", order_by="Opinion.id")
    agenda_items = relationship("AgendaItem", back_populates="line", order_by="AgendaItem.id")

    def __init__(self, **kwargs):
        kwargs.setdefault("state", "requested")
        super().__init__(**kwargs)

    @property
    def state_label(self) -> str:
        return LINE_STATES[self.state]

    @property
    def is_final(self) -> bool:
        return self.state in LINE_FINAL_STATES

    @property
    def paid_total(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def remaining_to_pay(self) -> Decimal:
        return (self.granted_amount or Decimal(0)) - self.paid_total

    @property
    def is_repayable(self) -> bool:
        """An advance or a zero-rate loan: the company pays it back on a schedule."""
        return self.scheme.instrument in REPAYABLE_INSTRUMENTS

    @property
    def repaid_total(self) -> Decimal:
        return sum((repayment.amount for repayment in self.repayments), Decimal(0))

    @property
    def owed(self) -> Decimal:
        """What the company still owes: paid to it, not yet repaid, not written off."""
        return self.paid_total - self.repaid_total - (self.written_off_amount or Decimal(0))

    @property
    def repayment_frequency_label(self) -> str | None:
        return REPAYMENT_FREQUENCIES.get(self.repayment_frequency_months)

    @property
    def current_agenda_item(self):
        pending = [item for item in self.agenda_items if item.outcome == "pending"]
        return pending[-1] if pending else None

    def __repr__(self) -> str:
        return f"<FundingLine {self.id} {self.state}>"


class Opinion(db.Model):
    """Avis: an agency's opinion on a funding line it does not hold."""

    __tablename__ = "opinions"
    __table_args__ = (
        CheckConstraint("verdict IS NULL OR verdict IN ('favourable', 'reserved', 'unfavourable')",
                        name="verdict"),
        CheckConstraint("intended_amount IS NULL OR intended_amount >= 0", name="intended_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("funding_lines.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)  # the consulted one
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date]
    verdict: Mapped[str | None] = mapped_column(String(20))
    intended_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line = relationship("FundingLine", back_populates="opinions")
    agency = relationship("Agency", lazy="joined")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    answered_by = relationship("User", foreign_keys=[answered_by_id])

    @property
    def verdict_label(self) -> str | None:
        return OPINION_VERDICTS.get(self.verdict) if self.verdict else None

    def is_overdue(self, today: date) -> bool:
        return self.verdict is None and self.due_on < today


class Payment(db.Model):
    """Versement: one instalment paid on a granted line."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("funding_lines.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line = relationship("FundingLine", back_populates="payments")


class RepaymentInstalment(db.Model):
    """Échéance: one due date of the repayment schedule of an advance or a zero-rate loan."""

    __tablename__ = "repayment_instalments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("line_id", "number", name="uq_repayment_instalments_line_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("funding_lines.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(MONEY)

    line = relationship("FundingLine", back_populates="instalments")


class Repayment(db.Model):
    """Remboursement: money the company paid back on an advance or a zero-rate loan."""

    __tablename__ = "repayments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("funding_lines.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    repaid_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line = relationship("FundingLine", back_populates="repayments")


class Document(db.Model):
    """Pièce justificative, stored under the instance folder with a random name."""

    __tablename__ = "documents"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(255))  # as the person named it, cleaned
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # account quota
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case", back_populates="documents")
    uploaded_by = relationship("User")


class Message(db.Model):
    """Message between agency and applicant; ``internal`` ones are agency-only notes."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case = relationship("Case", back_populates="messages")
    author = relationship("User")
    agency = relationship("Agency")


class Event(db.Model):
    """Historique: one append-only line of the audit trail."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_case_id_id", "case_id", "id"),
        # One successor per event: two writers appending to one dossier cannot fork its chain.
        UniqueConstraint("case_id", "previous_hash", name="uq_events_case_id_previous_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("funding_lines.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    entity: Mapped[str] = mapped_column(String(10))  # case, line, opinion
    name: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Tamper-evident chain (atelier/audit.py fills them at insert): sha256 of this event's content
    # and of the previous event of the same dossier.
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    case = relationship("Case", back_populates="events")
    line = relationship("FundingLine")
    actor = relationship("User")
    agency = relationship("Agency")
