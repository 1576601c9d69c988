"""Tables of ``edtech_ai_db`` and nothing else (docs/architecture.md)."""
import enum
import uuid

from sqlalchemy import CheckConstraint, DateTime, Float, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.modeling import created_at, pg_enum, updated_at, user_ref, uuid_pk


class Base(DeclarativeBase):
    pass


class ContentType(str, enum.Enum):
    article = "article"
    video = "video"
    exercise = "exercise"
    quiz = "quiz"
    course_material = "course_material"


class RecommendationTarget(str, enum.Enum):
    tutor = "tutor"
    course = "course"
    content = "content"


class Content(Base):
    __tablename__ = "content"
    __table_args__ = (Index("ix_content_subject", "subject"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    creator_user_id: Mapped[uuid.UUID] = user_ref()
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    content_type: Mapped[ContentType] = mapped_column(pg_enum(ContentType, "content_type"), nullable=False)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at = created_at()


class AiInteraction(Base):
    __tablename__ = "ai_interactions"
    __table_args__ = (Index("ix_ai_interactions_user_time", "user_id", "timestamp"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref()
    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    query: Mapped[str] = mapped_column(Text, nullable=False)
    response: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    timestamp = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (
        CheckConstraint("score BETWEEN 0 AND 1", name="ck_recommendations_score"),
        UniqueConstraint("user_id", "target_type", "target_id", name="uq_recommendations_target"),
        Index("ix_recommendations_user_score", "user_id", text("score DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref()
    target_type: Mapped[RecommendationTarget] = mapped_column(
        pg_enum(RecommendationTarget, "recommendation_target_type"), nullable=False)
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    created_at = created_at()


class LearningPath(Base):
    __tablename__ = "learning_paths"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="ck_learning_paths_progress"),
        Index("ix_learning_paths_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref()
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    steps: Mapped[list] = mapped_column(JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb"))
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")  # percent
    created_at = created_at()
    updated_at = updated_at()


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
