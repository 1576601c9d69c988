"""The events identity publishes on ``identity.events`` (docs/events.md).

Every user event carries a full snapshot of the user and the user's
``version``, so a consumer can apply events that arrive twice or out of
order and keep the newest. ``session_revoked`` names sessions that ended,
so services that check tokens refuse theirs at once. Add fields, never
rename: other services and outside consumers read these.
"""
from datetime import timedelta, timezone

from marshmallow import fields, validate

from services.common.auth import ACCESS_TOKEN_TTL
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


class SessionRevoked(EventSchema):
    user_id = fields.UUID(required=True)
    session_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    revoked_at = fields.AwareDateTime(required=True)
    until = fields.AwareDateTime(required=True)


PUBLISHED = Published(
    "identity",
    contract("user_created", 1, UserSnapshot),
    contract("user_updated", 1, UserUpdated),
    contract("user_deactivated", 1, UserSnapshot),
    contract("session_revoked", 1, SessionRevoked),
)


def snapshot(user):
    """The data of every user event, from a ``User`` row."""
    return {"user_id": str(user.id), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "role": user.role.value, "status": user.status.value,
            "version": user.version}


def revocation(user_id, session_ids, revoked_at):
    """The data of ``session_revoked``. ``until``: no access token of these
    sessions verifies after it (each was issued before ``revoked_at`` and
    lives ACCESS_TOKEN_TTL), so consumers may forget the sessions then."""
    revoked_at = revoked_at.astimezone(timezone.utc)
    return {"user_id": str(user_id), "session_ids": [str(s) for s in session_ids],
            "revoked_at": revoked_at.isoformat(),
            "until": (revoked_at + timedelta(seconds=ACCESS_TOKEN_TTL)).isoformat()}
