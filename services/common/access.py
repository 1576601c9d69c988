"""Who may call an RPC (docs/architecture.md, "Identity on RPC").

Every ``@rpc`` entrypoint either checks the caller's token, its first
argument, with ``self.auth.require...`` (directly or in a helper method of
the service), or is public on purpose, with the reason written next to it::

    @rpc
    @public("the marketplace's catalogue: anyone may search tutors, signed in or not")
    def search_tutors(self, payload=None):
        ...

tests/architecture/test_rpc_authorisation.py lists every entrypoint of every
service, mixins included, and fails on one that does neither.
"""

# Operator entrypoints (dead letters, resync, finding a user by email) answer
# an admin's token, or a service token such as the one an operator mints in
# `nameko shell` (docs/operations.md).
OPERATORS = frozenset({"admin", "service"})


def public(reason):
    """Mark an entrypoint that takes no token on purpose; ``reason`` says why
    (login, health checks, the public catalogue)."""
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError("public() needs the reason why the entrypoint takes no token")

    def mark(method):
        method.public_reason = reason.strip()
        return method
    return mark


def public_reason(method):
    """Why ``method`` is public, or None when it is not marked."""
    return getattr(method, "public_reason", None)
