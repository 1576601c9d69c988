"""marshmallow payload schemas for learning's RPC entrypoints."""
import zoneinfo

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from services.common.schemas import (AtLeastOneField, StrictSchema, Trimmed, UniqueList, UtcDateTime, currency_field,
                                     money_field)
from services.learning.models import LessonStatus
from services.learning import languages, subjects
from services.learning.rules import slots_overlap


def _short_text(max_len, required=True):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_len))


class Subject(Trimmed):
    """Stored and searched folded (services/learning/subjects.py), so
    "  Maths  " is "maths"."""

    def _deserialize(self, value, attr, data, **kwargs):
        return subjects.normalise(super()._deserialize(value, attr, data, **kwargs))


class LanguageCode(fields.String):
    """An ISO 639-1 code on the shipped list (services/learning/languages.py),
    any case, stored as ``en`` or ``pt-BR``."""

    def _deserialize(self, value, attr, data, **kwargs):
        code = languages.normalise(super()._deserialize(value, attr, data, **kwargs))
        if code is None:
            raise ValidationError("Use an ISO 639-1 language code such as en or pt-BR.")
        return code


class TutorProfileSchema(StrictSchema):
    hourly_rate = money_field(min_amount=100)
    currency = currency_field()
    subjects = UniqueList(Subject(validate=validate.Length(min=1, max=100)), required=True,
                          validate=validate.Length(min=1, max=20))
    languages = UniqueList(LanguageCode(), required=True, validate=validate.Length(min=1, max=10))
    bio = fields.String(load_default="", validate=validate.Length(max=5000))
    timezone = fields.String(load_default="UTC", validate=validate.Length(max=64))
    # The fields a tutor must give when their profile is first set
    # (services/learning/tutors.py, set_profile); later calls change only what they name.
    TO_CREATE = ("hourly_rate", "subjects", "languages")

    @validates("timezone")
    def _known_zone(self, value, **kwargs):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin.")


class TutorProfileUpdateSchema(TutorProfileSchema, AtLeastOneField):
    """Loaded with ``partial=True``: only the fields given change (no
    defaults are filled in), so leaving ``bio`` out keeps the bio."""


class VerifyTutorSchema(StrictSchema):
    is_verified = fields.Boolean(required=True)


class SearchSchema(StrictSchema):
    subject = Subject(load_default=None, validate=validate.Length(min=1, max=100))
    language = LanguageCode(load_default=None)
    max_rate = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=0))
    verified_only = fields.Boolean(load_default=False)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))


class SlotSchema(StrictSchema):
    day_of_week = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=6))
    start_time = fields.Time(required=True, format="%H:%M")
    end_time = fields.Time(required=True, format="%H:%M")

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data["end_time"] <= data["start_time"]:
            raise ValidationError("Must be after start_time.", "end_time")


class AvailabilitySchema(StrictSchema):
    slots = fields.List(fields.Nested(SlotSchema), required=True, validate=validate.Length(max=100))

    @validates_schema
    def _no_overlaps(self, data, **kwargs):
        j = slots_overlap(data["slots"])
        if j is not None:
            raise ValidationError({str(j): ["Overlaps another slot on the same day."]}, "slots")


class CourseSchema(StrictSchema):
    title = _short_text(200)
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    price = money_field()
    currency = currency_field()
    duration = fields.Integer(strict=True, required=True, validate=validate.Range(min=15, max=480))


class CourseUpdateSchema(CourseSchema, AtLeastOneField):
    """Loaded with ``partial=True``: only the fields given change."""


class BookLessonSchema(StrictSchema):
    course_id = fields.UUID(required=True)
    scheduled_at = UtcDateTime(required=True)


class BookableSlotsSchema(StrictSchema):
    """Named as the gateway's arguments (courseId, days, timezone), so
    errors name what the client sent."""
    course_id = fields.UUID(required=True)
    days = fields.Integer(strict=True, load_default=14, validate=validate.Range(min=1, max=60))
    timezone = fields.String(load_default="UTC", validate=validate.Length(max=64))

    @validates("timezone")
    def _known_zone(self, value, **kwargs):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin.")


class LessonPageSchema(StrictSchema):
    """One page of a user's lessons: ``from``/``to`` bound ``scheduled_at``
    (from inclusive, to exclusive), oldest first."""
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in LessonStatus]))
    from_ = UtcDateTime(load_default=None, data_key="from")
    to = UtcDateTime(load_default=None)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] <= data["from_"]:
            raise ValidationError("Must be after from.", "to")


class CancelLessonSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class OpenMatchingRequestsSchema(StrictSchema):
    """Named as the gateway's arguments, so errors name what the client sent."""
    first = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))
    after = fields.String(load_default=None, validate=validate.Length(max=200))


class MatchingRequestSchema(StrictSchema):
    subject = _short_text(100)
    budget = money_field()
    currency = currency_field()
    requirements = fields.String(load_default="", validate=validate.Length(max=5000))
