"""marshmallow at every RPC entrypoint: payload in, typed ``BadInput`` out."""
import uuid

from marshmallow import ValidationError

from services.common.errors import BadInput

# Anything longer is refused before field validation even looks at it, so a
# 1 MB string costs nothing and never reaches the database.
MAX_STRING = 10_000
# Deeper nesting than any payload needs is refused before anything recurses.
MAX_DEPTH = 32


def load(schema, payload, partial=False):
    """Validate ``payload`` with ``schema`` (a marshmallow Schema instance)."""
    if not isinstance(payload, dict):
        raise BadInput("payload must be an object", {"_schema": ["Expected an object."]})
    too_long = {k: ["Longer than {} characters.".format(MAX_STRING)]
                for k, v in payload.items() if isinstance(v, str) and len(v) > MAX_STRING}
    if too_long:
        raise BadInput("invalid input", too_long)
    unstorable = {str(k): [problem] for k, v in payload.items() if (problem := _unstorable(k, v))}
    if unstorable:
        raise BadInput("invalid input", unstorable)
    try:
        return schema.load(payload, partial=partial)
    except ValidationError as exc:
        raise BadInput("invalid input", flatten_messages(exc.messages))


def _unstorable(key, value):
    """Why ``value`` (with its key) can never be stored, or None.

    PostgreSQL cannot store NUL in text, and UTF-8 cannot encode a lone
    surrogate, so both would fail at the database as a raw error; refuse
    them here, in any service. The walk is iterative and bounded, so deep
    nesting costs linear time and cannot exhaust the stack."""
    pending = [(key, 0), (value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return "Nested more than {} levels deep.".format(MAX_DEPTH)
        if isinstance(item, str):
            if "\x00" in item:
                return "Must not contain NUL characters."
            if _has_surrogate(item):
                return "Must be valid Unicode text (no lone surrogates)."
        elif isinstance(item, dict):
            pending.extend((k, depth + 1) for k in item)
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend((v, depth + 1) for v in item)
    return None


def _has_surrogate(text):
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


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
