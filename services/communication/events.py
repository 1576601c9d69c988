"""The events communication publishes on ``communication.events``
(docs/events.md; the design in docs/communication.md).

None carries what people wrote: messages and notifications are read over
RPC by those allowed to, so an outside consumer bound to these learns that
something happened, never what was said. ``video_session_created`` carries
the meeting's URL and is granted to learning alone (services/common/broker.py).
"""
from marshmallow import fields, validate

from services.common.contracts import EventSchema, Published, contract


class ActivityAdded(EventSchema):
    user_id = fields.UUID(required=True)
    activity_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(("message", "notification")))


class MessageSent(EventSchema):
    message_id = fields.UUID(required=True)
    conversation_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True, allow_none=True)
    sender_user_id = fields.UUID(required=True, allow_none=True)   # null for the platform's own lines
    recipient_user_ids = fields.List(fields.UUID(), required=True)
    message_type = fields.String(required=True, validate=validate.OneOf(("text", "system")))
    sent_at = fields.AwareDateTime(required=True)


class VideoSessionCreated(EventSchema):
    video_session_id = fields.UUID(required=True)
    lesson_id = fields.UUID(required=True)
    meeting_url = fields.String(required=True)


PUBLISHED = Published(
    "communication",
    contract("activity_added", 1, ActivityAdded),
    contract("message_sent", 1, MessageSent),
    contract("video_session_created", 1, VideoSessionCreated),
)
