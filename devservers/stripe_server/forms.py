"""Stripe's form encoding: ``a[b][c]=v``, ``list[]=x``, ``list[0][k]=v``.

The SDK sends lists as ``key[0]``, ``key[1]``...; browsers and curl users
write ``key[]``. Both become Python lists; everything else nests as dicts.
Values stay strings: each endpoint coerces what it reads.
"""
import re
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The body or query string is not valid Stripe form encoding."""


def parse_pairs(text):
    """``a=1&b[c]=2`` -> list of (key, value); malformed text is a FormError."""
    if not text:
        return []
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormError("Invalid request body: {}".format(exc)) from None


def parse_form(pairs):
    """Nest (key, value) pairs by their brackets into dicts and lists."""
    root = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise FormError("Invalid parameter name: {!r}".format(key))
        path = [match.group(1)] + _SEGMENT.findall(match.group(2))
        node = root
        for i, segment in enumerate(path):
            last = i == len(path) - 1
            if segment == "":  # key[] appends
                segment = str(len(node))
            if last:
                if segment in node:
                    raise FormError("Parameter {!r} was given more than once".format(key))
                node[segment] = value
            else:
                child = node.setdefault(segment, {})
                if not isinstance(child, dict):
                    raise FormError("Parameter {!r} is both a value and an object".format(key))
                node = child
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out
