"""Stripe's webhooks (docs/payments.md, "Webhooks"): verified on the raw
body with Stripe's signature, applied once per Stripe event id through the
inbox, in any order. A request that fails to apply answers 500, and Stripe
sends it again later; a bad signature answers 400 and writes nothing."""
import logging
import uuid

import stripe
from sqlalchemy.dialects.postgresql import insert

from services.common.callbacks import Refused, json_response
from services.common.eventstore import event_store_model
from services.payment import accounts, charges, payouts
from services.payment.models import Base

log = logging.getLogger(__name__)

# Stripe's events are a few kilobytes; anything far larger is not one.
MAX_BYTES = 256 * 1024
# Inbox rows are keyed by UUID: a Stripe event id maps to one, always the same.
STRIPE_EVENTS = uuid.UUID("1f0c3a52-8f5e-4a51-9d4e-7b2f0c9e6a11")
PAYOUT_EVENTS = ("payout.paid", "payout.failed", "payout.canceled")


def verify(request, stripe_gateway):
    """The event a request carries, checked against Stripe's signature on the raw body."""
    if (request.content_length or 0) > MAX_BYTES:
        raise Refused(413, "too large for a Stripe event")
    payload = request.get_data(cache=False)
    try:
        return stripe_gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except (ValueError, stripe.SignatureVerificationError):
        raise Refused(400, "bad or missing Stripe-Signature") from None


def applied(event, outcome):
    return json_response(200, {"received": event["id"], "outcome": outcome})


def not_applied(error, event):
    """The answer when verifying or applying failed: Stripe sends the event
    again after a 5xx, and gives up on a 4xx."""
    if isinstance(error, Refused):
        log.warning("Stripe webhook refused: %s", error)
        return json_response(error.status, {"error": str(error)})
    if isinstance(error, Retry):
        log.info("Stripe event %s (%s) not applied yet: %s", event["id"], event["type"], error)
        return json_response(503, {"error": str(error)})
    log.error("Stripe event %s (%s) failed; Stripe sends it again", event["id"], event["type"],
              exc_info=(type(error), error, error.__traceback__))
    return json_response(500, {"error": "not applied; send it again"})


class Retry(Exception):
    """Not applicable yet: Stripe should send it again later."""


def first_delivery(session, event):
    """Record the event in the inbox; False if it was applied before."""
    inbox = event_store_model(Base, "inbox").__table__
    return session.execute(insert(inbox).values(
        event_id=uuid.uuid5(STRIPE_EVENTS, event["id"]), handler="stripe." + event["type"],
        event_type=event["type"],
    ).on_conflict_do_nothing().returning(inbox.c.event_id)).first() is not None


def apply(uow, stripe_gateway, settings, event):
    """What the event did: "applied", "duplicate" or "ignored"."""
    if not first_delivery(uow.session, event):
        return "duplicate"
    kind, obj = event["type"], event["data"]["object"]
    if kind.startswith("payment_intent."):
        payment = charges.apply_intent_event(uow, stripe_gateway, settings, obj["id"])
        if payment is None and (obj.get("metadata") or {}).get("lesson_id"):
            # Ours, but its payment row is not committed yet.
            raise Retry("no payment for {} yet".format(obj["id"]))
        return "applied" if payment is not None else "ignored"
    if kind == "account.updated":
        return "applied" if accounts.apply_update(uow, obj) is not None else "ignored"
    if kind in PAYOUT_EVENTS:
        return "applied" if payouts.apply_update(uow, obj) is not None else "ignored"
    return "ignored"
