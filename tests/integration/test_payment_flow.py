"""The money flow through running services, the local Stripe server
(devservers/stripe_server) and the real stripe SDK: onboarding, booking,
paying, the saga with learning, refunds, payouts, webhooks, the ledger
(docs/payments.md)."""
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
import stripe

from services.common.auth import issue_access_token
from services.common.errors import BadInput, Conflict, Forbidden
from tests.integration.helpers import Db, operator_token, wait_for
from tests.integration.learning_fixtures import people, soon, start_shortly, tutor_with_course  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dbs(databases):
    return {"payment": Db(databases["payment"].url), "learning": Db(databases["learning"].url)}


@pytest.fixture(scope="module")
def stripe_api():
    return stripe.StripeClient(os.environ["STRIPE_SECRET_KEY"],
                               base_addresses={"api": "http://127.0.0.1:" + os.environ["STRIPE_LOCAL_PORT"]})


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def onboard(rpc, tutor):
    """Follow the onboarding link as the tutor's browser would, then wait
    for Stripe's account.updated webhook to make the account ready."""
    link = rpc.payment.start_payout_onboarding(tutor.token)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(link["url"], timeout=10)
    assert redirect.value.code == 302 and redirect.value.headers["Location"].endswith("/payouts/onboarding/done")
    wait_for(lambda: (rpc.payment.payout_accounts(tutor.token, [tutor.user_id])[tutor.user_id] or {})
             .get("onboarding_complete"), message="onboarding applied")
    return link


def paid_tutor(rpc, people, price=4000):
    tutor, course = tutor_with_course(rpc, people, price=price)
    onboard(rpc, tutor)
    return tutor, course


def book(rpc, people, course, at=None, student=None):
    student = student or people.make("student")
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                      "scheduled_at": (at or soon(600)).isoformat()})
    assert lesson["status"] == "awaiting_payment"
    wait_for(lambda: rpc.payment.payments_for_lessons(student.token, [lesson["id"]])[lesson["id"]],
             message="payment opened")
    return student, lesson


def payment_of(rpc, student, lesson):
    return rpc.payment.payments_for_lessons(student.token, [lesson["id"]])[lesson["id"]]


def pay(rpc, student, lesson, method="pm_card_visa"):
    return rpc.payment.pay_for_lesson(student.token, {"lessonId": lesson["id"], "paymentMethodId": method})


def lesson_status(dbs, lesson):
    return dbs["learning"].scalar("SELECT status::text FROM lessons WHERE id = :id", id=lesson["id"])


def ledger(dbs, payment_id):
    rows = dbs["payment"].all("SELECT type::text, sum(amount) FROM transactions WHERE payment_id = :id GROUP BY 1",
                              id=payment_id)
    return {kind: int(total) for kind, total in rows}


def local_events(stripe_api):
    """The local server's events, newest first, with their deliveries (docs/stripe-local.md)."""
    return json.loads(stripe_api.raw_request("get", "/_local/events").body)["data"]


def admin_token():
    return issue_access_token(str(uuid.uuid4()), "admin", uuid.uuid4())


def test_whole_path_onboard_book_pay_confirm_complete_pay_out(rpc, people, dbs, stripe_api):
    tutor, course = paid_tutor(rpc, people, price=4000)
    student, lesson = book(rpc, people, course)
    pending = payment_of(rpc, student, lesson)
    assert pending["status"] == "pending" and pending["client_secret"].startswith("pi_")
    assert pending["amount"] == 4000 and pending["platform_fee"] == 600   # 15 % by default

    paid = pay(rpc, student, lesson)
    assert paid["status"] == "succeeded" and paid["client_secret"] is None
    assert paid["invoice"]["number"].startswith(str(time.gmtime().tm_year) + "-")
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="learning saw the payment")
    assert ledger(dbs, paid["id"]) == {"charge": 4000, "application_fee": 600, "transfer": 3400}
    # The tutor sees the payment too, without the student's client secret or invoice.
    assert payment_of(rpc, tutor, lesson)["invoice"] is None

    intent = stripe_api.v1.payment_intents.retrieve(dbs["payment"].scalar(
        "SELECT stripe_payment_intent_id FROM payments WHERE id = :id", id=paid["id"]))
    assert intent.application_fee_amount == 600 and intent.transfer_data.destination.startswith("acct_")

    completed_last_week(rpc, dbs, tutor, lesson, paid["id"])
    first = rpc.payment.run_payouts(operator_token())
    mine = [p for p in first["payouts"] if p["tutor_user_id"] == tutor.user_id]
    assert [p["amount"] for p in mine] == [3400]
    again = rpc.payment.run_payouts(operator_token())
    assert tutor.user_id not in [p["tutor_user_id"] for p in again["payouts"]]
    assert dbs["payment"].scalar("SELECT count(*) FROM payouts WHERE tutor_user_id = :t", t=tutor.user_id) == 1
    wait_for(lambda: dbs["payment"].scalar("SELECT status::text FROM payouts WHERE tutor_user_id = :t",
                                           t=tutor.user_id) == "paid", message="payout.paid applied")
    page = rpc.payment.payout_pages_for_users(tutor.token, [tutor.user_id])[tutor.user_id]
    assert [(p["amount"], p["status"]) for p in page["items"]] == [(3400, "paid")]
    assert rpc.payment.ledger_check(operator_token()) == {"problems": []}


def completed_last_week(rpc, dbs, tutor, lesson, payment_id):
    """Confirm and complete a paid lesson, then date its completion a week
    back, so that the run for the last week that has ended takes it."""
    rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    start_shortly(dbs["learning"], lesson["id"], seconds=0)
    rpc.learning.complete_lesson(tutor.token, lesson["id"])
    wait_for(lambda: dbs["payment"].scalar("SELECT completed_at IS NOT NULL FROM payments WHERE id = :id",
                                           id=payment_id), message="payment saw the completion")
    dbs["payment"].execute("UPDATE payments SET completed_at = completed_at - interval '7 days' WHERE id = :id",
                           id=payment_id)


def test_a_failed_payout_releases_its_lessons_and_a_restricted_tutor_waits(rpc, people, dbs,
                                                                          stripe_api):
    tutor, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    paid = pay(rpc, student, lesson)
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="paid")
    completed_last_week(rpc, dbs, tutor, lesson, paid["id"])
    [payout] = [p for p in rpc.payment.run_payouts(operator_token())["payouts"]
                if p["tutor_user_id"] == tutor.user_id]
    stripe_id = dbs["payment"].scalar("SELECT stripe_payout_id FROM payouts WHERE id = :id", id=payout["id"])
    stripe_api.raw_request("post", "/_local/payouts/{}/fail".format(stripe_id))   # the bank sends it back
    wait_for(lambda: dbs["payment"].scalar("SELECT status::text FROM payouts WHERE id = :id",
                                           id=payout["id"]) == "failed", message="payout.failed applied")
    assert dbs["payment"].scalar("SELECT failure_code FROM payouts WHERE id = :id", id=payout["id"])
    assert dbs["payment"].scalar("SELECT payout_id FROM payments WHERE id = :id", id=paid["id"]) is None
    assert dbs["payment"].scalar("SELECT count(*) FROM transactions WHERE payout_id = :id", id=payout["id"]) == 0
    # The week again: its payout exists (failed), so nobody is paid twice in it.
    again = rpc.payment.run_payouts(operator_token())
    assert payout["id"] in [p["id"] for p in again["payouts"]]
    assert dbs["payment"].scalar("SELECT count(*) FROM payouts WHERE tutor_user_id = :t", t=tutor.user_id) == 1

    # A tutor whose account Stripe restricted waits, and is not paid out.
    other, other_course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, other_course)
    paid = pay(rpc, student, lesson)
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="paid")
    completed_last_week(rpc, dbs, other, lesson, paid["id"])
    account = dbs["payment"].scalar("SELECT stripe_account_id FROM stripe_accounts WHERE tutor_user_id = :t",
                                    t=other.user_id)
    stripe_api.raw_request("post", "/_local/accounts/{}/restrict".format(account))
    wait_for(lambda: not rpc.payment.payout_accounts(other.token, [other.user_id])[other.user_id]
             ["payouts_enabled"], message="restriction applied")
    run = rpc.payment.run_payouts(operator_token())
    assert other.user_id not in [p["tutor_user_id"] for p in run["payouts"]]
    assert dbs["payment"].scalar("SELECT payout_id FROM payments WHERE id = :id", id=paid["id"]) is None


def test_a_declined_card_leaves_the_lesson_unpaid_and_another_card_pays(rpc, people, dbs):
    _, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    declined = pay(rpc, student, lesson, "pm_card_chargeDeclinedInsufficientFunds")
    assert declined["status"] == "failed"
    assert declined["failure"]["code"] == "card_declined"
    assert declined["failure"]["decline_code"] == "insufficient_funds"
    assert "insufficient funds" in declined["failure"]["message"].lower()
    assert lesson_status(dbs, lesson) == "awaiting_payment"
    assert ledger(dbs, declined["id"]) == {}
    assert pay(rpc, student, lesson)["status"] == "succeeded"
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="paid after a decline")
    with pytest.raises(Conflict):
        pay(rpc, student, lesson)


def test_a_card_that_asks_for_3d_secure_is_finished_with_the_client_secret(rpc, people, dbs, stripe_api):
    _, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    waiting = pay(rpc, student, lesson, "pm_card_authenticationRequired")
    assert waiting["status"] == "requires_action" and waiting["client_secret"]
    assert lesson_status(dbs, lesson) == "awaiting_payment"
    # The app finishes it with Stripe's own libraries; here, the local server's stand-in for that step.
    intent_id = waiting["client_secret"].split("_secret_")[0]
    stripe_api.raw_request("post", "/_local/payment_intents/{}/authenticate".format(intent_id))
    wait_for(lambda: payment_of(rpc, student, lesson)["status"] == "succeeded", message="webhook applied")
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="learning saw the payment")
    assert ledger(dbs, waiting["id"])["charge"] == 4000


def test_an_unpaid_booking_expires_frees_its_slot_and_cancels_the_intent(rpc, people, dbs, stripe_api):
    _, course = paid_tutor(rpc, people)
    at = soon(3600)
    student, lesson = book(rpc, people, course, at=at)
    intent_id = dbs["payment"].scalar("SELECT stripe_payment_intent_id FROM payments WHERE lesson_id = :id",
                                      id=lesson["id"])
    dbs["learning"].execute("UPDATE lessons SET payment_due_at = now() - interval '1 second' WHERE id = :id",
                            id=lesson["id"])
    wait_for(lambda: lesson_status(dbs, lesson) == "expired", message="learning expired it")
    wait_for(lambda: payment_of(rpc, student, lesson)["status"] == "cancelled", message="payment cancelled")
    assert stripe_api.v1.payment_intents.retrieve(intent_id).status == "canceled"
    # The slot is free again.
    book(rpc, people, course, at=at)


def test_a_success_after_expiry_is_refunded_in_full(rpc, people, dbs, stripe_api, platform):
    _, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    intent_id = dbs["payment"].scalar("SELECT stripe_payment_intent_id FROM payments WHERE lesson_id = :id",
                                      id=lesson["id"])
    # The app confirms with Stripe itself at the last moment, while payment is away.
    platform.stop("payment")
    try:
        dbs["learning"].execute("UPDATE lessons SET payment_due_at = now() WHERE id = :id", id=lesson["id"])
        wait_for(lambda: lesson_status(dbs, lesson) == "expired", message="expired")
        stripe_api.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    finally:
        platform.start("payment")
    wait_for(lambda: payment_of(rpc, student, lesson)["status"] == "refunded", timeout=60,
             message="late success refunded")
    kind, amount = dbs["payment"].all("SELECT kind::text, amount FROM refunds WHERE payment_id = "
                                      "(SELECT id FROM payments WHERE lesson_id = :id)", id=lesson["id"])[0]
    assert (kind, amount) == ("compensation", 4000)
    assert lesson_status(dbs, lesson) == "expired"
    # The student sees why the money came back.
    [refund] = payment_of(rpc, student, lesson)["refunds"]
    assert refund["kind"] == "compensation" and "expired before the payment arrived" in refund["reason"]


@pytest.mark.parametrize("who,ahead,refunded", [
    ("tutor", timedelta(minutes=30), 4000),
    ("student", timedelta(days=2), 4000),
    ("student", timedelta(minutes=30), 2000),
])
def test_refund_policy_on_cancellation(rpc, people, dbs, who, ahead, refunded):
    tutor, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course, at=soon(int(ahead.total_seconds())))
    payment = pay(rpc, student, lesson)
    wait_for(lambda: lesson_status(dbs, lesson) == "requested", message="paid")
    canceller = tutor if who == "tutor" else student
    rpc.learning.cancel_lesson(canceller.token, lesson["id"], {"reason": "Cannot make it"})
    wait_for(lambda: payment_of(rpc, student, lesson)["amount_refunded"] == refunded, message="refund made")
    sums = ledger(dbs, payment["id"])
    assert sums["refund"] == refunded
    assert sums["transfer_reversal"] + sums["application_fee_refund"] == refunded
    assert sums["application_fee_refund"] == 600 * refunded // 4000
    assert rpc.payment.ledger_check(operator_token()) == {"problems": []}


def test_refund_by_hand_never_exceeds_the_charge(rpc, people, dbs):
    _, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    payment = pay(rpc, student, lesson)
    admin = admin_token()
    with pytest.raises(Forbidden):
        rpc.payment.refund_payment(student.token, payment["id"], {"amount": 100, "reason": "Goodwill"})
    with pytest.raises(BadInput) as error:
        rpc.payment.refund_payment(admin, payment["id"], {"amount": 100, "reason": ""})
    assert "reason" in error.value.details
    first = rpc.payment.refund_payment(admin, payment["id"], {"amount": 1500, "reason": "Audio problems"})
    assert (first["kind"], first["amount"], first["reason"]) == ("admin", 1500, "Audio problems")
    with pytest.raises(BadInput) as error:
        rpc.payment.refund_payment(admin, payment["id"], {"amount": 2501, "reason": "Too much"})
    assert "amount" in error.value.details
    rest = rpc.payment.refund_payment(admin, payment["id"], {"reason": "The rest"})
    assert rest["amount"] == 2500
    with pytest.raises(Conflict):
        rpc.payment.refund_payment(admin, payment["id"], {"amount": 1, "reason": "Once more"})
    assert payment_of(rpc, student, lesson)["status"] == "refunded"
    assert ledger(dbs, payment["id"])["refund"] == 4000
    assert dbs["payment"].scalar("SELECT count(*) FROM refunds WHERE payment_id = :id", id=payment["id"]) == 2


def test_bad_input_is_named_and_writes_nothing(rpc, people, dbs):
    _, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    before = dbs["payment"].scalar("SELECT count(*) FROM transactions")
    cases = [({"lessonId": "nope", "paymentMethodId": "pm_card_visa"}, "lessonId"),
             ({"lessonId": lesson["id"], "paymentMethodId": "pm card visa"}, "paymentMethodId"),
             ({"lessonId": lesson["id"]}, "paymentMethodId"),
             ({"lessonId": lesson["id"], "paymentMethodId": "pm_card_visa", "amount": 1}, "amount"),
             ({"lessonId": lesson["id"], "paymentMethodId": "pm_card_no_such_card"}, "paymentMethodId")]
    for payload, field in cases:
        with pytest.raises(BadInput) as error:
            rpc.payment.pay_for_lesson(student.token, payload)
        assert field in error.value.details, (payload, error.value.details)
    for bad in (["x"], "not-a-list"):
        with pytest.raises(BadInput):
            rpc.payment.payments_for_lessons(student.token, bad)
    with pytest.raises(BadInput) as error:
        rpc.payment.run_payouts(operator_token(), {"periodStart": "2026-11-24"})  # a Tuesday
    assert "period_start" in error.value.details
    with pytest.raises(Forbidden):
        pay(rpc, people.make("student"), lesson)
    assert dbs["payment"].scalar("SELECT count(*) FROM transactions") == before
    assert payment_of(rpc, student, lesson)["status"] == "pending"


def test_a_tutor_without_a_payout_account_cannot_be_paid(rpc, people):
    _, course = tutor_with_course(rpc, people, price=4000)
    student, lesson = book(rpc, people, course)
    assert payment_of(rpc, student, lesson)["client_secret"] is None
    with pytest.raises(Conflict) as error:
        pay(rpc, student, lesson)
    assert "setting up payouts" in error.value.message and "lesson_id" in error.value.details


def test_killed_between_stripes_answer_and_the_commit_charges_once(rpc, people, dbs, stripe_api, platform):
    """The payment row waits on a table lock while Stripe has already made
    the PaymentIntent; the service is killed there. The redelivered
    lesson_booked makes the same call with the same idempotency key."""
    _, course = paid_tutor(rpc, people)
    student = people.make("student")
    with dbs["payment"].engine.connect() as blocker:
        blocker.exec_driver_sql("BEGIN; LOCK TABLE payments IN SHARE MODE")
        lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                          "scheduled_at": soon(600).isoformat()})
        intents = lambda: [e for e in local_events(stripe_api)  # noqa: E731
                           if e["type"] == "payment_intent.created"
                           and stripe_api.v1.payment_intents.retrieve(e["object_id"]).metadata["lesson_id"] == lesson["id"]]
        wait_for(intents, message="Stripe made the PaymentIntent")
        platform.kill("payment")
        blocker.exec_driver_sql("ROLLBACK")
    wait_for(lambda: platform.pid("payment"), timeout=60, message="payment restarted")
    wait_for(lambda: dbs["payment"].scalar("SELECT count(*) FROM payments WHERE lesson_id = :id", id=lesson["id"]),
             timeout=60, message="payment row after the restart")
    assert len(intents()) == 1
    assert pay(rpc, student, lesson)["status"] == "succeeded"
    charges = stripe_api.v1.charges  # one charge: the intent's only one
    intent = stripe_api.v1.payment_intents.retrieve(intents()[0]["object_id"])
    assert intent.status == "succeeded" and charges.retrieve(intent.latest_charge).amount == 4000
    assert dbs["payment"].scalar("SELECT count(*) FROM payments WHERE lesson_id = :id", id=lesson["id"]) == 1
    assert ledger(dbs, dbs["payment"].scalar("SELECT id FROM payments WHERE lesson_id = :id",
                                             id=lesson["id"]))["charge"] == 4000


def _post_webhook(body, header):
    request = urllib.request.Request("http://{}/webhooks/stripe".format(os.environ["PAYMENT_WEBHOOK_ADDRESS"]),
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Stripe-Signature": header})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _signed(body, secret, at=None):
    at = int(at or time.time())
    signature = hmac.new(secret.encode(), "{}.{}".format(at, body.decode()).encode(), hashlib.sha256).hexdigest()
    return "t={},v1={}".format(at, signature)


def test_webhooks_refuse_forged_and_stale_signatures_and_apply_a_duplicate_once(rpc, people, dbs, stripe_api):
    tutor, course = paid_tutor(rpc, people)
    student, lesson = book(rpc, people, course)
    pay(rpc, student, lesson)
    inbox = lambda: dbs["payment"].scalar("SELECT count(*) FROM inbox WHERE handler LIKE 'stripe.%'")  # noqa: E731
    events = local_events(stripe_api)
    succeeded = next(e for e in events if e["type"] == "payment_intent.succeeded"
                     and stripe_api.v1.payment_intents.retrieve(e["object_id"]).metadata["lesson_id"] == lesson["id"])
    def delivery(event_id):
        return next(e for e in local_events(stripe_api) if e["id"] == event_id)
    delivered = wait_for(lambda: delivery(succeeded["id"])["delivery_status"] == "delivered" and
                         delivery(succeeded["id"]), message="payment_intent.succeeded delivered")
    before = inbox()
    stripe_api.raw_request("post", "/_local/events/{}/resend".format(succeeded["id"]))
    wait_for(lambda: len(delivery(succeeded["id"])["attempts"]) > len(delivered["attempts"]), message="resent")
    assert inbox() == before
    assert dbs["payment"].scalar("SELECT count(*) FROM invoices WHERE payment_id = (SELECT id FROM payments "
                                 "WHERE lesson_id = :id)", id=lesson["id"]) == 1

    # A forged event: a refund nobody made, signed with the wrong secret, and one too old.
    body = json.dumps({"id": "evt_forged", "object": "event", "type": "payout.paid", "api_version": "2024-06-20",
                       "created": int(time.time()), "data": {"object": {"id": "po_x", "status": "paid"}}}).encode()
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    for header in (_signed(body, "whsec_wrong"), _signed(body, secret, time.time() - 400), "", "t=1,v1=abc"):
        status, answer = _post_webhook(body, header)
        assert status == 400 and "Stripe-Signature" in answer["error"]
    assert inbox() == before
    status, answer = _post_webhook(body, _signed(body, secret))
    assert status == 200 and answer["outcome"] == "ignored"   # well signed, but no payout of ours
