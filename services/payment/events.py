"""The events payment publishes on ``payment.events`` (docs/events.md; the
saga they take part in is in docs/payments.md).

Money is integer minor units with an ISO currency code; times are ISO-8601
UTC. Add fields, never rename: learning, communication, analytics and
outside consumers read these.
"""
from marshmallow import fields, validate

from services.common.contracts import EventSchema, Published, contract
from services.common.schemas import CURRENCY_PATTERN

CURRENCY = validate.Regexp(CURRENCY_PATTERN)
MONEY = validate.Range(min=0)


class Payment(EventSchema):
    payment_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, strict=True, validate=MONEY)
    platform_fee = fields.Integer(required=True, strict=True, validate=MONEY)
    currency = fields.String(required=True, validate=CURRENCY)
    stripe_payment_intent_id = fields.String(required=True, allow_none=True)


class PaymentSucceeded(Payment):
    succeeded_at = fields.AwareDateTime(required=True)


class PaymentFailed(Payment):
    failure_code = fields.String(required=True)
    decline_code = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)


class PaymentCancelled(Payment):
    reason = fields.String(required=True, validate=validate.OneOf(("lesson_expired", "lesson_cancelled")))


class RefundSucceeded(EventSchema):
    refund_id = fields.UUID(required=True)
    payment_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    currency = fields.String(required=True, validate=CURRENCY)
    kind = fields.String(required=True, validate=validate.OneOf(("policy", "admin", "compensation")))
    reason = fields.String(required=True)
    amount_refunded = fields.Integer(required=True, strict=True, validate=MONEY)  # in all, this one included


class PayoutAccount(EventSchema):
    tutor_user_id = fields.UUID(required=True)
    onboarding_complete = fields.Boolean(required=True)
    charges_enabled = fields.Boolean(required=True)
    payouts_enabled = fields.Boolean(required=True)
    details_submitted = fields.Boolean(required=True)


class Payout(EventSchema):
    payout_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, strict=True, validate=MONEY)
    currency = fields.String(required=True, validate=CURRENCY)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("paid", "failed")))
    failure_code = fields.String(required=True, allow_none=True)


PUBLISHED = Published(
    "payment",
    contract("payment_succeeded", 1, PaymentSucceeded),
    contract("payment_failed", 1, PaymentFailed),
    contract("payment_cancelled", 1, PaymentCancelled),
    contract("refund_succeeded", 1, RefundSucceeded),
    contract("payout_account_updated", 1, PayoutAccount),
    contract("payout_paid", 1, Payout),
    contract("payout_failed", 1, Payout),
)
