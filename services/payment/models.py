"""Tables of ``edtech_payment_db`` and nothing else (docs/architecture.md).

Money is integer cents plus an ISO currency code. Lessons and users live in
other services' databases, so ``lesson_id`` and the ``*_user_id`` columns are
plain UUIDs, not foreign keys.
"""
import enum
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.modeling import (created_at, currency_check, currency_column, money_column, pg_enum, updated_at,
                                      user_ref, uuid_pk)


class Base(DeclarativeBase):
    pass


class PaymentStatus(str, enum.Enum):
    pending = "pending"
    requires_action = "requires_action"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


class TransactionType(str, enum.Enum):
    charge = "charge"
    refund = "refund"
    transfer = "transfer"
    payout = "payout"


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
        Index("ix_payments_lesson_id", "lesson_id"),
        Index("ix_payments_student_user_id", "student_user_id"),
        Index("ix_payments_tutor_user_id", "tutor_user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    amount: Mapped[int] = money_column()
    platform_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    currency: Mapped[str] = currency_column()
    status: Mapped[PaymentStatus] = mapped_column(pg_enum(PaymentStatus, "payment_status"), nullable=False,
                                                  default=PaymentStatus.pending, server_default="pending")
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created_at = created_at()
    updated_at = updated_at()


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        currency_check("transactions"),
        CheckConstraint("amount >= 0", name="ck_transactions_amount"),
        Index("ix_transactions_payment_id", "payment_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False)
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
        Index("ix_payouts_tutor_user_id", "tutor_user_id", "period_start"),
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
    created_at = created_at()
    updated_at = updated_at()


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        currency_check("invoices"),
        CheckConstraint("amount >= 0", name="ck_invoices_amount"),
        Index("ix_invoices_student_user_id", "student_user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False,
                                                  unique=True)
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    amount: Mapped[int] = money_column()
    currency: Mapped[str] = currency_column()
    created_at = created_at()


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
    created_at = created_at()
    updated_at = updated_at()


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
