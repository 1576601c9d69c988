"""Tables of ``edtech_communication_db`` and nothing else (docs/architecture.md)."""
import enum
import uuid

from sqlalchemy import (ARRAY, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text,
                        func)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.revocations import revoked_sessions_model
from services.common.modeling import created_at, pg_enum, user_ref, uuid_pk


class Base(DeclarativeBase):
    pass


class ConversationStatus(str, enum.Enum):
    active = "active"
    archived = "archived"
    closed = "closed"


class MessageType(str, enum.Enum):
    text = "text"
    file = "file"
    system = "system"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("cardinality(participant_ids) >= 2", name="ck_conversations_participants"),
        Index("ix_conversations_participant_ids", "participant_ids", postgresql_using="gin"),
        Index("ix_conversations_lesson_id", "lesson_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)  # learning's lesson
    participant_ids: Mapped[list] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False)
    status: Mapped[ConversationStatus] = mapped_column(
        pg_enum(ConversationStatus, "conversation_status"), nullable=False,
        default=ConversationStatus.active, server_default="active")
    last_message_at = mapped_column(DateTime(timezone=True), nullable=True)
    created_at = created_at()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("char_length(content) BETWEEN 1 AND 10000", name="ck_messages_content"),
        Index("ix_messages_conversation_time", "conversation_id", "timestamp"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("conversations.id"),
                                                       nullable=False)
    sender_user_id: Mapped[uuid.UUID] = user_ref()
    content: Mapped[str] = mapped_column(Text, nullable=False)
    message_type: Mapped[MessageType] = mapped_column(pg_enum(MessageType, "message_type"), nullable=False,
                                                      default=MessageType.text, server_default="text")
    timestamp = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "is_read", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref()
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    is_read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    # The event that caused it, so a notification is never sent twice for one event.
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True, unique=True)
    created_at = created_at()


class VideoSession(Base):
    __tablename__ = "video_sessions"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at",
                        name="ck_video_sessions_order"),
        Index("ix_video_sessions_lesson_id", "lesson_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    meeting_url: Mapped[str] = mapped_column(String(500), nullable=False)
    started_at = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at = mapped_column(DateTime(timezone=True), nullable=True)
    recording_url: Mapped[str | None] = mapped_column(String(500), nullable=True)


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
# Sessions identity ended: its operator entrypoints check admins' tokens
# (services/common/revocations.py).
RevokedSession = revoked_sessions_model(Base)
