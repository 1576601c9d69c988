"""Service errors to GraphQL errors with ``extensions.code`` (docs/architecture.md, "Errors").
No stack trace ever reaches a client."""
import logging

from graphql import GraphQLError

from api_gateway.rpc import BudgetExceeded, ServiceUnavailable, TooManyRpcs
from services.common.errors import ServiceError

log = logging.getLogger(__name__)


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_fields(details):
    if isinstance(details, dict):
        return {camel(str(k)): _camel_fields(v) for k, v in details.items()}
    return details


def format_error(error: GraphQLError):
    original = error.original_error
    formatted = error.formatted
    if isinstance(original, ServiceError):
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code}
        if original.details:
            formatted["extensions"]["fields"] = _camel_fields(original.details)
    elif isinstance(original, (ServiceUnavailable, BudgetExceeded, TooManyRpcs, GatewayError)):
        formatted["message"] = str(original)
        formatted["extensions"] = {"code": original.code}
    elif original is not None:
        log.exception("unexpected error in a resolver", exc_info=original)
        formatted["message"] = "internal error"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    else:
        formatted.setdefault("extensions", {}).setdefault("code", getattr(error, "code", "GRAPHQL_VALIDATION_FAILED"))
    return formatted


class GatewayError(Exception):
    """Raised by the gateway itself (not a service) with a GraphQL code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def request_error(message, code):
    return {"message": message, "extensions": {"code": code}}
