"""The welcome notification each new user gets."""
from marshmallow import Schema, fields, validate

from services.communication.models import Notification


class NewUser(Schema):
    """What communication reads of identity's user_created, version 1 (docs/events.md)."""
    user_id = fields.UUID(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


def welcome(uow, event):
    uow.session.add(Notification(
        user_id=event.data["user_id"], type="welcome", title="Welcome to the tutoring marketplace",
        content="Hi {}, your account is ready. Find a tutor and book your first lesson.".format(
            event.data["first_name"]),
        source_event_id=event.event_id))
