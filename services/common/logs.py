"""Logging for the services: an expected user error is one INFO line, only
bugs get tracebacks (docs/architecture.md, "Processes and logs").

nameko's container logs every exception an entrypoint raises with its
traceback: ``_log.exception`` at ERROR, or ``_log.warning(...,
exc_info=True)`` for an entrypoint's ``expected_exceptions``. A refused
input (any ``ServiceError``: ``BadInput``, ``Conflict``, ``Unauthenticated``,
...) is the caller's mistake, already answered to the caller, so a 1.6 KB
traceback at ERROR for it buries the real failures. Each
``config/<service>.yaml`` puts ``ExpectedErrorFilter`` on its handler.
"""
import logging

from services.common.errors import ServiceError

# A BadInput's details can name every unknown key a caller sent; the line
# stays one readable line whatever the payload was.
MAX_MESSAGE = 300


class ExpectedErrorFilter(logging.Filter):
    """Turns a record whose exception is a ``ServiceError`` into one INFO
    line naming the entrypoint, the error class and its message, with no
    traceback. Records of any other exception (bugs) pass unchanged."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, ServiceError):
            return True
        # The logger's level was checked against ERROR or WARNING; as INFO the
        # line is said only where INFO is (LOG_LEVEL in config/<service>.yaml).
        if not logging.getLogger(record.name).isEnabledFor(logging.INFO):
            return False
        record.msg = "refused %s: %s: %s"
        record.args = (_entrypoint(record), type(exc).__name__, _one_line(str(exc)))
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def _entrypoint(record):
    """``service.method`` from the worker context nameko passes as an
    argument of its message; otherwise the logger's name."""
    args = record.args if isinstance(record.args, tuple) else ()
    for arg in args:
        entrypoint = getattr(arg, "entrypoint", None)
        method = getattr(entrypoint, "method_name", None)
        service = getattr(arg, "service_name", None)
        if method and service:
            return "{}.{}".format(service, method)
    return record.name


def _one_line(text):
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."
