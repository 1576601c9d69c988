"""Stripe, the payment service's one outside resource, behind a small
interface with a fake for unit tests (docs/payments.md, "Stripe").

``StripeGateway`` speaks to Stripe through the official SDK and answers
plain dicts, so the domain modules never handle the SDK's objects. The same
code talks to Stripe itself when ``STRIPE_SECRET_KEY`` is a real key, and to
the local Stripe-compatible server (devservers/stripe_server,
docs/stripe-local.md) when ``STRIPE_API_BASE`` points at it.

Every call that creates something takes a deterministic idempotency key
from its caller: the SDK's own retries carry random keys, which protect
only a retry inside one call, not a handler run again after a crash.
"""
import itertools

import stripe

from services.common.errors import BadInput, Conflict, Unavailable
from services.common.resources import OutsideResource

# Stripe's own retries of one call, on a network error or a 409/5xx.
NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 20


class CardDeclined(Exception):
    """Stripe refused the payment method; ``intent`` is the PaymentIntent as
    Stripe left it (back to requires_payment_method)."""

    def __init__(self, code, decline_code, message, intent):
        super().__init__(message)
        self.code, self.decline_code, self.message, self.intent = code, decline_code, message, intent


class StripeRefused(Conflict):
    """Stripe answered that a request cannot be done (an invalid request,
    an idempotency clash): a Conflict the caller can read."""


class IntentNotCancellable(Exception):
    """The PaymentIntent had already succeeded (or was cancelled) when we
    asked Stripe to cancel it."""


def _plain(obj):
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _options(idempotency_key=None, account=None):
    options = {}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    if account:
        options["stripe_account"] = account
    return options


class StripeGateway:
    """What the domain modules may ask of Stripe. Answers are dicts."""

    def __init__(self, client, webhook_secret):
        self._client, self._webhook_secret = client, webhook_secret

    def _call(self, method, *args):
        try:
            return _plain(method(*args))
        except stripe.CardError:
            raise
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise Unavailable("Stripe did not answer; nothing was charged or changed, try again shortly",
                              {"stripe": [str(exc.user_message or exc)]}) from None
        except stripe.InvalidRequestError as exc:
            if exc.param == "payment_method":  # an id Stripe does not know: the client's input
                raise BadInput("unknown payment method", {"paymentMethodId": [
                    "Stripe knows no such payment method: " + str(exc.user_message or exc)]}) from None
            raise StripeRefused("Stripe refused the request: {}".format(exc.user_message or exc),
                                {exc.param or "stripe": [exc.user_message or str(exc)]}) from None
        except stripe.IdempotencyError as exc:
            raise StripeRefused("the same request is already under way with other details; try again",
                                {"stripe": [str(exc.user_message or exc)]}) from None

    # Payout accounts (Connect, Express, payouts scheduled by the platform).

    def create_account(self, tutor_user_id, country, idempotency_key):
        return self._call(self._client.v1.accounts.create, {
            "type": "express", "country": country,
            "capabilities": {"transfers": {"requested": True}, "card_payments": {"requested": True}},
            "settings": {"payouts": {"schedule": {"interval": "manual"}}},
            "metadata": {"tutor_user_id": tutor_user_id}}, _options(idempotency_key))

    def account_link(self, account_id, refresh_url, return_url):
        return self._call(self._client.v1.account_links.create, {
            "account": account_id, "type": "account_onboarding",
            "refresh_url": refresh_url, "return_url": return_url})

    def retrieve_account(self, account_id):
        return self._call(self._client.v1.accounts.retrieve, account_id)

    # Charges: destination charges, one PaymentIntent per lesson.

    def create_intent(self, amount, currency, fee, destination, description, metadata, idempotency_key):
        return self._call(self._client.v1.payment_intents.create, {
            "amount": amount, "currency": currency.lower(), "application_fee_amount": fee,
            "transfer_data": {"destination": destination}, "description": description,
            "metadata": metadata, "payment_method_types": ["card"]}, _options(idempotency_key))

    def retrieve_intent(self, intent_id):
        return self._call(self._client.v1.payment_intents.retrieve, intent_id, {"expand": ["latest_charge"]})

    def confirm_intent(self, intent_id, payment_method, idempotency_key):
        try:
            return self._call(self._client.v1.payment_intents.confirm, intent_id,
                              {"payment_method": payment_method, "expand": ["latest_charge"]},
                              _options(idempotency_key))
        except stripe.CardError as exc:
            error = exc.error
            intent = _plain(error.payment_intent) if error and error.payment_intent else None
            raise CardDeclined(exc.code or "card_declined", getattr(error, "decline_code", None),
                               exc.user_message or "The card was declined.", intent) from None

    def cancel_intent(self, intent_id, reason, idempotency_key):
        try:
            return _plain(self._client.v1.payment_intents.cancel(
                intent_id, {"cancellation_reason": reason}, _options(idempotency_key)))
        except stripe.InvalidRequestError as exc:
            if exc.code == "payment_intent_unexpected_state":
                raise IntentNotCancellable(str(exc.user_message or exc)) from None
            raise

    def retrieve_charge(self, charge_id):
        return self._call(self._client.v1.charges.retrieve, charge_id)

    # Refunds: the tutor and the platform each give back their share.

    def refund(self, intent_id, amount, metadata, idempotency_key):
        return self._call(self._client.v1.refunds.create, {
            "payment_intent": intent_id, "amount": amount, "reverse_transfer": True,
            "refund_application_fee": True, "metadata": metadata}, _options(idempotency_key))

    def retrieve_transfer(self, transfer_id):
        return self._call(self._client.v1.transfers.retrieve, transfer_id)

    def retrieve_application_fee(self, fee_id):
        return self._call(self._client.v1.application_fees.retrieve, fee_id)

    def create_payout(self, account_id, amount, currency, metadata, idempotency_key):
        return self._call(self._client.v1.payouts.create, {
            "amount": amount, "currency": currency.lower(), "metadata": metadata},
            _options(idempotency_key, account_id))

    # Webhooks.

    def verify_webhook(self, payload, signature):
        """The event as a dict, or ValueError / stripe.SignatureVerificationError."""
        return _plain(self._client.construct_event(payload, signature, self._webhook_secret))


class Stripe(OutsideResource):
    """``stripe = Stripe()`` on the service: one client per container, from
    STRIPE_SECRET_KEY, STRIPE_API_BASE (empty: Stripe itself) and
    STRIPE_WEBHOOK_SECRET in the service's config; ``Stripe(FakeStripe())``
    in unit tests."""

    def make_client(self, config):
        key, base = config.get("STRIPE_SECRET_KEY") or "", config.get("STRIPE_API_BASE") or ""
        if not key:
            raise RuntimeError("STRIPE_SECRET_KEY is not set (docs/payments.md, \"Stripe itself, or the local server\")")
        options = {"max_network_retries": NETWORK_RETRIES,
                   "http_client": stripe.RequestsClient(timeout=TIMEOUT_SECONDS)}
        if base:
            options["base_addresses"] = {"api": base, "connect": base, "files": base}
        return StripeGateway(stripe.StripeClient(key, **options), config.get("STRIPE_WEBHOOK_SECRET") or "")


class FakeStripe:
    """StripeGateway's behaviour in memory, for unit tests: accounts become
    ready with ``complete(account_id)``; ``pm_card_visa`` succeeds and
    ``pm_card_chargeDeclined`` is declined; refunds split like Stripe's,
    in proportion; idempotency keys return the first answer."""

    def __init__(self):
        self.accounts, self.intents, self.refunds, self.payouts = {}, {}, [], []
        self.calls, self._replies, self._ids = [], {}, itertools.count(1)

    def _id(self, prefix):
        return "{}_{}".format(prefix, next(self._ids))

    def _once(self, key, make):
        if key not in self._replies:
            self._replies[key] = make()
        return self._replies[key]

    def create_account(self, tutor_user_id, country, idempotency_key):
        def make():
            account = {"id": self._id("acct"), "charges_enabled": False, "payouts_enabled": False,
                       "details_submitted": False, "metadata": {"tutor_user_id": tutor_user_id}}
            self.accounts[account["id"]] = account
            return account
        return dict(self._once(idempotency_key, make))

    def complete(self, account_id):
        self.accounts[account_id].update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        return dict(self.accounts[account_id])

    def account_link(self, account_id, refresh_url, return_url):
        return {"url": "https://connect.example/{}".format(account_id), "expires_at": 2000000000}

    def retrieve_account(self, account_id):
        return dict(self.accounts[account_id])

    def create_intent(self, amount, currency, fee, destination, description, metadata, idempotency_key):
        def make():
            self.calls.append(("create_intent", idempotency_key))
            intent_id = self._id("pi")
            intent = {"id": intent_id, "amount": amount, "currency": currency.lower(), "status":
                      "requires_payment_method", "application_fee_amount": fee, "client_secret":
                      intent_id + "_secret_x", "transfer_data": {"destination": destination},
                      "metadata": metadata, "latest_charge": None, "last_payment_error": None,
                      "description": description}
            self.intents[intent_id] = intent
            return intent
        return dict(self._once(idempotency_key, make))

    def retrieve_intent(self, intent_id):
        return dict(self.intents[intent_id])

    def confirm_intent(self, intent_id, payment_method, idempotency_key):
        intent = self.intents[intent_id]
        if payment_method == "pm_card_chargeDeclined":
            intent["last_payment_error"] = {"code": "card_declined", "decline_code": "generic_decline"}
            raise CardDeclined("card_declined", "generic_decline", "Your card was declined.", dict(intent))
        amount, fee = intent["amount"], intent["application_fee_amount"]
        intent.update(status="succeeded", last_payment_error=None, latest_charge={
            "id": self._id("ch"), "amount": amount, "application_fee": self._id("fee"),
            "application_fee_amount": fee, "transfer": self._id("tr")})
        return dict(intent)

    def cancel_intent(self, intent_id, reason, idempotency_key):
        intent = self.intents[intent_id]
        if intent["status"] == "succeeded":
            raise IntentNotCancellable("You cannot cancel this PaymentIntent because it has a status of succeeded.")
        intent["status"] = "canceled"
        return dict(intent)

    def refund(self, intent_id, amount, metadata, idempotency_key):
        def make():
            refund = {"id": self._id("re"), "amount": amount, "payment_intent": intent_id, "status": "succeeded",
                      "transfer_reversal": self._id("trr"), "metadata": metadata}
            self.refunds.append(refund)
            return refund
        return dict(self._once(idempotency_key, make))

    def _refunded(self, intent):
        return sum(r["amount"] for r in self.refunds if r["payment_intent"] == intent["id"])

    def retrieve_transfer(self, transfer_id):
        # A destination charge transfers the whole amount; refunds reverse it in full measure.
        intent = next(i for i in self.intents.values() if (i["latest_charge"] or {}).get("transfer") == transfer_id)
        return {"id": transfer_id, "amount": intent["amount"], "amount_reversed": self._refunded(intent)}

    def retrieve_application_fee(self, fee_id):
        intent = next(i for i in self.intents.values()
                      if (i["latest_charge"] or {}).get("application_fee") == fee_id)
        fee = intent["application_fee_amount"]
        return {"id": fee_id, "amount": fee, "amount_refunded": fee * self._refunded(intent) // intent["amount"]}

    def create_payout(self, account_id, amount, currency, metadata, idempotency_key):
        def make():
            payout = {"id": self._id("po"), "amount": amount, "currency": currency.lower(), "status": "pending",
                      "account": account_id, "metadata": metadata}
            self.payouts.append(payout)
            return payout
        return dict(self._once(idempotency_key, make))

    def verify_webhook(self, payload, signature):
        raise ValueError("the fake verifies no webhook")
