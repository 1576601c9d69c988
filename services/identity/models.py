"""Tables of ``edtech_identity_db`` and nothing else (docs/architecture.md)."""
import enum
import uuid

from sqlalchemy import (CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text,
                        func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.eventstore import event_store_models
from services.common.mail import mail_outbox_model
from services.common.modeling import pg_enum


class Base(DeclarativeBase):
    pass


class Role(str, enum.Enum):
    student = "student"
    tutor = "tutor"
    admin = "admin"


class UserStatus(str, enum.Enum):
    active = "active"
    suspended = "suspended"
    deactivated = "deactivated"


class TokenType(str, enum.Enum):
    refresh = "refresh"
    email_verification = "email_verification"
    password_reset = "password_reset"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are stored normalised (lower case); the check keeps it so.
        CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        CheckConstraint("version >= 1", name="ck_users_version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[Role] = mapped_column(pg_enum(Role, "user_role"), nullable=False)
    status: Mapped[UserStatus] = mapped_column(pg_enum(UserStatus, "user_status"), nullable=False,
                                               default=UserStatus.active, server_default="active")
    email_verified_at = mapped_column(DateTime(timezone=True), nullable=True)
    # Per-user sequence carried by every user event, so consumers drop stale updates.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                               onupdate=func.now())

    profile = relationship("UserProfile", uselist=False, back_populates="user", lazy="joined")


class UserProfile(Base):
    __tablename__ = "user_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
                                               primary_key=True)
    bio: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    preferences: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb"))
    settings: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb"))

    user = relationship("User", back_populates="profile")


class UserSession(Base):
    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
                                               nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at = mapped_column(DateTime(timezone=True), nullable=True)


class AuthToken(Base):
    """Refresh, email-verification and password-reset tokens. Only a SHA-256
    of the token is stored: a leaked table gives no usable token."""
    __tablename__ = "auth_tokens"
    __table_args__ = (Index("ix_auth_tokens_user_id_type", "user_id", "type"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"),
                                               nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    type: Mapped[TokenType] = mapped_column(pg_enum(TokenType, "auth_token_type"), nullable=False)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("user_sessions.session_id", ondelete="CASCADE"), nullable=True)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at = mapped_column(DateTime(timezone=True), nullable=False)
    used_at = mapped_column(DateTime(timezone=True), nullable=True)


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
# The mails identity sends (verification, reset, the taken-address notice),
# queued with the change that causes them (services/common/mail.py).
MailOutbox = mail_outbox_model(Base)
