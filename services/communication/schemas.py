"""marshmallow schemas for communication's RPC payloads, and for the parts
of other services' events it reads (their contracts are theirs:
docs/events.md). Payload fields are named as the gateway's arguments, so an
error names what the client sent."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates, validates_schema

from services.common.schemas import StrictSchema, Trimmed

MAX_MESSAGE_CHARS = 4000


class StartConversationSchema(StrictSchema):
    tutor_user_id = fields.UUID(required=True, data_key="tutorUserId")


class SendMessageSchema(StrictSchema):
    conversation_id = fields.UUID(required=True, data_key="conversationId")
    content = fields.String(required=True, validate=validate.Length(min=1, max=MAX_MESSAGE_CHARS))
    # The app's own id for the message: a retried send with the same id is stored once.
    client_message_id = fields.String(load_default=None, data_key="clientMessageId",
                                      validate=validate.Length(min=1, max=100))

    @validates("content")
    def _not_blank(self, value, **kwargs):
        if not value.strip():
            raise ValidationError("Write something: the message is blank.")


class PageSchema(StrictSchema):
    first = fields.Integer(strict=True, load_default=20, validate=validate.Range(min=1, max=100))
    after = fields.String(load_default=None, validate=validate.Length(max=200))


class MessagePageSchema(PageSchema):
    """An admin reads only with a reason, which is kept (docs/communication.md)."""
    reason = Trimmed(load_default=None, validate=validate.Length(min=3, max=500))


class ConversationReadSchema(StrictSchema):
    reason = Trimmed(load_default=None, validate=validate.Length(min=3, max=500))


class RecordingCallbackSchema(Schema):
    """What the video provider reports when a recording is ready."""
    class Meta:
        unknown = EXCLUDE

    room = fields.String(required=True, validate=validate.Length(min=8, max=100))
    recording_url = fields.Url(required=True, schemes={"https", "http"}, validate=validate.Length(max=500))


# Other services' events, as far as communication reads them.

class _LessonEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    scheduled_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True)


class LessonBooked(_LessonEvent):
    course_title = fields.String(required=True)
    student_name = fields.String(required=True)
    tutor_name = fields.String(required=True)
    payment_due_at = fields.AwareDateTime(required=True, allow_none=True)
    price = fields.Integer(required=True)
    currency = fields.String(required=True)


class LessonChanged(_LessonEvent):
    """lesson_paid, lesson_confirmed, lesson_completed, lesson_expired."""


class LessonCancelled(_LessonEvent):
    cancelled_by_role = fields.String(required=True, validate=validate.OneOf(("student", "tutor")))
    cancel_reason = fields.String(required=True, allow_none=True)


class PaymentEvent(Schema):
    """payment_succeeded, payment_failed (payment's docs/events.md section)."""
    class Meta:
        unknown = EXCLUDE

    payment_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    message = fields.String(load_default=None)


class RefundEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    refund_id = fields.UUID(required=True)
    payment_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)


class PayoutEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    payout_id = fields.UUID(required=True)
    tutor_user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)


class MarkNotificationsReadSchema(StrictSchema):
    """Either ``ids`` (up to 100) or ``all``: true."""
    ids = fields.List(fields.UUID(), load_default=None, validate=validate.Length(min=1, max=100))
    all = fields.Boolean(load_default=False)

    @validates_schema
    def _one_of(self, data, **kwargs):
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give ids, or all: true (not both).", "ids")


class NotificationPageSchema(PageSchema):
    unread_only = fields.Boolean(load_default=False, data_key="unreadOnly")
