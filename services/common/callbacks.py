"""What the services' HTTP callbacks share (Stripe's webhooks to payment,
the video provider's recording callback to communication): a refusal with
its HTTP status, written before anything is read or stored, and JSON answers."""
import json

from werkzeug.wrappers import Response


class Refused(Exception):
    """A request that is not from whom it claims (a bad or missing
    signature) or cannot be one (too large): nothing is written."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def json_response(status, body):
    return Response(json.dumps(body), status=status, mimetype="application/json")
