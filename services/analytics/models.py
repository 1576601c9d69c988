"""Tables of ``edtech_analytics_db`` and nothing else (docs/architecture.md)."""
import enum
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, DateTime, Index, Integer, Numeric, SmallInteger, String,
                        Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.revocations import revoked_sessions_model
from services.common.modeling import (created_at, currency_check, currency_column, pg_enum, updated_at, user_ref,
                                      uuid_pk)


class Base(DeclarativeBase):
    pass


class ReviewTarget(str, enum.Enum):
    tutor = "tutor"
    course = "course"


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
        CheckConstraint("reviewer_user_id <> target_user_id", name="ck_reviews_not_self"),
        # One review per reviewer and lesson.
        Index("uq_reviews_reviewer_lesson", "reviewer_user_id", "lesson_id", unique=True,
              postgresql_where=text("lesson_id IS NOT NULL")),
        Index("ix_reviews_target", "target_type", "target_user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    reviewer_user_id: Mapped[uuid.UUID] = user_ref()
    target_user_id: Mapped[uuid.UUID] = user_ref()
    target_type: Mapped[ReviewTarget] = mapped_column(pg_enum(ReviewTarget, "review_target_type"), nullable=False)
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    created_at = created_at()
    updated_at = updated_at()


class AnalyticsEvent(Base):
    """Every event analytics receives, once (``event_id`` is unique)."""
    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_user_time", "user_id", "timestamp"),
        Index("ix_analytics_events_type_time", "event_type", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)  # append-only log
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True, unique=True)
    user_id: Mapped[uuid.UUID | None] = user_ref(nullable=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    # "metadata" is reserved on declarative classes; the column keeps the design's name.
    event_metadata: Mapped[dict] = mapped_column("metadata", JSONB, nullable=False, default=dict,
                                                 server_default=text("'{}'::jsonb"))
    timestamp = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_type_time", "type", "generated_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb"))
    generated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    generated_by: Mapped[uuid.UUID | None] = user_ref(nullable=True)


class UserMetrics(Base):
    __tablename__ = "user_metrics"
    __table_args__ = (
        currency_check("user_metrics"),
        CheckConstraint("lesson_count >= 0", name="ck_user_metrics_lesson_count"),
        CheckConstraint("review_count >= 0", name="ck_user_metrics_review_count"),
        CheckConstraint("total_spent >= 0", name="ck_user_metrics_total_spent"),
        CheckConstraint("avg_rating IS NULL OR avg_rating BETWEEN 1 AND 5", name="ck_user_metrics_avg_rating"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref(unique=True)
    lesson_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    total_spent: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")  # cents
    currency: Mapped[str] = currency_column()
    avg_rating = mapped_column(Numeric(3, 2), nullable=True)
    review_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at = created_at()
    updated_at = updated_at()


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
# Sessions identity ended: its operator entrypoints check admins' tokens
# (services/common/revocations.py).
RevokedSession = revoked_sessions_model(Base)
