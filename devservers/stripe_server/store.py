"""In-memory state of the local Stripe server, optionally kept in a JSON file.

One re-entrant lock guards everything; a request holds it from the
idempotency check to the save, so requests are serialised (this is a
development component: correctness over throughput).
"""
import copy
import json
import os
import secrets
import string
import tempfile
import threading
import time

API_VERSION = "2026-10-28.endive"  # the stripe 16.x SDK's pinned version
PLATFORM = "__platform__"  # balance key of the platform account itself
IDEMPOTENCY_TTL = 24 * 3600  # Stripe keeps keys for at least 24 hours

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix, length=24):
    return "{}_{}".format(prefix, "".join(secrets.choice(_ALPHABET) for _ in range(length)))


def now():
    return int(time.time())


class StripeError(Exception):
    """An error answered in Stripe's shape: ``{"error": {...}}``."""

    def __init__(self, status, message, type="invalid_request_error", code=None, param=None, **extra):
        super().__init__(message)
        self.status = status
        self.body = {"type": type, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = "https://stripe.com/docs/error-codes/{}".format(code.replace("_", "-"))
        if param:
            self.body["param"] = param
        self.body.update({k: v for k, v in extra.items() if v is not None})


def missing(kind, object_id, param="id"):
    return StripeError(404, "No such {}: '{}'".format(kind, object_id), code="resource_missing", param=param)


class Store:
    def __init__(self, path=None):
        self.path = path
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # workers wait on it
        self.objects = {}  # id -> Stripe object (plain JSON)
        self.balances = {}  # account id or PLATFORM -> currency -> {"available", "pending"}
        self.links = {}  # onboarding token -> {account, refresh_url, return_url, expires_at, used}
        self.meta = {}  # id -> private bookkeeping never shown in responses
        self.idempotency = {}  # "apikey|account|key" -> stored response
        self.events = []  # event ids in creation order
        self.deliveries = {}  # event id -> {status, attempts, round, next_at}
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if os.path.exists(path):
                self._load()

    # --- persistence -------------------------------------------------------

    _FIELDS = ("objects", "balances", "links", "meta", "idempotency", "events", "deliveries")

    def _load(self):
        with open(self.path, encoding="utf-8") as f:
            data = json.load(f)
        for name in self._FIELDS:
            setattr(self, name, data.get(name, getattr(self, name)))
        for delivery in self.deliveries.values():
            if delivery["status"] == "in_flight":  # stopped mid-attempt: try again
                delivery["status"] = "pending"

    def save(self):
        """Write the whole state atomically (temp file + rename); no-op without a path."""
        if not self.path:
            return
        with self.lock:
            cutoff = now() - IDEMPOTENCY_TTL
            self.idempotency = {k: v for k, v in self.idempotency.items() if v["created"] >= cutoff}
            data = {name: getattr(self, name) for name in self._FIELDS}
            directory = os.path.dirname(os.path.abspath(self.path))
            fd, tmp = tempfile.mkstemp(prefix=".stripe-state-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    # --- objects ------------------------------------------------------------

    def put(self, obj):
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id, kind, label=None, param="id"):
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or obj["object"] != kind:
            raise missing(label or kind, object_id, param)
        return obj

    # --- balances -----------------------------------------------------------

    def credit(self, account, currency, amount, bucket="available"):
        per_currency = self.balances.setdefault(account or PLATFORM, {})
        entry = per_currency.setdefault(currency, {"available": 0, "pending": 0})
        entry[bucket] += amount

    def available(self, account, currency):
        return self.balances.get(account or PLATFORM, {}).get(currency, {}).get("available", 0)

    # --- events -------------------------------------------------------------

    def emit(self, type_, obj, request=None, account=None, previous=None, webhooks=True):
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if webhooks else 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": type_,
        }
        if previous:
            event["data"]["previous_attributes"] = previous
        if account:
            event["account"] = account
        self.objects[event["id"]] = event
        self.events.append(event["id"])
        self.deliveries[event["id"]] = {
            "status": "pending" if webhooks else "no_endpoint",
            "attempts": [],
            "round": 0,
            "next_at": time.time(),
        }
        self.changed.notify_all()
        return event
