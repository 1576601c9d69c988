"""Background threads: webhook delivery and payouts that arrive later."""
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request

log = logging.getLogger("stripe_server")

MAX_BACKOFF = 30.0


def sign(payload, secret, timestamp=None):
    """Stripe-Signature header for ``payload`` (bytes), as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = "{}.".format(timestamp).encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return "t={},v1={}".format(timestamp, digest)


class WebhookSender(threading.Thread):
    """Delivers pending events oldest first; each failing event retries on its own clock."""

    def __init__(self, store, url, secret, attempts=8, retry_base=0.5, timeout=10.0):
        super().__init__(name="stripe-webhooks", daemon=True)
        self.store, self.url, self.secret = store, url, secret
        self.max_attempts, self.retry_base, self.timeout = attempts, retry_base, timeout
        self.stopping = False

    def _next_due(self):
        """(event, delivery) due now, or the time to sleep until one is."""
        wake = None
        current = time.time()
        for event_id in self.store.events:
            delivery = self.store.deliveries[event_id]
            if delivery["status"] != "pending":
                continue
            if delivery["next_at"] <= current:
                return self.store.objects[event_id], delivery, None
            wake = delivery["next_at"] if wake is None else min(wake, delivery["next_at"])
        return None, None, (None if wake is None else wake - current)

    def run(self):
        while not self.stopping:
            with self.store.lock:
                event, delivery, wait = self._next_due()
                if event is None:
                    self.store.changed.wait(timeout=1.0 if wait is None else min(max(wait, 0.01), 1.0))
                    continue
                delivery["status"] = "in_flight"
                body = json.dumps(event, indent=2).encode("utf-8")
            outcome = self._post(body)
            with self.store.lock:
                delivery["attempts"].append(outcome)
                delivery["round"] += 1
                if delivery.pop("resend", False):  # asked for again while this attempt was out
                    delivery.update(status="pending", round=0, next_at=time.time())
                elif outcome["ok"]:
                    delivery["status"] = "delivered"
                elif delivery["round"] >= self.max_attempts:
                    delivery["status"] = "failed"
                    log.warning("webhook %s %s gave up after %d attempts", event["id"], event["type"], delivery["round"])
                else:
                    delay = min(self.retry_base * (2 ** (delivery["round"] - 1)), MAX_BACKOFF)
                    delivery["status"] = "pending"
                    delivery["next_at"] = time.time() + delay
                self.store.save()

    def _post(self, body):
        attempt = {"at": time.time(), "status_code": None, "error": None, "ok": False}
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) local",
                "Stripe-Signature": sign(body, self.secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                attempt["status_code"] = response.status
        except urllib.error.HTTPError as exc:
            attempt["status_code"] = exc.code
        except Exception as exc:  # connection refused, timeout, reset...
            attempt["error"] = "{}: {}".format(type(exc).__name__, exc)
        attempt["ok"] = attempt["status_code"] is not None and 200 <= attempt["status_code"] < 300
        return attempt


class PayoutClock(threading.Thread):
    """Turns pending payouts into paid ones once their delay has passed."""

    def __init__(self, store, on_due):
        super().__init__(name="stripe-payouts", daemon=True)
        self.store, self.on_due = store, on_due
        self.stopping = False

    def run(self):
        while not self.stopping:
            with self.store.lock:
                current = time.time()
                due = [pid for pid, m in self.store.meta.items()
                       if m.get("pays_at") is not None and m["pays_at"] <= current]
                for payout_id in due:
                    self.on_due(payout_id)
                if due:
                    self.store.save()
                waits = [m["pays_at"] - current for m in self.store.meta.values() if m.get("pays_at") is not None]
                self.store.changed.wait(timeout=min([0.5] + [max(w, 0.01) for w in waits]))
