"""Tables of ``edtech_payment_db`` and nothing else (docs/architecture.md).

Money is integer cents plus an ISO currency code. Lessons and users live in
other services' databases, so ``lesson_id`` and the ``*_user_id`` columns are
plain UUIDs, not foreign keys.
"""
import enum
import uuid

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, String, Text, UniqueConstraint, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.revocations import revoked_sessions_model
from services.common.modeling import (created_at, currency_check, currency_column, money_column, pg_enum, updated_at,
                                      user_ref, uuid_pk)


class Base(DeclarativeBase):
    pass


class PaymentStatus(str, enum.Enum):
    """docs/payments.md, "States": pending until a payment method succeeds;
    failed after a decline (the student may try again); cancelled when the
    lesson expired or was cancelled before it was paid."""
    pending = "pending"
    requires_action = "requires_action"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"
    partially_refunded = "partially_refunded"
    cancelled = "cancelled"


class TransactionType(str, enum.Enum):
    """Every money movement, each with its Stripe id (docs/payments.md, "Ledger")."""
    charge = "charge"
    application_fee = "application_fee"
    transfer = "transfer"
    refund = "refund"
    application_fee_refund = "application_fee_refund"
    transfer_reversal = "transfer_reversal"
    payout = "payout"


class LessonState(str, enum.Enum):
    """What payment has learnt of the lesson from learning's events."""
    booked = "booked"
    cancelled = "cancelled"
    expired = "expired"
    completed = "completed"


class RefundKind(str, enum.Enum):
    policy = "policy"              # a cancelled lesson, by the refund policy
    admin = "admin"                # by hand, with a reason
    compensation = "compensation"  # paid after the booking had ended


class PayoutStatus(str, enum.Enum):
    pending = "pending"
    in_transit = "in_transit"
    paid = "paid"
    failed = "failed"
    cancelled = "cancelled"


class RefundStatus(str, enum.Enum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        currency_check("payments"),
        CheckConstraint("amount >= 0", name="ck_payments_amount"),
        CheckConstraint("platform_fee BETWEEN 0 AND amount", name="ck_payments_platform_fee"),
        CheckConstraint("amount_refunded BETWEEN 0 AND amount", name="ck_payments_amount_refunded"),
        UniqueConstraint("lesson_id", name="uq_payments_lesson_id"),
        Index("ix_payments_student_user_id", "student_user_id", "created_at"),
        Index("ix_payments_tutor_user_id", "tutor_user_id"),
        Index("ix_payments_payable", "tutor_user_id", "completed_at", postgresql_where="payout_id IS NULL"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)  # learning's lesson
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    amount: Mapped[int] = money_column()
    platform_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    currency: Mapped[str] = currency_column()
    status: Mapped[PaymentStatus] = mapped_column(pg_enum(PaymentStatus, "payment_status"), nullable=False,
                                                  default=PaymentStatus.pending, server_default="pending")
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    # Shown only to the lesson's student, so an app can confirm the
    # PaymentIntent with Stripe's own client libraries (docs/payments.md).
    client_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    # The booking as learning's lesson_booked told it: the charge's
    # description and the invoice are written from it.
    booking: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    lesson_state: Mapped[LessonState] = mapped_column(pg_enum(LessonState, "lesson_state"), nullable=False,
                                                      default=LessonState.booked, server_default="booked")
    due_at = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # The last attempt's refusal, as Stripe put it (shown to the student).
    failure_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decline_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    succeeded_at = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at = mapped_column(DateTime(timezone=True), nullable=True)  # the lesson's, payable from then
    payout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("payouts.id"),
                                                        nullable=True)
    created_at = created_at()
    updated_at = updated_at()


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        currency_check("transactions"),
        CheckConstraint("amount >= 0", name="ck_transactions_amount"),
        CheckConstraint("(payment_id IS NULL) <> (payout_id IS NULL)", name="ck_transactions_owner"),
        Index("ix_transactions_payment_id", "payment_id"),
        Index("ix_transactions_payout_id", "payout_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # A payment's movements, or a payout's: exactly one of the two.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("payments.id"),
                                                         nullable=True)
    payout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("payouts.id"),
                                                        nullable=True)
    refund_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("refunds.id"),
                                                        nullable=True)
    type: Mapped[TransactionType] = mapped_column(pg_enum(TransactionType, "transaction_type"), nullable=False)
    amount: Mapped[int] = money_column()
    currency: Mapped[str] = currency_column()
    stripe_transaction_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created_at = created_at()


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (
        currency_check("payouts"),
        CheckConstraint("amount >= 0", name="ck_payouts_amount"),
        CheckConstraint("period_end >= period_start", name="ck_payouts_period"),
        # One payout per tutor, period and currency: running a period twice pays once.
        UniqueConstraint("tutor_user_id", "period_start", "currency", name="uq_payouts_tutor_period"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    amount: Mapped[int] = money_column()
    currency: Mapped[str] = currency_column()
    period_start = mapped_column(Date, nullable=False)
    period_end = mapped_column(Date, nullable=False)
    status: Mapped[PayoutStatus] = mapped_column(pg_enum(PayoutStatus, "payout_status"), nullable=False,
                                                 default=PayoutStatus.pending, server_default="pending")
    stripe_payout_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    stripe_account_id: Mapped[str] = mapped_column(String(255), nullable=False)
    failure_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at = created_at()
    updated_at = updated_at()


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        currency_check("invoices"),
        CheckConstraint("amount >= 0", name="ck_invoices_amount"),
        Index("ix_invoices_student_user_id", "student_user_id"),
        Index("ix_invoices_unrendered", "created_at", postgresql_where=text("pdf IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False,
                                                  unique=True)
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    amount: Mapped[int] = money_column()
    currency: Mapped[str] = currency_column()
    # "2026-000042": sequential per year, without gaps (invoices.next_number).
    number: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    # What the PDF shows, fixed when the invoice is issued (invoices.details).
    details: Mapped[dict] = mapped_column(JSONB, nullable=False)
    # The PDF, drawn once in the background soon after the invoice is issued
    # (drawing takes most of a second of CPU: not in a download's time).
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at = created_at()


class InvoiceCounter(Base):
    """The last invoice number used in each year."""
    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        currency_check("refunds"),
        CheckConstraint("amount > 0", name="ck_refunds_amount"),
        Index("ix_refunds_payment_id", "payment_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False)
    amount: Mapped[int] = money_column()
    currency: Mapped[str] = currency_column()
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    kind: Mapped[RefundKind] = mapped_column(pg_enum(RefundKind, "refund_kind"), nullable=False,
                                             default=RefundKind.policy, server_default="policy")
    requested_by_user_id: Mapped[uuid.UUID | None] = user_ref(nullable=True)  # the admin, for a refund by hand
    status: Mapped[RefundStatus] = mapped_column(pg_enum(RefundStatus, "refund_status"), nullable=False,
                                                 default=RefundStatus.pending, server_default="pending")
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created_at = created_at()
    updated_at = updated_at()


class StripeAccount(Base):
    __tablename__ = "stripe_accounts"

    id: Mapped[uuid.UUID] = uuid_pk()
    tutor_user_id: Mapped[uuid.UUID] = user_ref(unique=True)
    stripe_account_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    onboarding_complete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                      server_default="false")
    charges_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    details_submitted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                    server_default="false")
    created_at = created_at()
    updated_at = updated_at()


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
RevokedSession = revoked_sessions_model(Base)
