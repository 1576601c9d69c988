"""Opaque cursors for keyset pagination: a page ends at the last row's sort
key, and the next page starts strictly after it, so rows inserted meanwhile
cause neither gaps nor repeats."""
import base64
import json

from services.common.errors import BadInput


def encode_cursor(*key):
    raw = json.dumps([str(k) if k is not None else None for k in key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor, *types):
    """The sort key a cursor holds, each part converted by ``types``
    (e.g. ``int, uuid.UUID``); a tampered cursor is bad input, not a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(key, list) or len(key) != len(types):
            raise ValueError
        return [convert(part) for convert, part in zip(types, key)]
    except (ValueError, TypeError, AttributeError):
        raise BadInput("invalid cursor", {"cursor": ["Not a cursor this API returned."]})
