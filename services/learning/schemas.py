"""marshmallow payload schemas for learning's RPC entrypoints."""
import zoneinfo

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

MAX_LESSON_PRICE = 100_000       # cents: 1,000.00 a lesson is already far above any real rate
MAX_HOURLY_RATE = 100_000        # cents an hour
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="Must be a 3-letter ISO currency code in capitals.")


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _short_text(max_len, required=True):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_len))


class TutorProfileSchema(Strict):
    hourly_rate = fields.Integer(strict=True, required=True, validate=validate.Range(min=100, max=MAX_HOURLY_RATE))
    currency = fields.String(load_default="USD", validate=CURRENCY)
    subjects = fields.List(_short_text(100), required=True, validate=validate.Length(min=1, max=20))
    languages = fields.List(fields.String(validate=validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
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


class VerifyTutorSchema(Strict):
    is_verified = fields.Boolean(required=True)


class SearchSchema(Strict):
    subject = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    language = fields.String(load_default=None, validate=validate.Length(min=2, max=15))
    max_rate = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=0))
    verified_only = fields.Boolean(load_default=False)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))


class SlotSchema(Strict):
    day_of_week = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=6))
    start_time = fields.Time(required=True, format="%H:%M")
    end_time = fields.Time(required=True, format="%H:%M")

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data["end_time"] <= data["start_time"]:
            raise ValidationError("Must be after start_time.", "end_time")


class AvailabilitySchema(Strict):
    slots = fields.List(fields.Nested(SlotSchema), required=True, validate=validate.Length(max=100))

    @validates_schema
    def _no_overlaps(self, data, **kwargs):
        slots = sorted(enumerate(data["slots"]), key=lambda s: (s[1]["day_of_week"], s[1]["start_time"]))
        for (_, a), (j, b) in zip(slots, slots[1:]):
            if a["day_of_week"] == b["day_of_week"] and b["start_time"] < a["end_time"]:
                raise ValidationError({str(j): ["Overlaps another slot on the same day."]}, "slots")


class CourseSchema(Strict):
    title = _short_text(200)
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    price = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=MAX_LESSON_PRICE))
    currency = fields.String(load_default="USD", validate=CURRENCY)
    duration = fields.Integer(strict=True, required=True, validate=validate.Range(min=15, max=480))


class CourseUpdateSchema(CourseSchema):
    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class BookLessonSchema(Strict):
    course_id = fields.UUID(required=True)
    scheduled_at = fields.AwareDateTime(required=True, format="iso")


class CancelLessonSchema(Strict):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class MatchingRequestSchema(Strict):
    subject = _short_text(100)
    budget = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=MAX_HOURLY_RATE))
    currency = fields.String(load_default="USD", validate=CURRENCY)
    requirements = fields.String(load_default="", validate=validate.Length(max=5000))


class IdListSchema(Strict):
    ids = fields.List(fields.UUID(), required=True, validate=validate.Length(max=500))
