"""Communication's copy of each user's name and address, from identity's
user events: for the texts and mails it writes.

Every user event carries a full snapshot and the user's version, so
applying one is an upsert guarded by ``source_version``: events may arrive
twice or out of order, and the newest version still wins (as in
services/learning/user_copies.py)."""
import uuid

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy.dialects.postgresql import insert

from services.communication.models import Person

MAX_VERSION = 2 ** 31 - 1  # source_version is an INTEGER column


class UserSnapshot(Schema):
    """What communication reads of identity's user_created, user_updated and
    user_deactivated, version 1 (docs/events.md)."""
    class Meta:
        unknown = EXCLUDE

    user_id = fields.UUID(required=True)
    email = fields.Email(required=True, validate=validate.Length(max=255))
    first_name = fields.String(required=True, validate=validate.Length(max=100))
    last_name = fields.String(required=True, validate=validate.Length(max=100))
    role = fields.String(required=True, validate=validate.OneOf(["student", "tutor", "admin"]))
    status = fields.String(required=True, validate=validate.OneOf(["active", "suspended", "deactivated"]))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_VERSION))


def apply_user_event(uow, data):
    """Insert the copy, or overwrite it when the event's version is newer."""
    values = {"email": data["email"], "first_name": data["first_name"], "last_name": data["last_name"],
              "role": data["role"], "status": data["status"], "source_version": data["version"]}
    uow.session.execute(insert(Person).values(user_id=data["user_id"], **values).on_conflict_do_update(
        index_elements=[Person.user_id], set_=values, where=Person.source_version < data["version"]))


def person(session, user_id):
    """The copy of one user, or None when no event about them has arrived."""
    return session.get(Person, uuid.UUID(str(user_id))) if user_id is not None else None


def full_name(row):
    return "{} {}".format(row.first_name, row.last_name).strip()


def name_of(session, user_id, default="Someone"):
    """The user's name for a text, or ``default`` when it is not known."""
    row = person(session, user_id)
    return (full_name(row) if row is not None else "") or default
