"""The gunicorn worker the gateway runs in: eventlet's, answering the
requests gunicorn refuses before Flask sees them (a request line or headers
over its limits, a malformed request) in the gateway's JSON error shape
instead of gunicorn's HTML page (docs/graphql.md, "Errors at the HTTP level").

    gunicorn --worker-class api_gateway.server.JsonErrorWorker api_gateway.wsgi:app
"""
import json

from gunicorn import util
from gunicorn.workers.geventlet import EventletWorker

# gunicorn says 400 for an over-long request line; 414 is the status HTTP
# has for it (RFC 9110 §15.5.15), and clients and proxies know it.
_REQUEST_LINE_TOO_LONG = "Request Line is too large"

CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE",
         500: "INTERNAL_SERVER_ERROR", 501: "NOT_IMPLEMENTED"}
REASONS = {414: "URI Too Long"}


def error_response(status, reason, message):
    """The raw HTTP response for a request gunicorn refused."""
    if status == 400 and message.startswith(_REQUEST_LINE_TOO_LONG):
        status = 414
    reason = REASONS.get(status, reason)
    body = json.dumps({"errors": [{"message": message or reason,
                                   "extensions": {"code": CODES.get(status, "BAD_REQUEST")}}]})
    return ("HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "Content-Length: {}\r\n\r\n{}".format(status, reason, len(body), body)).encode("latin1")


def write_json_error(sock, status_int, reason, mesg):
    util.write_nonblock(sock, error_response(status_int, reason, mesg))


class JsonErrorWorker(EventletWorker):
    def init_process(self):
        # gunicorn's Worker.handle_error writes through util.write_error and
        # has no hook for the body's format; this worker process only ever
        # serves the gateway, so its writer is replaced for the process.
        util.write_error = write_json_error
        super().init_process()
