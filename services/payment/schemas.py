"""marshmallow schemas for payment's RPC payloads, and for the parts of
learning's events it reads (the contracts are learning's: docs/events.md).

Payload fields are named as the gateway's arguments, so an error names what
the client sent."""
from marshmallow import EXCLUDE, Schema, fields, validate

from services.common.schemas import CURRENCY_PATTERN, StrictSchema, Trimmed

# Stripe's ids are ASCII letters, digits and underscores ("pm_card_visa").
STRIPE_ID = validate.Regexp(r"[A-Za-z0-9_]{3,255}\Z", error="Not a Stripe payment method id such as pm_card_visa.")


class PayForLessonSchema(StrictSchema):
    lesson_id = fields.UUID(required=True, data_key="lessonId")
    payment_method_id = fields.String(required=True, validate=STRIPE_ID, data_key="paymentMethodId")


class RefundPaymentSchema(StrictSchema):
    """An admin's refund: ``amount`` in minor units (left out: all that is
    left), and the reason, which is kept with the refund."""
    amount = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))
    reason = Trimmed(required=True, validate=validate.Length(min=3, max=500))


class PageSchema(StrictSchema):
    first = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))
    after = fields.String(load_default=None, validate=validate.Length(max=200))


class RunPayoutsSchema(StrictSchema):
    """The Monday that starts the week to pay out; left out: the last week that has ended."""
    period_start = fields.Date(load_default=None, data_key="periodStart")


# learning's events, as far as payment reads them.

class _LessonEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    scheduled_at = fields.AwareDateTime(required=True)


class LessonBooked(_LessonEvent):
    course_id = fields.UUID(required=True)
    ends_at = fields.AwareDateTime(required=True)
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=validate.Regexp(CURRENCY_PATTERN))
    payment_due_at = fields.AwareDateTime(required=True, allow_none=True)
    course_title = fields.String(required=True)
    student_name = fields.String(required=True)
    student_email = fields.String(required=True)
    tutor_name = fields.String(required=True)


class LessonCancelled(_LessonEvent):
    cancelled_by_role = fields.String(required=True, validate=validate.OneOf(("student", "tutor")))
    cancelled_at = fields.AwareDateTime(required=True)


class LessonEnded(_LessonEvent):
    """lesson_expired and lesson_completed: which lesson is all payment needs."""
