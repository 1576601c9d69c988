"""Payment's part of the graph end to end: HTTP in, RPC to the real payment
service (with this run's local Stripe server), out; and the invoice
download route. The gateway's shaping alone: tests/unit/test_payment_graph.py."""
import json
import uuid

import pytest
import requests

from tests.e2e.test_gateway import error_codes, signed_up, tutor_with_course
from tests.integration.helpers import Db, create_admin_with_cli, new_user, wait_for
from tests.integration.learning_fixtures import soon

PAY = """mutation($l: ID!, $m: String!) { payForLesson(lessonId: $l, paymentMethodId: $m)
  { id status amount failure { code declineCode message } clientSecret invoice { number downloadUrl } } }"""
REFUND = """mutation($p: ID!, $a: Int, $r: String!) { refundPayment(paymentId: $p, amount: $a, reason: $r)
  { id amount kind status } }"""
ONBOARD = """mutation { startPayoutOnboarding { url expiresAt account { onboardingComplete chargesEnabled } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"""


@pytest.fixture(scope="module")
def learning_db(databases):
    return Db(databases["learning"].url)


@pytest.fixture(scope="module")
def payment_db(databases):
    return Db(databases["payment"].url)


@pytest.fixture(scope="module")
def student(gateway, learning_db):
    return signed_up(gateway, learning_db)[1]


@pytest.fixture(scope="module")
def tutor(gateway, learning_db):
    return signed_up(gateway, learning_db, "tutor")[1]


@pytest.fixture(scope="module")
def admin(gateway, platform):
    account = new_user(role="admin")
    made = create_admin_with_cli(account["email"], account["password"])
    assert made.returncode == 0, made.stderr
    return gateway.data(LOGIN, {"e": account["email"], "p": account["password"]})["login"]["accessToken"]


def written(payment_db):
    return {table: payment_db.scalar("SELECT count(*) FROM {}".format(table))
            for table in ("payments", "refunds", "transactions", "stripe_accounts")}


def refused(body, code="BAD_USER_INPUT"):
    """The one field error's code and the arguments it names."""
    assert error_codes(body) == [code], body
    return set(body["errors"][0]["extensions"].get("fields", {}))


def test_bad_input_names_the_argument_and_writes_nothing(gateway, student, admin, payment_db):
    before = written(payment_db)
    lesson_id = str(uuid.uuid4())
    cases = [
        (PAY, {"l": "x", "m": "pm_card_visa"}, student, {"lessonId"}),
        (PAY, {"l": lesson_id, "m": "pm bad!"}, student, {"paymentMethodId"}),
        (REFUND, {"p": "x", "r": "goodwill"}, admin, {"paymentId"}),
        (REFUND, {"p": str(uuid.uuid4()), "a": 0, "r": "goodwill"}, admin, {"amount"}),
        (REFUND, {"p": str(uuid.uuid4()), "r": ""}, admin, {"reason"}),
    ]
    for query, variables, token, fields in cases:
        body = gateway.gql(query, variables, token)
        assert refused(body) == fields, (variables, body)
        assert list(body["data"].values()) == [None]
    assert written(payment_db) == before


def test_unknown_ids_are_not_found_naming_the_argument(gateway, student, admin):
    body = gateway.gql(PAY, {"l": str(uuid.uuid4()), "m": "pm_card_visa"}, student)
    assert refused(body, "NOT_FOUND") == {"lessonId"}
    body = gateway.gql(REFUND, {"p": str(uuid.uuid4()), "r": "goodwill"}, admin)
    assert refused(body, "NOT_FOUND") == {"paymentId"}


def test_each_mutation_checks_the_role(gateway, student, tutor, payment_db):
    before = written(payment_db)
    assert error_codes(gateway.gql(PAY, {"l": str(uuid.uuid4()), "m": "pm_card_visa"}, tutor)) == ["FORBIDDEN"]
    assert error_codes(gateway.gql(REFUND, {"p": str(uuid.uuid4()), "r": "goodwill"}, student)) == ["FORBIDDEN"]
    assert error_codes(gateway.gql(ONBOARD, {}, student)) == ["FORBIDDEN"]
    anonymous = gateway.gql(ONBOARD)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"] and anonymous["data"] == {"startPayoutOnboarding": None}
    assert error_codes(gateway.gql(PAY, {"l": str(uuid.uuid4()), "m": "pm_card_visa"})) == ["UNAUTHENTICATED"]
    assert written(payment_db) == before


ME = """{ me { id payments { edges { node { id } } pageInfo { hasNextPage endCursor } }
              payoutAccount { onboardingComplete } payouts { edges { node { id } } pageInfo { endCursor } } } }"""


def test_a_new_users_payment_fields(gateway, student, tutor):
    resp = gateway.post(ME, token=tutor)
    me = resp.json()["data"]["me"]
    assert me["payments"] == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert me["payoutAccount"] is None and me["payouts"]["edges"] == []
    calls = json.loads(resp.headers["X-RPC-Calls"])
    assert calls == {"identity.get_users": 1, "payment.payment_pages_for_users": 1,
                     "payment.payout_accounts": 1, "payment.payout_pages_for_users": 1}
    me = gateway.data(ME, token=student)["me"]
    assert me["payoutAccount"] is None and me["payouts"]["edges"] == [] and me["payments"]["edges"] == []
    # another user's: null, as User.preferences
    other = gateway.data("""query($id: ID!) { user(id: $id) { payments { edges { cursor } } payoutAccount { chargesEnabled }
                            payouts { edges { cursor } } preferences } }""", {"id": me["id"]}, tutor)["user"]
    assert other == {"payments": None, "payoutAccount": None, "payouts": None, "preferences": None}
    bad = gateway.gql('{ me { payments(after: "garbage") { edges { cursor } } } }', token=student)
    assert refused(bad) == {"after"}
    bad = gateway.gql('{ me { payouts(first: 101) { edges { cursor } } } }', token=tutor)
    assert refused(bad) == {"first"}


def test_payment_enums_are_described(gateway):
    for name, values in [("PaymentStatus", {"PENDING", "REQUIRES_ACTION", "SUCCEEDED", "FAILED", "REFUNDED",
                                            "PARTIALLY_REFUNDED", "CANCELLED"}),
                         ("PayoutStatus", {"PENDING", "IN_TRANSIT", "PAID", "FAILED", "CANCELLED"}),
                         ("RefundKind", {"POLICY", "ADMIN", "COMPENSATION"}),
                         ("RefundStatus", {"PENDING", "SUCCEEDED", "FAILED"})]:
        enum = gateway.data('{ __type(name: "%s") { kind enumValues { name description } } }' % name)["__type"]
        assert enum["kind"] == "ENUM" and {v["name"] for v in enum["enumValues"]} == values
        assert all(v["description"] for v in enum["enumValues"])


def assert_json_error(resp, status, code):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert [e["extensions"]["code"] for e in resp.json()["errors"]] == [code]


def test_invoice_download_refusals_are_json(gateway, student):
    url = gateway.url + "/invoices/{}.pdf"
    auth = {"Authorization": "Bearer " + student}
    for headers in ({}, auth):
        for bad in ("not-a-uuid", "1' OR '1'='1", "%00"):
            assert_json_error(requests.get(url.format(bad), headers=headers, timeout=30), 404, "NOT_FOUND")
    unknown = url.format(uuid.uuid4())
    assert_json_error(requests.get(unknown, timeout=30), 401, "UNAUTHENTICATED")
    assert_json_error(requests.get(unknown, headers={"Authorization": "Bearer forged"}, timeout=30),
                      401, "UNAUTHENTICATED")
    assert_json_error(requests.get(unknown, headers={"Authorization": "Basic abc"}, timeout=30),
                      401, "UNAUTHENTICATED")
    assert_json_error(requests.get(unknown, headers=auth, timeout=30), 404, "NOT_FOUND")
    assert_json_error(requests.post(unknown, headers=auth, timeout=30), 405, "METHOD_NOT_ALLOWED")


LESSON = """query($id: ID!) { lesson(id: $id) { id status payment { id status amount platformFee currency
  amountRefunded dueAt succeededAt clientSecret failure { code declineCode message } invoice { number downloadUrl }
  refunds { amount kind reason } } } }"""
BOOK = """mutation($c: ID!, $t: String!) { bookLesson(courseId: $c, scheduledAt: $t) { id status } }"""


@pytest.fixture(scope="module")
def paid(gateway, learning_db):
    """The whole path through the graph, against this run's local Stripe
    server: a tutor onboards, a student books, a declined card is a result,
    a good one pays. {tutor, student: tokens, lesson, payment}."""
    _, tutor_token, course = tutor_with_course(gateway, learning_db, "pay-maths", "Paid theory")
    _, student_token, _ = signed_up(gateway, learning_db)

    onboarding = gateway.data(ONBOARD, token=tutor_token)["startPayoutOnboarding"]
    assert onboarding["account"] == {"onboardingComplete": False, "chargesEnabled": False}
    assert onboarding["expiresAt"].endswith("+00:00")
    # the local server completes onboarding when the link is opened, then sends the tutor back to the app
    opened = requests.get(onboarding["url"], allow_redirects=False, timeout=30)
    assert opened.status_code == 302, opened.text
    wait_for(lambda: gateway.data("{ me { payoutAccount { onboardingComplete } } }", token=tutor_token)
             ["me"]["payoutAccount"]["onboardingComplete"], message="account.updated applied")

    lesson = gateway.data(BOOK, {"c": course["id"], "t": soon(3600).isoformat()}, student_token)["bookLesson"]
    assert lesson["status"] == "AWAITING_PAYMENT"
    payment = wait_for(lambda: gateway.data(LESSON, {"id": lesson["id"]}, student_token)["lesson"]["payment"],
                       message="the payment opened for the booking")
    assert payment["status"] == "PENDING" and payment["amount"] == 4000 and payment["currency"] == "EUR"
    assert payment["dueAt"] and payment["invoice"] is None

    declined = gateway.data(PAY, {"l": lesson["id"], "m": "pm_card_chargeDeclinedInsufficientFunds"},
                            student_token)["payForLesson"]
    assert declined["status"] == "FAILED" and declined["clientSecret"]
    assert declined["failure"] == {"code": "card_declined", "declineCode": "insufficient_funds",
                                   "message": "Your card has insufficient funds."}

    paid = gateway.data(PAY, {"l": lesson["id"], "m": "pm_card_visa"}, student_token)["payForLesson"]
    assert paid["status"] == "SUCCEEDED" and paid["failure"] is None and paid["clientSecret"] is None
    assert wait_for(lambda: gateway.data(LESSON, {"id": lesson["id"]}, student_token)["lesson"]["status"]
                    == "REQUESTED", message="learning told the lesson is paid")
    return {"tutor": tutor_token, "student": student_token, "lesson": lesson, "payment": paid}


def test_onboard_book_pay_and_download_the_invoice(gateway, learning_db, paid):
    student_token, tutor_token, lesson, paid = paid["student"], paid["tutor"], paid["lesson"], paid["payment"]
    again = gateway.gql(PAY, {"l": lesson["id"], "m": "pm_card_visa"}, student_token)
    assert refused(again, "CONFLICT") == {"lessonId"}

    invoice = wait_for(lambda: gateway.data(LESSON, {"id": lesson["id"]}, student_token)
                       ["lesson"]["payment"]["invoice"], message="the invoice issued")
    assert invoice["downloadUrl"].startswith(gateway.url + "/invoices/")
    pdf = requests.get(invoice["downloadUrl"], headers={"Authorization": "Bearer " + student_token}, timeout=30)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="invoice-{}.pdf"'.format(invoice["number"])
    assert pdf.headers["Cache-Control"] == "private, no-store"
    # the tutor sees the payment, not the student's invoice; another student not even that
    as_tutor = gateway.data(LESSON, {"id": lesson["id"]}, tutor_token)["lesson"]["payment"]
    assert as_tutor["id"] == paid["id"] and as_tutor["invoice"] is None and as_tutor["clientSecret"] is None
    for other in (tutor_token, signed_up(gateway, learning_db)[1]):
        refused_pdf = requests.get(invoice["downloadUrl"], headers={"Authorization": "Bearer " + other}, timeout=30)
        assert_json_error(refused_pdf, 404, "NOT_FOUND")

    # the lessons of a page cost one payment RPC, and each side lists the payment
    resp = gateway.post("{ me { lessons { edges { node { payment { id } } } } payments { edges { node { id } } } } }",
                        token=student_token)
    me = resp.json()["data"]["me"]
    assert [e["node"]["payment"]["id"] for e in me["lessons"]["edges"]] == [paid["id"]]
    assert [e["node"]["id"] for e in me["payments"]["edges"]] == [paid["id"]]
    assert json.loads(resp.headers["X-RPC-Calls"])["payment.payments_for_lessons"] == 1
    received = gateway.data("{ me { payments { edges { node { id } } } } }", token=tutor_token)["me"]["payments"]
    assert [e["node"]["id"] for e in received["edges"]] == [paid["id"]]


def test_an_admin_refunds_part_of_a_payment(gateway, admin, paid):
    lesson, paid = paid["lesson"], paid["payment"]
    refund = gateway.data(REFUND, {"p": paid["id"], "a": 1000, "r": "goodwill gesture"}, admin)["refundPayment"]
    assert refund["amount"] == 1000 and refund["kind"] == "ADMIN"

    def refunded():
        p = gateway.data(LESSON, {"id": lesson["id"]}, admin)["lesson"]["payment"]
        return p if p["amountRefunded"] == 1000 else None
    after = wait_for(refunded, message="the refund recorded")
    assert after["status"] == "PARTIALLY_REFUNDED"
    assert after["refunds"] == [{"amount": 1000, "kind": "ADMIN", "reason": "goodwill gesture"}]
    too_much = gateway.gql(REFUND, {"p": paid["id"], "a": 4000, "r": "goodwill gesture"}, admin)
    assert refused(too_much, "BAD_USER_INPUT") == {"amount"}


def test_stripe_sends_tutors_back_to_pages_that_say_what_happens_next(gateway):
    done = gateway.http.get(gateway.url + "/payouts/onboarding/done", timeout=30)
    assert done.status_code == 200 and done.headers["Content-Type"].startswith("text/html")
    assert "went to Stripe" in done.text and "expired" not in done.text
    expired = gateway.http.get(gateway.url + "/payouts/onboarding/expired", timeout=30)
    assert expired.status_code == 200 and "has expired" in expired.text
    other = gateway.http.get(gateway.url + "/payouts/onboarding/elsewhere", timeout=30)
    assert other.status_code == 404 and other.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
