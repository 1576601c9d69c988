"""marshmallow at every RPC entrypoint: payload in, typed ``BadInput`` out."""
import uuid

from marshmallow import ValidationError

from services.common.errors import BadInput

# Anything longer is refused before field validation even looks at it, so a
# 1 MB string costs nothing and never reaches the database.
MAX_STRING = 10_000


def load(schema, payload, partial=False):
    """Validate ``payload`` with ``schema`` (a marshmallow Schema instance)."""
    if not isinstance(payload, dict):
        raise BadInput("payload must be an object", {"_schema": ["Expected an object."]})
    too_long = {k: ["Longer than {} characters.".format(MAX_STRING)]
                for k, v in payload.items() if isinstance(v, str) and len(v) > MAX_STRING}
    if too_long:
        raise BadInput("invalid input", too_long)
    # PostgreSQL cannot store NUL in text: refuse it here, in any service,
    # rather than let the database fail with a raw error.
    with_nul = {str(k): ["Must not contain NUL characters."] for k, v in payload.items() if _has_nul(v)}
    if with_nul:
        raise BadInput("invalid input", with_nul)
    try:
        return schema.load(payload, partial=partial)
    except ValidationError as exc:
        raise BadInput("invalid input", flatten_messages(exc.messages))


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def flatten_messages(messages):
    """marshmallow nests messages for nested fields; keep them JSON-safe."""
    if isinstance(messages, dict):
        return {str(k): flatten_messages(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return [flatten_messages(m) for m in messages]
    return str(messages)


def parse_uuid(value, field):
    """An id argument, or ``BadInput`` naming the field."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise BadInput("invalid id", {field: ["Not a valid UUID."]})


def parse_uuid_list(values, field, limit=500):
    if not isinstance(values, (list, tuple)):
        raise BadInput("invalid ids", {field: ["Expected a list of UUIDs."]})
    if len(values) > limit:
        raise BadInput("too many ids", {field: ["At most {} ids per call.".format(limit)]})
    return [parse_uuid(v, field) for v in values]
