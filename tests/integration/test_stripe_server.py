"""The local Stripe server (devservers/stripe_server, docs/stripe-local.md),
driven through the official stripe SDK as the payment service will drive it.

No PostgreSQL or RabbitMQ: each server is a subprocess on a free port, and
its webhooks go to a small receiver in this process.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from scripts.platformctl import free_port
from tests.integration.helpers import ROOT, wait_for

API_KEY = "sk_test_local"
SECRET = "whsec_local_tests"


class Receiver:
    """A webhook endpoint: records every delivery; answers 500 to the first
    N deliveries of an event whose object has ``metadata[webhook_fail]=N``."""

    def __init__(self):
        self.deliveries = []  # (event dict, raw body, Stripe-Signature, status answered)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event = json.loads(body)
                fail = int(((event["data"]["object"].get("metadata") or {}).get("webhook_fail")) or 0)
                with receiver.lock:
                    seen = sum(1 for d in receiver.deliveries if d[0]["id"] == event["id"])
                    status = 500 if seen < fail else 200
                    receiver.deliveries.append((event, body, self.headers.get("Stripe-Signature"), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:{}/webhooks/stripe".format(self.server.server_port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self, type_, object_id, status=200):
        with self.lock:
            return [d for d in self.deliveries
                    if d[0]["type"] == type_ and d[0]["data"]["object"].get("id") == object_id and d[3] == status]

    def wait(self, type_, object_id, count=1):
        return wait_for(lambda: len(self.received(type_, object_id)) >= count and self.received(type_, object_id),
                        timeout=20, message="{} x{} for {}".format(type_, count, object_id))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class LocalStripe:
    def __init__(self, webhook_url, *extra):
        self.port = free_port()
        self.url = "http://127.0.0.1:{}".format(self.port)
        self.args = [sys.executable, "-m", "devservers.stripe_server", "--host", "127.0.0.1",
                     "--port", str(self.port), "--api-key", API_KEY, "--webhook-url", webhook_url,
                     "--webhook-secret", SECRET, "--payout-delay", "0.5", "--webhook-retry-base", "0.1",
                     *extra]
        self.start()

    def start(self):
        self.log = open(os.devnull, "wb")
        self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

        def healthy():
            assert self.process.poll() is None, "the local Stripe server exited"
            try:
                with urllib.request.urlopen(self.url + "/_local/health", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=30, message="the local Stripe server")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def client(self, api_key=API_KEY):
        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, max_network_retries=0)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def local_stripe(receiver):
    server = LocalStripe(receiver.url)
    yield server
    server.stop()


@pytest.fixture
def client(local_stripe):
    return local_stripe.client()


def local(client, method, path, **params):
    """A control endpoint under /_local, through the SDK's raw requests."""
    return json.loads(client.raw_request(method, path, **params).body)


def new_account(client, onboard=True, **metadata):
    account = client.v1.accounts.create(params={
        "type": "express", "country": "US", "email": "tutor@example.com",
        "capabilities": {"transfers": {"requested": True}},
        "settings": {"payouts": {"schedule": {"interval": "manual"}}},
        "metadata": {"tutor_id": "t-1", **metadata},
    })
    if onboard:
        local(client, "post", "/_local/accounts/{}/complete_onboarding".format(account.id))
    return account


def paid_intent(client, destination, amount=1000, fee=150, **extra):
    intent = client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "application_fee_amount": fee,
        "transfer_data": {"destination": destination}, "metadata": {"lesson_id": "l-1"}, **extra})
    return client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})


def available(client, account_id, currency="usd"):
    balance = client.v1.balance.retrieve(options={"stripe_account": account_id})
    return sum(entry.amount for entry in balance.available if entry.currency == currency)


def no_redirect_get(url):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(url, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location")
    raise AssertionError("expected a redirect from " + url)


# --- accounts and onboarding ---------------------------------------------------


def test_onboarding_link_completes_the_account_once(client, receiver):
    account = new_account(client, onboard=False)
    assert account.id.startswith("acct_") and account.object == "account" and account.type == "express"
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (False, False, False)
    assert account.settings.payouts.schedule.interval == "manual"
    assert account.metadata["tutor_id"] == "t-1" and account.livemode is False

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.account_links.create(params={"account": account.id, "type": "account_onboarding",
                                               "return_url": "https://app.example/return"})
    assert missing.value.param == "refresh_url"

    link = client.v1.account_links.create(params={
        "account": account.id, "type": "account_onboarding",
        "refresh_url": "https://app.example/refresh", "return_url": "https://app.example/return"})
    assert link.object == "account_link" and link.expires_at == link.created + 300
    assert no_redirect_get(link.url) == (302, "https://app.example/return")

    done = client.v1.accounts.retrieve(account.id)
    assert (done.charges_enabled, done.payouts_enabled, done.details_submitted) == (True, True, True)
    assert done.capabilities.transfers == "active"
    [(event, _, _, _)] = receiver.wait("account.updated", account.id)
    assert event["account"] == account.id and event["data"]["object"]["charges_enabled"] is True

    assert no_redirect_get(link.url) == (302, "https://app.example/refresh")  # single use
    time.sleep(0.3)
    assert len(receiver.received("account.updated", account.id)) == 1


def test_an_expired_onboarding_link_changes_nothing(receiver):
    server = LocalStripe(receiver.url, "--account-link-ttl", "1")
    try:
        client = server.client()
        account = new_account(client, onboard=False)
        link = client.v1.account_links.create(params={
            "account": account.id, "type": "account_onboarding",
            "refresh_url": "https://app.example/refresh", "return_url": "https://app.example/return"})
        wait_for(lambda: time.time() > link.expires_at + 1, timeout=10, message="the link to expire")
        assert no_redirect_get(link.url) == (302, "https://app.example/refresh")
        assert client.v1.accounts.retrieve(account.id).charges_enabled is False
    finally:
        server.stop()


def test_restricted_or_unknown_destinations_are_refused(client):
    pending = new_account(client, onboard=False)
    params = {"amount": 1000, "currency": "usd", "application_fee_amount": 100}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(params={**params, "transfer_data": {"destination": pending.id}})
    assert "at least one of the following capabilities enabled: transfers" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(params={**params, "transfer_data": {"destination": "acct_nope"}})
    assert unknown.value.code == "resource_missing"

    tutor = new_account(client)
    intent = client.v1.payment_intents.create(params={**params, "transfer_data": {"destination": tutor.id}})
    local(client, "post", "/_local/accounts/{}/restrict".format(tutor.id))
    assert client.v1.accounts.retrieve(tutor.id).charges_enabled is False
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})


# --- payment intents -------------------------------------------------------------


def test_a_destination_charge_moves_fee_and_transfer(client, receiver):
    tutor = new_account(client)
    intent = client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "usd", "application_fee_amount": 375,
        "transfer_data": {"destination": tutor.id}, "metadata": {"lesson_id": "l-9"},
        "description": "Lesson", "automatic_payment_methods": {"enabled": True}})
    assert intent.id.startswith("pi_") and intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.latest_charge is None and intent.last_payment_error is None
    assert intent.transfer_data.destination == tutor.id and intent.metadata["lesson_id"] == "l-9"

    done = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.amount_received == 2500
    again = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    charge = again.latest_charge
    assert charge.id.startswith("ch_") and charge.paid and charge.payment_intent == intent.id
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert fee.id.startswith("fee_") and fee.amount == 375 and fee.amount_refunded == 0
    # As on Stripe: the whole amount is transferred, and the fee comes back from the account.
    assert transfer.id.startswith("tr_") and transfer.amount == 2500 and transfer.destination == tutor.id
    assert available(client, tutor.id) == 2500 - 375
    receiver.wait("payment_intent.succeeded", intent.id)
    receiver.wait("charge.succeeded", charge.id)


def test_payment_intent_parameters_are_checked(client):
    tutor = new_account(client)
    with pytest.raises(stripe.InvalidRequestError) as no_amount:
        client.v1.payment_intents.create(params={"currency": "usd"})
    assert no_amount.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as small:
        client.v1.payment_intents.create(params={"amount": 49, "currency": "usd"})
    assert (small.value.code, small.value.param) == ("amount_too_small", "amount")
    with pytest.raises(stripe.InvalidRequestError) as fee:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd", "application_fee_amount": 101,
                                                 "transfer_data": {"destination": tutor.id}})
    assert fee.value.param == "application_fee_amount"
    with pytest.raises(stripe.InvalidRequestError) as unknown_pm:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd", "confirm": True,
                                                 "payment_method": "pm_card_nope"})
    assert (unknown_pm.value.code, unknown_pm.value.param) == ("resource_missing", "payment_method")


@pytest.mark.parametrize("payment_method, code, decline_code, message", [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds",
     "Your card has insufficient funds."),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "Your card has expired."),
])
def test_declines_are_card_errors(client, receiver, payment_method, code, decline_code, message):
    tutor = new_account(client)
    intent = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "application_fee_amount": 100, "transfer_data": {"destination": tutor.id}})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": payment_method})
    error = declined.value
    assert error.http_status == 402 and error.code == code and error.user_message == message
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent["id"] == intent.id
    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.decline_code == decline_code
    receiver.wait("payment_intent.payment_failed", intent.id)
    assert available(client, tutor.id) == 0
    # a new card then succeeds on the same intent
    ok = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_mastercard"})
    assert ok.status == "succeeded" and ok.last_payment_error is None


def test_authentication_required_then_completed(client):
    tutor = new_account(client)
    intent = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "transfer_data": {"destination": tutor.id},
        "payment_method": "pm_card_authenticationRequired", "confirm": True})
    assert intent.status == "requires_action" and intent.next_action.type == "use_stripe_sdk"
    local(client, "post", "/_local/payment_intents/{}/authenticate".format(intent.id))
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert available(client, tutor.id) == 1000


def test_cancel_and_confirm_state_rules(client):
    tutor = new_account(client)
    params = {"amount": 1000, "currency": "usd", "transfer_data": {"destination": tutor.id}}
    intent = client.v1.payment_intents.create(params=params)
    canceled = client.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned" and canceled.canceled_at
    for attempt in (lambda: client.v1.payment_intents.cancel(intent.id),
                    lambda: client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            attempt()
        assert refused.value.code == "payment_intent_unexpected_state"

    paid = paid_intent(client, tutor.id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.cancel(paid.id)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert refused.value.user_message.startswith(
        "You cannot cancel this PaymentIntent because it has a status of succeeded.")
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.confirm(paid.id, params={"payment_method": "pm_card_visa"})
    assert again.value.code == "payment_intent_unexpected_state"


# --- refunds ---------------------------------------------------------------------


def test_partial_and_full_refunds_reverse_exactly_the_transfer_and_fee(client, receiver):
    tutor = new_account(client)
    intent = paid_intent(client, tutor.id, amount=1001, fee=333)
    charge = client.v1.charges.retrieve(intent.latest_charge)

    with pytest.raises(stripe.InvalidRequestError) as bad_reason:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100, "reason": "changed_mind"})
    assert bad_reason.value.param == "reason"

    refunds = []
    for amount in (333, 334):
        refunds.append(client.v1.refunds.create(params={
            "payment_intent": intent.id, "amount": amount, "reason": "requested_by_customer",
            "reverse_transfer": True, "refund_application_fee": True, "metadata": {"booking": "b-1"}}))
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 335})
    assert too_much.value.param == "amount"
    assert "Refund amount ($3.35) is greater than unrefunded amount on charge ($3.34)" in too_much.value.user_message
    refunds.append(client.v1.refunds.create(params={  # the rest, by default
        "charge": charge.id, "reverse_transfer": True, "refund_application_fee": True}))

    assert [r.amount for r in refunds] == [333, 334, 334]
    assert all(r.id.startswith("re_") and r.status == "succeeded" and r.payment_intent == intent.id for r in refunds)
    assert refunds[0].metadata["booking"] == "b-1" and refunds[0].transfer_reversal.startswith("trr_")
    charge = client.v1.charges.retrieve(charge.id)
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert charge.refunded and charge.amount_refunded == 1001
    assert transfer.reversed and transfer.amount_reversed == transfer.amount == 1001
    assert sum(r.amount for r in transfer.reversals.data) == 1001
    assert fee.refunded and fee.amount_refunded == fee.amount == 333
    assert sum(r.amount for r in fee.refunds.data) == 333 and all(r.id.startswith("fr_") for r in fee.refunds.data)
    assert available(client, tutor.id) == 0
    assert client.v1.refunds.retrieve(refunds[1].id).amount == 334

    with pytest.raises(stripe.InvalidRequestError) as already:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert already.value.code == "charge_already_refunded"
    receiver.wait("charge.refunded", charge.id, count=3)
    receiver.wait("refund.created", refunds[2].id)


def test_a_payment_that_did_not_succeed_cannot_be_refunded(client):
    tutor = new_account(client)
    intent = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "transfer_data": {"destination": tutor.id}})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.param == "payment_intent"


# --- idempotency -----------------------------------------------------------------


def test_idempotent_replay_and_conflicting_parameters(client, local_stripe):
    tutor = new_account(client)
    params = {"amount": 1200, "currency": "usd", "application_fee_amount": 100,
              "transfer_data": {"destination": tutor.id}, "metadata": {"lesson_id": "l-7"}}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "lesson-l-7"})
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": "lesson-l-7"})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    with pytest.raises(stripe.IdempotencyError) as conflict:
        client.v1.payment_intents.create(params={**params, "amount": 1300},
                                         options={"idempotency_key": "lesson-l-7"})
    assert "can only be used with the same parameters" in str(conflict.value)

    # a decline is kept too: replaying it does not try the card again
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.confirm(first.id, params={"payment_method": "pm_card_chargeDeclined"},
                                              options={"idempotency_key": "confirm-l-7"})
    events = local(client, "get", "/_local/events")["data"]
    assert [e["type"] for e in events if e["object_id"] == first.id].count("payment_intent.created") == 1
    assert [e["type"] for e in events if e["object_id"] == first.id].count("payment_intent.payment_failed") == 1

    # keys are scoped per connected account
    other = local_stripe.client()
    with pytest.raises(stripe.InvalidRequestError):
        other.v1.payouts.create(params={"amount": 1, "currency": "usd"},
                                options={"idempotency_key": "lesson-l-7", "stripe_account": tutor.id})


# --- payouts -----------------------------------------------------------------------


def test_payouts_paid_and_failed(client, receiver):
    tutor = new_account(client)
    paid_intent(client, tutor.id, amount=3000, fee=500)
    connected = {"stripe_account": tutor.id}
    assert available(client, tutor.id) == 2500

    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.payouts.create(params={"amount": 2501, "currency": "usd"}, options=connected)
    assert short.value.code == "balance_insufficient"

    payout = client.v1.payouts.create(params={"amount": 2000, "currency": "usd", "metadata": {"run": "r-1"}},
                                      options=connected)
    assert payout.id.startswith("po_") and payout.status == "pending" and payout.failure_code is None
    assert available(client, tutor.id) == 500
    wait_for(lambda: client.v1.payouts.retrieve(payout.id, options=connected).status == "paid",
             timeout=20, message="the payout to be paid")
    [(event, _, _, _)] = receiver.wait("payout.paid", payout.id)
    assert event["account"] == tutor.id and event["data"]["object"]["metadata"]["run"] == "r-1"
    with pytest.raises(stripe.InvalidRequestError):  # not the platform's payout
        client.v1.payouts.retrieve(payout.id)

    failing = client.v1.payouts.create(params={"amount": 500, "currency": "usd"}, options=connected)
    assert available(client, tutor.id) == 0
    local(client, "post", "/_local/payouts/{}/fail".format(failing.id))
    failed = client.v1.payouts.retrieve(failing.id, options=connected)
    assert failed.status == "failed" and failed.failure_code == "account_closed"
    assert available(client, tutor.id) == 500
    [(event, _, _, _)] = receiver.wait("payout.failed", failing.id)
    assert event["account"] == tutor.id


# --- webhooks ----------------------------------------------------------------------


def test_webhooks_are_signed_retried_and_resent_with_the_same_id(client, receiver):
    account = new_account(client, onboard=False, webhook_fail="2")
    local(client, "post", "/_local/accounts/{}/complete_onboarding".format(account.id))
    [(event, body, signature, _)] = receiver.wait("account.updated", account.id)
    assert [d[3] for d in receiver.deliveries if d[0]["id"] == event["id"]] == [500, 500, 200]
    record = next(e for e in local(client, "get", "/_local/events")["data"] if e["id"] == event["id"])
    assert record["delivery_status"] == "delivered" and [a["status_code"] for a in record["attempts"]] == [500, 500, 200]

    verified = stripe.Webhook.construct_event(body, signature, SECRET)
    assert verified.id == event["id"] and verified.type == "account.updated" and verified.account == account.id
    assert verified.id.startswith("evt_") and verified.livemode is False and verified.api_version
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_someone_else")
    assert client.v1.events.retrieve(event["id"]).data.object.id == account.id

    local(client, "post", "/_local/events/{}/resend".format(event["id"]))
    receiver.wait("account.updated", account.id, count=2)
    ids = {d[0]["id"] for d in receiver.received("account.updated", account.id)}
    assert ids == {event["id"]}


def test_a_failing_event_gives_up_without_holding_back_later_ones(receiver):
    server = LocalStripe(receiver.url, "--webhook-attempts", "3", "--webhook-retry-base", "0.5")
    try:
        client = server.client()
        stuck = new_account(client, onboard=False, webhook_fail="1000")
        local(client, "post", "/_local/accounts/{}/complete_onboarding".format(stuck.id))
        later = new_account(client, onboard=False)
        local(client, "post", "/_local/accounts/{}/complete_onboarding".format(later.id))
        receiver.wait("account.updated", later.id)

        def stuck_record():
            return next(e for e in local(client, "get", "/_local/events")["data"]
                        if e["type"] == "account.updated" and e["object_id"] == stuck.id)

        assert stuck_record()["delivery_status"] != "delivered"
        wait_for(lambda: stuck_record()["delivery_status"] == "failed", timeout=20, message="the event to give up")
        assert [a["status_code"] for a in stuck_record()["attempts"]] == [500, 500, 500]
    finally:
        server.stop()


def test_authentication_and_malformed_requests(local_stripe):
    with pytest.raises(stripe.AuthenticationError):
        local_stripe.client("sk_test_wrong").v1.accounts.create(params={"type": "express"})
    request = urllib.request.Request(local_stripe.url + "/v1/accounts", data=b"type=express&metadata[a=1",
                                     headers={"Authorization": "Bearer " + API_KEY})
    with pytest.raises(urllib.error.HTTPError) as malformed:
        urllib.request.urlopen(request, timeout=10)
    assert malformed.value.code == 400 and "error" in json.loads(malformed.value.read())
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(local_stripe.url + "/v1/subscriptions", timeout=10)
    assert unknown.value.code == 404
    assert json.loads(unknown.value.read())["error"]["type"] == "invalid_request_error"


# --- state file ---------------------------------------------------------------------


def test_state_survives_a_restart(receiver, tmp_path):
    state = str(tmp_path / "stripe-state.json")
    server = LocalStripe(receiver.url, "--state", state)
    try:
        client = server.client()
        tutor = new_account(client)
        params = {"amount": 1000, "currency": "usd", "application_fee_amount": 100,
                  "transfer_data": {"destination": tutor.id}}
        intent = client.v1.payment_intents.create(params=params, options={"idempotency_key": "restart-1"})
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
        server.stop()
        server.start()
        client = server.client()
        assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
        assert client.v1.accounts.retrieve(tutor.id).charges_enabled is True
        assert available(client, tutor.id) == 900
        replay = client.v1.payment_intents.create(params=params, options={"idempotency_key": "restart-1"})
        assert replay.id == intent.id
    finally:
        server.stop()
