"""The events learning publishes on ``learning.events`` (docs/events.md).

Money is integer cents with an ISO currency code; times are ISO-8601 UTC.
Add fields, never rename: payment, communication, ai, analytics and outside
consumers read these.
"""
from marshmallow import fields, validate

from services.common.contracts import EventSchema, Published, contract
from services.common.schemas import CURRENCY_PATTERN

CURRENCY = validate.Regexp(CURRENCY_PATTERN)
LESSON_STATUSES = ("awaiting_payment", "requested", "confirmed", "completed", "cancelled", "expired")


class TutorProfile(EventSchema):
    id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    name = fields.String(required=True)
    hourly_rate = fields.Integer(required=True, allow_none=True, strict=True)
    currency = fields.String(required=True, validate=CURRENCY)
    subjects = fields.List(fields.String(), required=True)
    languages = fields.List(fields.String(), required=True)
    bio = fields.String(required=True)
    timezone = fields.String(required=True)
    is_verified = fields.Boolean(required=True)


class Course(EventSchema):
    id = fields.UUID(required=True)
    tutor_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=CURRENCY)
    duration = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    status = fields.String(required=True, validate=validate.OneOf(("active", "archived")))
    created_at = fields.AwareDateTime(required=True, allow_none=True)


class CourseUpdated(Course):
    changes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class Lesson(EventSchema):
    id = fields.UUID(required=True)
    course_id = fields.UUID(required=True)
    tutor_id = fields.UUID(required=True)
    student_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    scheduled_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(LESSON_STATUSES))
    meeting_url = fields.String(required=True, allow_none=True)
    cancelled_by_user_id = fields.UUID(required=True, allow_none=True)
    cancel_reason = fields.String(required=True, allow_none=True)
    # When an awaiting_payment lesson expires unpaid; null for a free lesson.
    payment_due_at = fields.AwareDateTime(required=True, allow_none=True)


class LessonBooked(Lesson):
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=CURRENCY)
    # For payment's charge description and invoice (learning's copies of the users).
    course_title = fields.String(required=True)
    student_name = fields.String(required=True)
    student_email = fields.String(required=True)
    tutor_name = fields.String(required=True)


class LessonCancelled(Lesson):
    cancelled_by_role = fields.String(required=True, validate=validate.OneOf(("student", "tutor")))
    cancelled_at = fields.AwareDateTime(required=True)


class MatchingRequest(EventSchema):
    id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    subject = fields.String(required=True)
    budget = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=CURRENCY)
    requirements = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("open",)))
    created_at = fields.AwareDateTime(required=True, allow_none=True)
    closed_at = fields.AwareDateTime(required=True, allow_none=True)


PUBLISHED = Published(
    "learning",
    contract("tutor_profile_updated", 1, TutorProfile),
    contract("course_created", 1, Course),
    contract("course_updated", 1, CourseUpdated),
    contract("course_archived", 1, Course),
    contract("lesson_booked", 1, LessonBooked),
    contract("lesson_confirmed", 1, Lesson),
    contract("lesson_completed", 1, Lesson),
    contract("lesson_cancelled", 1, LessonCancelled),
    contract("lesson_paid", 1, Lesson),
    contract("lesson_expired", 1, Lesson),
    contract("matching_request_created", 1, MatchingRequest),
)
