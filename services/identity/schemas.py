"""marshmallow payload schemas for identity's RPC entrypoints.

``services.common.validation.load`` runs them (refusing NUL characters in
any field first) and turns their messages into ``BadInput`` with field
details.
"""
import json
import math
import unicodedata

from marshmallow import ValidationError, fields, pre_load, validate, validates, validates_schema

from services.common.schemas import AtLeastOneField, StrictSchema
from services.identity.passwords import weakness

ROLES = ("student", "tutor", "admin")
SELF_REGISTER_ROLES = ("student", "tutor")
STATUSES = ("active", "suspended", "deactivated")
MAX_OBJECT_KEYS = 50
MAX_OBJECT_BYTES = 10_000
MAX_OBJECT_DEPTH = 10


def _no_control_characters(value):
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationError("Must not contain control characters.")


def _not_weak(value):
    """Common and one-character passwords; the email check needs the whole
    payload (RegisterSchema) or the account (sessions.reset_password)."""
    if len(value) >= MIN_PASSWORD and (problem := weakness(value)):
        raise ValidationError(problem)


NAME = [validate.Length(min=1, max=100), _no_control_characters]
# The common-password list keeps only entries at least this long
# (services/identity/data/common_passwords.txt): change both together.
MIN_PASSWORD = 10
PASSWORD = [validate.Length(min=MIN_PASSWORD, max=128), _not_weak]  # never stored, so any character may be in it
TOKEN = validate.Length(min=1, max=200)


def _strip(data, *names):
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
    return data


class EmailField(fields.Email):
    """Trimmed and lower-cased before it is checked, so one address is one user."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


class RegisterSchema(StrictSchema):
    email = EmailField(required=True)
    password = fields.String(required=True, validate=PASSWORD)
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    role = fields.String(required=True, validate=validate.OneOf(
        SELF_REGISTER_ROLES, error="Must be student or tutor (admins cannot self-register)."))

    @pre_load
    def _trim(self, data, **kwargs):
        return _strip(data, "first_name", "last_name")

    @validates_schema(skip_on_field_errors=False)
    def _password_is_not_the_email(self, data, **kwargs):
        # A field that failed its own checks is not in ``data``.
        if "password" in data and "email" in data and (problem := weakness(data["password"], data["email"])):
            raise ValidationError(problem, field_name="password")


class AdminSchema(RegisterSchema):
    """For the create-admin command only; no RPC accepts it."""
    role = fields.String(load_default="admin", validate=validate.OneOf(["admin"]))


class LoginSchema(StrictSchema):
    email = EmailField(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(required=True, validate=TOKEN)


class TokenSchema(StrictSchema):
    token = fields.String(required=True, validate=TOKEN)


class PasswordResetRequestSchema(StrictSchema):
    email = EmailField(required=True)


class FindUserSchema(StrictSchema):
    """``find_user_by_email``: the address as the user typed it at sign-up
    is found, whatever its case or surrounding spaces."""
    email = EmailField(required=True)


class PasswordResetSchema(StrictSchema):
    token = fields.String(required=True, validate=TOKEN)
    new_password = fields.String(required=True, validate=PASSWORD)


def _small_object(value):
    """A JSON object small enough to keep in a profile row, and storable in
    JSONB (no NaN or infinity)."""
    if len(value) > MAX_OBJECT_KEYS:
        raise ValidationError("At most {} keys.".format(MAX_OBJECT_KEYS))
    _check_json_values(value)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_OBJECT_BYTES:
        raise ValidationError("At most {} bytes as JSON.".format(MAX_OBJECT_BYTES))


def _check_json_values(root):
    """Iterative, so a deeply nested value cannot exhaust the stack."""
    pending = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_OBJECT_DEPTH:
            raise ValidationError("Nested more than {} levels deep.".format(MAX_OBJECT_DEPTH))
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("Numbers must be finite.")


def _json_object():
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)), validate=_small_object)


class UpdateUserSchema(AtLeastOneField):
    """Partial: only the fields given change; at least one is needed."""
    email = EmailField()
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    bio = fields.String(validate=validate.Length(max=5000))
    preferences = _json_object()
    settings = _json_object()

    @pre_load
    def _trim(self, data, **kwargs):
        return _strip(data, "first_name", "last_name")


class StatusSchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class ListUsersSchema(StrictSchema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(strict=True, load_default=50, validate=validate.Range(min=1, max=500))
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))

    @validates("cursor")
    def _not_blank(self, value, **kwargs):
        if value is not None and not value.strip():
            raise ValidationError("Must not be blank.")
