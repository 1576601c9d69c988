"""marshmallow payload schemas for identity's RPC entrypoints."""
import json

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

NAME = validate.Length(min=1, max=100)
PASSWORD = validate.Length(min=10, max=128)


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _strip(data, *names):
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
    return data


class EmailField(fields.Email):
    """Trimmed and lower-cased before it is checked, so one address is one user."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


class RegisterSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=PASSWORD)
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    role = fields.String(required=True, validate=validate.OneOf(
        ["student", "tutor"], error="Must be student or tutor (admins cannot self-register)."))

    @pre_load
    def _trim(self, data, **kwargs):
        return _strip(data, "first_name", "last_name")


class AdminSchema(RegisterSchema):
    role = fields.String(load_default="admin", validate=validate.OneOf(["admin"]))


class LoginSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PasswordResetRequestSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=254))


class PasswordResetSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(required=True, validate=PASSWORD)


def _small_object(value):
    if len(value) > 50:
        raise ValidationError("At most 50 keys.")
    if len(json.dumps(value)) > 10_000:
        raise ValidationError("At most 10 KB.")


class UpdateUserSchema(Strict):
    email = EmailField(validate=validate.Length(max=254))
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    bio = fields.String(validate=validate.Length(max=5000))
    preferences = fields.Dict(keys=fields.String(validate=validate.Length(max=100)), validate=_small_object)
    settings = fields.Dict(keys=fields.String(validate=validate.Length(max=100)), validate=_small_object)

    @pre_load
    def _trim(self, data, **kwargs):
        return _strip(data, "first_name", "last_name")

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class StatusSchema(Strict):
    status = fields.String(required=True, validate=validate.OneOf(["active", "suspended", "deactivated"]))


class ListUsersSchema(Strict):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(strict=True, load_default=50, validate=validate.Range(min=1, max=500))
    role = fields.String(load_default=None, validate=validate.OneOf(["student", "tutor", "admin"]))

    @validates("cursor")
    def _not_blank(self, value, **kwargs):
        if value is not None and not value.strip():
            raise ValidationError("Must not be blank.")
