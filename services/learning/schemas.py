"""marshmallow payload schemas for learning's RPC entrypoints."""
import zoneinfo

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from services.common.schemas import (AtLeastOneField, StrictSchema, Trimmed, UniqueList, UtcDateTime, currency_field,
                                     money_field)
from services.learning.rules import slots_overlap


def _short_text(max_len, required=True):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_len))


class TutorProfileSchema(StrictSchema):
    hourly_rate = money_field(min_amount=100)
    currency = currency_field()
    subjects = UniqueList(Trimmed(validate=validate.Length(min=1, max=100)), required=True,
                          validate=validate.Length(min=1, max=20))
    languages = UniqueList(Trimmed(validate=validate.Regexp(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?\Z",
                                                                  error="Use a language code such as en or pt-BR.")),
                            required=True, validate=validate.Length(min=1, max=10))
    bio = fields.String(load_default="", validate=validate.Length(max=5000))
    timezone = fields.String(load_default="UTC", validate=validate.Length(max=64))

    @validates("timezone")
    def _known_zone(self, value, **kwargs):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin.")


class VerifyTutorSchema(StrictSchema):
    is_verified = fields.Boolean(required=True)


class SearchSchema(StrictSchema):
    subject = Trimmed(load_default=None, validate=validate.Length(min=1, max=100))
    language = Trimmed(load_default=None, validate=validate.Length(min=2, max=15))
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


class CancelLessonSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class MatchingRequestSchema(StrictSchema):
    subject = _short_text(100)
    budget = money_field()
    currency = currency_field()
    requirements = fields.String(load_default="", validate=validate.Length(max=5000))
