"""Service errors to GraphQL errors with ``extensions.code`` (docs/architecture.md, "Errors").
No stack trace ever reaches a client."""
import logging
from contextlib import contextmanager

from graphql import GraphQLError, ValueNode

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
        formatted["extensions"] = dict(getattr(original, "extensions", None) or {}, code=original.code)
    elif isinstance(original, GraphQLError) and (_code_of(original) or _about_input(original)):
        # graphql-core's located_error wraps a GraphQLError raised while a
        # field runs (by a resolver, a scalar, or graphql-core's own argument
        # checks) in another with the field's path. Its message is written
        # for the caller: keep it, with its code, or BAD_USER_INPUT when it
        # points at a value the caller gave (tests/e2e/test_public_edge.py).
        formatted["message"] = original.message
        formatted["extensions"] = dict(original.extensions or {}, code=_code_of(original) or "BAD_USER_INPUT")
    elif original is not None:
        # Also a codeless GraphQLError about the answer (a non-null field
        # that got null, a value its scalar cannot represent): a bug.
        log.exception("unexpected error in a resolver", exc_info=original)
        formatted["message"] = "internal error"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    else:
        formatted.setdefault("extensions", {}).setdefault("code", getattr(error, "code", "GRAPHQL_VALIDATION_FAILED"))
    return formatted


def _code_of(error):
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) and code else None


def _about_input(error):
    """Whether the error points at a value in the document (an argument's,
    a variable's use), as graphql-core's input coercion errors do."""
    return any(isinstance(node, ValueNode) for node in error.nodes or ())


class GatewayError(Exception):
    """Raised by the gateway itself (not a service) with a GraphQL code;
    ``extensions`` adds keys next to the code (e.g. ``retryAfter``)."""

    extensions = None

    def __init__(self, message, code, fields=None):
        super().__init__(message)
        self.code = code
        if fields:  # {argument: [problems]}, as a service's BadInput details
            self.extensions = {"fields": fields}


@contextmanager
def client_fields(**names):
    """Re-key a service error's fields from the RPC's names to the GraphQL
    arguments the client sent: ``client_fields(course_ids="id")`` around the
    call that passed ``course(id:)`` as ``course_ids``. Only the resolver
    knows which argument became which RPC field; without this the client
    would be told about a field it never sent (docs/graphql.md, "Errors")."""
    try:
        yield
    except ServiceError as exc:
        exc.details = {names.get(key, key): problems for key, problems in exc.details.items()}
        raise


def request_error(message, code):
    return {"message": message, "extensions": {"code": code}}
