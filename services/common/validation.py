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
    try:
        return schema.load(payload, partial=partial)
    except ValidationError as exc:
        raise BadInput("invalid input", _flatten(exc.messages))


def _flatten(messages):
    """marshmallow nests messages for nested fields; keep them JSON-safe."""
    if isinstance(messages, dict):
        return {str(k): _flatten(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return [_flatten(m) for m in messages]
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
