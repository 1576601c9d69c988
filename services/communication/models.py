"""Tables of ``edtech_communication_db`` and nothing else (docs/architecture.md)."""
import enum
import uuid

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String,
                        Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.mail import mail_outbox_model
from services.common.revocations import revoked_sessions_model
from services.common.modeling import created_at, pg_enum, updated_at, user_ref, uuid_pk


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
        # One per lesson, and one open conversation per pair before any booking.
        Index("uq_conversations_lesson_id", "lesson_id", unique=True, postgresql_where=text("lesson_id IS NOT NULL")),
        Index("uq_conversations_open_pair", "student_user_id", "tutor_user_id", unique=True,
              postgresql_where=text("lesson_id IS NULL AND status = 'active'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)  # learning's lesson
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
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
        # The platform's own lines have no sender; a person's always have one.
        CheckConstraint("(message_type = 'system') = (sender_user_id IS NULL)", name="ck_messages_sender"),
        Index("ix_messages_conversation_time", "conversation_id", "timestamp", "id"),
        # The unread-message notices look only at messages nobody was told of yet.
        Index("ix_messages_unnotified", "timestamp", postgresql_where=text("notified_at IS NULL")),
        # A retried send (same client message id) is stored once.
        UniqueConstraint("conversation_id", "sender_user_id", "client_message_id", name="uq_messages_client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("conversations.id"),
                                                       nullable=False)
    sender_user_id: Mapped[uuid.UUID | None] = user_ref(nullable=True)
    client_message_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # When the recipient was told of it by a notification, if it stayed unread.
    notified_at = mapped_column(DateTime(timezone=True), nullable=True)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    message_type: Mapped[MessageType] = mapped_column(pg_enum(MessageType, "message_type"), nullable=False,
                                                      default=MessageType.text, server_default="text")
    # clock_timestamp(), not now(): two messages of one transaction still differ.
    timestamp = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp())


class ConversationRead(Base):
    """How far each participant has read a conversation."""
    __tablename__ = "conversation_reads"

    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("conversations.id"),
                                                       primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    last_read_at = mapped_column(DateTime(timezone=True), nullable=False)


class AdminRead(Base):
    """An admin who read a conversation, and why: kept for audit."""
    __tablename__ = "admin_reads"
    __table_args__ = (Index("ix_admin_reads_conversation", "conversation_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    admin_user_id: Mapped[uuid.UUID] = user_ref()
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("conversations.id"),
                                                       nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at = created_at()


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "is_read", "created_at"),
        Index("ix_notifications_user_page", "user_id", "created_at", "id"),
        # One notification per event and user, however often the event comes.
        UniqueConstraint("source_event_id", "user_id", name="uq_notifications_event_user"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = user_ref()
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    is_read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    # The event that caused it, so a notification is never sent twice for one event.
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    # What it is about (lesson_id, conversation_id, payment_id...), for the app's links.
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp())


class NotificationPreference(Base):
    """A user's choice per notification type: in the app, by email. No row: the type's defaults."""
    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(50), primary_key=True)
    in_app: Mapped[bool] = mapped_column(Boolean, nullable=False)
    email: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_at = updated_at()


class Person(Base):
    """Communication's copy of each user's name and email, from identity's
    user events, newest version winning: for the texts and mails it writes."""
    __tablename__ = "people"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    source_version: Mapped[int] = mapped_column(Integer, nullable=False)


class LessonSchedule(Base):
    """What communication knows of each lesson, from learning's events: who,
    what, when, and where it stands; for reminders, texts and video sessions."""
    __tablename__ = "lesson_schedule"
    __table_args__ = (Index("ix_lesson_schedule_due_reminder", "scheduled_at",
                            postgresql_where=text("reminded_at IS NULL")),)

    lesson_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    course_title: Mapped[str] = mapped_column(String(200), nullable=False)
    student_user_id: Mapped[uuid.UUID] = user_ref()
    tutor_user_id: Mapped[uuid.UUID] = user_ref()
    student_name: Mapped[str] = mapped_column(String(200), nullable=False)
    tutor_name: Mapped[str] = mapped_column(String(200), nullable=False)
    scheduled_at = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    reminded_at = mapped_column(DateTime(timezone=True), nullable=True)


class Activity(Base):
    """Each user's stream of what arrived for them (a message, a
    notification), numbered in order: live clients are told of new rows and
    a reconnecting client asks for the rows after the last one it saw."""
    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = user_ref()
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # message | notification
    ref_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    created_at = created_at()


class VideoSession(Base):
    __tablename__ = "video_sessions"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at",
                        name="ck_video_sessions_order"),
        UniqueConstraint("lesson_id", name="uq_video_sessions_lesson_id"),
        UniqueConstraint("room", name="uq_video_sessions_room"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    lesson_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # The unguessable room name: the provider's callbacks name it.
    room: Mapped[str] = mapped_column(String(100), nullable=False)
    meeting_url: Mapped[str] = mapped_column(String(500), nullable=False)
    started_at = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at = mapped_column(DateTime(timezone=True), nullable=True)
    recording_url: Mapped[str | None] = mapped_column(String(500), nullable=True)


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
# Sessions identity ended: its operator entrypoints check admins' tokens
# (services/common/revocations.py).
RevokedSession = revoked_sessions_model(Base)
# The mails this service sends (services/common/mail.py).
MailOutbox = mail_outbox_model(Base)
