"""Typed errors every service raises and the gateway maps to GraphQL codes
(docs/architecture.md, "Errors").

They are registered with nameko's ``deserialize_to_instance``, so a caller
that imports this module gets the same class back from an RPC, with the
message and field details intact, instead of a bare ``RemoteError``.
"""
from nameko.exceptions import deserialize_to_instance


class ServiceError(Exception):
    code = "INTERNAL"

    def __init__(self, message, details=None):
        super().__init__(message, details or {})
        self.message = message
        self.details = details or {}

    def __str__(self):
        if self.details:
            return "{}: {}".format(self.message, self.details)
        return self.message


@deserialize_to_instance
class BadInput(ServiceError):
    """Validation failed; ``details`` maps each field to its messages."""
    code = "BAD_USER_INPUT"


@deserialize_to_instance
class NotFound(ServiceError):
    code = "NOT_FOUND"


@deserialize_to_instance
class Forbidden(ServiceError):
    code = "FORBIDDEN"


@deserialize_to_instance
class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"


@deserialize_to_instance
class Conflict(ServiceError):
    code = "CONFLICT"


@deserialize_to_instance
class Unavailable(ServiceError):
    """An outside resource the service needs (Stripe, say) did not answer:
    nothing was done, and the same request may be tried again later."""
    code = "SERVICE_UNAVAILABLE"
