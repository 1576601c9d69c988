"""What each user wants of each notification type: in the app, by email.
No row means the type's defaults (``notifications.TYPES``); a change names
only the types and channels it changes."""
from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.common.schemas import StrictSchema
from services.common.validation import load
from services.communication.models import NotificationPreference
from services.communication.notifications import TYPES


def _flag(**kwargs):
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)  # JSON true or false, nothing else


class PreferenceChange(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(list(TYPES)))
    in_app = _flag(data_key="inApp")
    email = _flag()

    @validates_schema
    def _a_channel(self, data, **kwargs):
        if "in_app" not in data and "email" not in data:
            raise ValidationError("Give inApp, email or both.", "_schema")


class PreferenceChanges(StrictSchema):
    preferences = fields.List(fields.Nested(PreferenceChange), required=True,
                              validate=validate.Length(min=1, max=len(TYPES)))

    @validates_schema
    def _each_type_once(self, data, **kwargs):
        types = [c["type"] for c in data.get("preferences", [])]
        if len(types) != len(set(types)):
            raise ValidationError("Name each type once.", "preferences")


def load_changes(payload):
    """``{"preferences": [{"type", "inApp"?, "email"?}, ...]}`` → ``[{"type", "in_app"?, "email"?}]``;
    ``BadInput`` naming ``preferences`` and the item's index otherwise."""
    return load(PreferenceChanges(), payload)["preferences"]


def of_user(session, user_id):
    """Every type, in order, with the user's choice or its defaults."""
    chosen = {row.type: row for row in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        .execution_options(populate_existing=True))}
    out = []
    for name, kind in TYPES.items():
        row = chosen.get(name)
        out.append({"type": name, "label": kind.label,
                    "in_app": row.in_app if row is not None else kind.in_app,
                    "email": row.email if row is not None else kind.email})
    return out


def update(uow, user_id, changes):
    """Set only the channels named in ``changes`` (from ``load_changes``);
    returns ``of_user``."""
    table = NotificationPreference
    for change in changes:
        default = TYPES[change["type"]]
        given = {k: change[k] for k in ("in_app", "email") if k in change}
        uow.session.execute(insert(table).values(
            user_id=user_id, type=change["type"], in_app=given.get("in_app", default.in_app),
            email=given.get("email", default.email)).on_conflict_do_update(
                index_elements=[table.user_id, table.type], set_=dict(given, updated_at=func.now())))
    return of_user(uow.session, user_id)
