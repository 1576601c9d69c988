"""Tables of ``edtech_learning_db`` and nothing else (docs/architecture.md).

``students`` and ``tutors`` hold learning's own copy of a user's email and
name, kept in step by identity's events; ``source_version`` is the newest
user version applied, so an older event can never overwrite a newer one.
"""
import enum
import uuid

from sqlalchemy import (ARRAY, Boolean, CheckConstraint, DateTime, ForeignKey, Index,
                        Integer, SmallInteger, String, Text, Time, func, text)
from sqlalchemy.dialects.postgresql import ExcludeConstraint, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.eventstore import event_store_models
from services.common.revocations import revoked_sessions_model
from services.common.modeling import currency_check, currency_column, money_column, pg_enum, uuid_pk


class Base(DeclarativeBase):
    pass


class LessonStatus(str, enum.Enum):
    requested = "requested"
    confirmed = "confirmed"
    completed = "completed"
    cancelled = "cancelled"
    # A priced lesson until payment's payment_succeeded arrives (then
    # requested), or until payment_due_at passes (then expired).
    awaiting_payment = "awaiting_payment"
    expired = "expired"


# The statuses that hold a tutor's time: the exclusion constraint
# ex_lessons_tutor_no_overlap below and the bookable slots
# (services/learning/slots.py) both read this.
HOLDS_SLOT = (LessonStatus.awaiting_payment, LessonStatus.requested, LessonStatus.confirmed)
HOLDS_SLOT_SQL = "status IN ({})".format(", ".join("'{}'".format(s.value) for s in HOLDS_SLOT))


class CourseStatus(str, enum.Enum):
    active = "active"
    archived = "archived"


class MatchingRequestStatus(str, enum.Enum):
    open = "open"
    closed = "closed"


class UserCopyMixin:
    """The fields learning copies from identity, and the copy's version."""
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    name: Mapped[str] = mapped_column(String(201), nullable=False)
    user_status: Mapped[str] = mapped_column(String(20), nullable=False, default="active",
                                             server_default="active")
    source_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                               onupdate=func.now())


class Tutor(UserCopyMixin, Base):
    __tablename__ = "tutors"
    __table_args__ = (
        currency_check("tutors"),
        CheckConstraint("hourly_rate IS NULL OR hourly_rate BETWEEN 0 AND 100000000",
                        name="ck_tutors_hourly_rate"),
        Index("ix_tutors_subjects", "subjects", postgresql_using="gin"),
        Index("ix_tutors_languages", "languages", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    hourly_rate: Mapped[int | None] = money_column(nullable=True)  # cents
    currency: Mapped[str] = currency_column()
    subjects: Mapped[list] = mapped_column(ARRAY(String(100)), nullable=False, default=list,
                                           server_default=text("'{}'"))
    languages: Mapped[list] = mapped_column(ARRAY(String(35)), nullable=False, default=list,
                                            server_default=text("'{}'"))
    bio: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # IANA zone name in which the tutor's weekly availability is written.
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC", server_default="UTC")
    is_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")


class Student(UserCopyMixin, Base):
    __tablename__ = "students"

    id: Mapped[uuid.UUID] = uuid_pk()
    learning_goals: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    preferred_languages: Mapped[list] = mapped_column(ARRAY(String(35)), nullable=False, default=list,
                                                      server_default=text("'{}'"))


class TutorAvailability(Base):
    """A weekly slot in the tutor's own time zone (``tutors.timezone``):
    booking checks convert the lesson's UTC time into that zone, so they stay
    right across daylight-saving changes."""
    __tablename__ = "tutor_availability"
    __table_args__ = (
        CheckConstraint("day_of_week BETWEEN 0 AND 6", name="ck_tutor_availability_day"),
        CheckConstraint("end_time > start_time", name="ck_tutor_availability_order"),
        Index("ix_tutor_availability_tutor_day", "tutor_id", "day_of_week"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tutor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tutors.id", ondelete="CASCADE"),
                                                nullable=False)
    day_of_week: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # 0 = Monday, ISO order
    start_time = mapped_column(Time, nullable=False)
    end_time = mapped_column(Time, nullable=False)


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        currency_check("courses"),
        CheckConstraint("price BETWEEN 0 AND 100000000", name="ck_courses_price"),
        CheckConstraint("duration BETWEEN 15 AND 480", name="ck_courses_duration"),
        Index("ix_courses_tutor_id", "tutor_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tutor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tutors.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    price: Mapped[int] = money_column(nullable=False)  # cents per lesson
    currency: Mapped[str] = currency_column()
    duration: Mapped[int] = mapped_column(Integer, nullable=False)  # minutes
    status: Mapped[CourseStatus] = mapped_column(pg_enum(CourseStatus, "course_status"), nullable=False,
                                                 default=CourseStatus.active, server_default="active")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                               onupdate=func.now())


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (
        CheckConstraint("ends_at > scheduled_at", name="ck_lessons_order"),
        # The database itself refuses a tutor double-booking: no two live
        # lessons of one tutor (unpaid ones included) may overlap in time.
        ExcludeConstraint(
            ("tutor_id", "="),
            (text("tstzrange(scheduled_at, ends_at, '[)')"), "&&"),
            name="ex_lessons_tutor_no_overlap",
            using="gist",
            where=text(HOLDS_SLOT_SQL),
        ),
        Index("ix_lessons_student_id", "student_id", "scheduled_at"),
        Index("ix_lessons_tutor_id", "tutor_id", "scheduled_at"),
        # The expiry timer's claim (lessons.claim_overdue) reads only unpaid lessons.
        Index("ix_lessons_payment_due_at", "payment_due_at",
              postgresql_where=text("status = 'awaiting_payment'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    course_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("courses.id"), nullable=False)
    tutor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tutors.id"), nullable=False)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("students.id"), nullable=False)
    scheduled_at = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[LessonStatus] = mapped_column(pg_enum(LessonStatus, "lesson_status"), nullable=False,
                                                 default=LessonStatus.requested, server_default="requested")
    meeting_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    cancelled_by_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When an awaiting_payment lesson expires unpaid; null for a free lesson.
    payment_due_at = mapped_column(DateTime(timezone=True), nullable=True)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                               onupdate=func.now())


class MatchingRequest(Base):
    __tablename__ = "matching_requests"
    __table_args__ = (
        currency_check("matching_requests"),
        CheckConstraint("budget BETWEEN 0 AND 100000000", name="ck_matching_requests_budget"),
        Index("ix_matching_requests_student_id", "student_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("students.id"), nullable=False)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    budget: Mapped[int] = money_column(nullable=False)  # cents per hour
    currency: Mapped[str] = currency_column()
    requirements: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    status: Mapped[MatchingRequestStatus] = mapped_column(
        pg_enum(MatchingRequestStatus, "matching_request_status"), nullable=False,
        default=MatchingRequestStatus.open, server_default="open")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    closed_at = mapped_column(DateTime(timezone=True), nullable=True)


# The event machinery's tables, in this service's own database.
OutboxEvent, InboxEvent, FailedEvent = event_store_models(Base)
# Sessions identity ended, so Auth refuses their tokens here (services/common/revocations.py).
RevokedSession = revoked_sessions_model(Base)
