"""The events identity publishes on ``identity.events`` (docs/events.md).

Every user event carries a full snapshot of the user and the user's
``version``, so a consumer can apply events that arrive twice or out of
order and keep the newest. Add fields, never rename: other services and
outside consumers read these.
"""
from marshmallow import fields, validate

from services.common.contracts import EventSchema, Published, contract

ROLES = ("student", "tutor", "admin")
STATUSES = ("active", "suspended", "deactivated")
CHANGEABLE = ("email", "first_name", "last_name", "status", "bio", "preferences", "settings")


class UserSnapshot(EventSchema):
    user_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class UserUpdated(UserSnapshot):
    changes = fields.List(fields.String(validate=validate.OneOf(CHANGEABLE)), required=True,
                          validate=validate.Length(min=1))


PUBLISHED = Published(
    "identity",
    contract("user_created", 1, UserSnapshot),
    contract("user_updated", 1, UserUpdated),
    contract("user_deactivated", 1, UserSnapshot),
)


def snapshot(user):
    """The data of every user event, from a ``User`` row."""
    return {"user_id": str(user.id), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "role": user.role.value, "status": user.status.value,
            "version": user.version}
