"""Payment's part of the graph (api_gateway/schema/payment.py), run against
fake RPCs: what it asks the payment service, in how many calls, and how it
shapes the answers. The same over HTTP with the real services:
tests/e2e/test_payment_graph.py."""
import uuid
from collections import Counter

import graphene
import pytest
from graphql import execute, parse

from api_gateway.errors import format_error
from api_gateway.loaders import Loaders
from api_gateway.schema import registry, schema
from services.common.auth import Principal
from services.common.errors import BadInput, NotFound

STUDENT, TUTOR, ADMIN, OTHER = (str(uuid.uuid4()) for _ in range(4))
LESSONS = [str(uuid.uuid4()) for _ in range(3)]


def payment_view(lesson_id, **changes):
    view = {"id": str(uuid.uuid4()), "lesson_id": lesson_id, "student_user_id": STUDENT, "tutor_user_id": TUTOR,
            "amount": 4000, "platform_fee": 600, "currency": "EUR", "amount_refunded": 0, "status": "succeeded",
            "due_at": None, "succeeded_at": "2031-01-01T10:00:00+00:00", "created_at": "2031-01-01T09:00:00+00:00",
            "failure": None, "client_secret": None, "invoice": {"id": "6f1c2f55-3f0a-4d7e-9b8e-2f1a0c9d8e7b",
                                                                "number": "2031-000001"}}
    view.update(changes)
    return view


class FakeRpc:
    """The services as a dict of answers: {(service, method): function}."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = Counter()
        self.args = []

    def call(self, service, method, *args):
        self.calls["{}.{}".format(service, method)] += 1
        self.args.append((method, args))
        return self.answers[(service, method)](*args)


class Context:
    def __init__(self, rpc, viewer, base_url="https://api.example.com/"):
        self.rpc, self.viewer, self.token, self.token_error = rpc, viewer, "token", None
        self.loaders = Loaders(rpc, "token", registry.LOADERS)
        self.throttle, self.client, self.base_url = None, "test", base_url

    def call(self, service, method, *args):
        return self.rpc.call(service, method, *args)


def run(query, answers, viewer, variables=None):
    rpc = FakeRpc(answers)
    result = execute(schema.graphql_schema, parse(query), context_value=Context(rpc, viewer),
                     variable_values=variables)
    errors = [format_error(e) for e in result.errors or ()]
    return result.data, errors, rpc


def user(user_id, role):
    return {"id": user_id, "role": role, "first_name": "A", "last_name": "B", "created_at": "2031-01-01T00:00:00+00:00",
            "profile": {}}


def lesson(lesson_id):
    return {"id": lesson_id, "scheduled_at": "2031-01-02T10:00:00+00:00", "ends_at": "2031-01-02T10:30:00+00:00",
            "status": "requested", "course_id": "c", "tutor_user_id": TUTOR, "student_user_id": STUDENT,
            "cursor": "cur-" + lesson_id}


def test_lesson_payments_of_a_page_cost_one_rpc():
    answers = {
        ("identity", "get_users"): lambda token, ids: [user(i, "student") for i in ids],
        ("learning", "lesson_pages_for_users"): lambda token, ids, role, query: {
            i: {"items": [lesson(x) for x in LESSONS], "next_cursor": None} for i in ids},
        ("payment", "payments_for_lessons"): lambda token, ids: {
            i: (payment_view(i) if i != LESSONS[2] else None) for i in ids},
    }
    data, errors, rpc = run("{ me { lessons { edges { node { id payment { amount status invoice { number "
                            "downloadUrl } } } } } } }", answers, Principal(STUDENT, "student"))
    assert not errors, errors
    nodes = [e["node"] for e in data["me"]["lessons"]["edges"]]
    assert [n["payment"] and n["payment"]["status"] for n in nodes] == ["SUCCEEDED", "SUCCEEDED", None]
    assert nodes[0]["payment"]["invoice"]["downloadUrl"] == \
        "https://api.example.com/invoices/6f1c2f55-3f0a-4d7e-9b8e-2f1a0c9d8e7b.pdf"
    assert rpc.calls["payment.payments_for_lessons"] == 1
    assert sorted(next(a for m, a in rpc.args if m == "payments_for_lessons")[1]) == sorted(LESSONS)


def test_a_declined_card_is_a_failed_payment_not_an_error():
    failure = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has "
               "insufficient funds."}
    answers = {("payment", "pay_for_lesson"): lambda token, payload: payment_view(
        payload["lessonId"], status="failed", failure=failure, client_secret="pi_1_secret_2", invoice=None)}
    data, errors, rpc = run("""mutation($l: ID!) { payForLesson(lessonId: $l, paymentMethodId: "pm_card_declined")
                               { status clientSecret failure { code declineCode message } invoice { number } } }""",
                            answers, Principal(STUDENT, "student"), {"l": LESSONS[0]})
    assert not errors
    assert data["payForLesson"] == {"status": "FAILED", "clientSecret": "pi_1_secret_2", "invoice": None,
                                    "failure": {"code": "card_declined", "declineCode": "insufficient_funds",
                                                "message": "Your card has insufficient funds."}}
    assert rpc.args == [("pay_for_lesson", ("token", {"lessonId": LESSONS[0], "paymentMethodId": "pm_card_declined"}))]


@pytest.mark.parametrize("role, mutation", [
    ("tutor", 'payForLesson(lessonId: "{}", paymentMethodId: "pm_card_visa") {{ id }}'.format(LESSONS[0])),
    ("student", 'refundPayment(paymentId: "{}", reason: "goodwill") {{ id }}'.format(LESSONS[0])),
    ("student", "startPayoutOnboarding { url }"),
])
def test_each_mutation_checks_the_role_before_any_rpc(role, mutation):
    data, errors, rpc = run("mutation { %s }" % mutation, {}, Principal(str(uuid.uuid4()), role))
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"] and not rpc.calls


def test_service_errors_name_the_clients_arguments():
    def refuse(token, payment_id, payload):
        raise NotFound("no such payment", {"payment_id": ["Unknown payment."]})

    data, errors, _ = run('mutation { refundPayment(paymentId: "%s", amount: 5, reason: "goodwill") { id } }'
                          % LESSONS[0], {("payment", "refund_payment"): refuse}, Principal(ADMIN, "admin"))
    assert data == {"refundPayment": None}
    assert errors[0]["extensions"] == {"code": "NOT_FOUND", "fields": {"paymentId": ["Unknown payment."]}}

    def bad_cursor(token, ids, role, page):
        raise BadInput("invalid cursor", {"cursor": ["Not a cursor this API returned."]})

    answers = {("identity", "get_users"): lambda token, ids: [user(i, "student") for i in ids],
               ("payment", "payment_pages_for_users"): bad_cursor}
    _, errors, _ = run('{ me { payments(after: "junk") { edges { cursor } } } }', answers,
                       Principal(STUDENT, "student"))
    assert errors[0]["extensions"]["fields"] == {"after": ["Not a cursor this API returned."]}


def test_refund_passes_amount_only_when_given():
    answers = {("payment", "refund_payment"): lambda token, payment_id, payload: {
        "id": "r", "payment_id": payment_id, "amount": payload.get("amount") or 4000, "currency": "EUR",
        "kind": "admin", "reason": payload["reason"], "status": "pending", "created_at": None}}
    data, errors, rpc = run('mutation { refundPayment(paymentId: "p", reason: "goodwill") { amount kind status } }',
                            answers, Principal(ADMIN, "admin"))
    assert not errors and data["refundPayment"] == {"amount": 4000, "kind": "ADMIN", "status": "PENDING"}
    assert rpc.args == [("refund_payment", ("token", "p", {"reason": "goodwill"}))]


def test_payout_onboarding_answers_an_iso_expiry_and_the_account():
    answers = {("payment", "start_payout_onboarding"): lambda token: {
        "tutor_user_id": TUTOR, "stripe_account_id": "acct_1", "onboarding_complete": False,
        "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
        "url": "https://connect.example/setup/1", "expires_at": 1924992000}}
    data, errors, _ = run("mutation { startPayoutOnboarding { url expiresAt account { onboardingComplete "
                          "chargesEnabled } } }", answers, Principal(TUTOR, "tutor"))
    assert not errors
    assert data["startPayoutOnboarding"] == {"url": "https://connect.example/setup/1",
                                             "expiresAt": "2031-01-01T00:00:00+00:00",
                                             "account": {"onboardingComplete": False, "chargesEnabled": False}}


QUERY_USER = """query($id: ID!) { user(id: $id) { payments { edges { node { id } } }
  payoutAccount { payoutsEnabled } payouts { edges { cursor node { status periodStart } } pageInfo { endCursor } } } }"""


def payment_answers(role):
    return {
        ("identity", "get_user"): lambda token, user_id: user(user_id, role),
        ("payment", "payment_pages_for_users"): lambda token, ids, role_, page: {
            i: {"items": [dict(payment_view(LESSONS[0]), cursor="c1")], "next_cursor": None} for i in ids},
        ("payment", "payout_accounts"): lambda token, ids: {i: {
            "tutor_user_id": i, "stripe_account_id": "acct_1", "onboarding_complete": True, "charges_enabled": True,
            "payouts_enabled": True, "details_submitted": True} for i in ids},
        ("payment", "payout_pages_for_users"): lambda token, ids, page: {i: {"items": [{
            "id": "po", "tutor_user_id": i, "amount": 3400, "currency": "EUR", "period_start": "2031-01-06",
            "period_end": "2031-01-12", "status": "in_transit", "failure_code": None, "failure_message": None,
            "created_at": "2031-01-13T00:00:00+00:00", "cursor": "p1"}], "next_cursor": None} for i in ids},
    }


def test_a_tutors_payments_and_payouts_for_the_tutor_and_admins_only():
    for who in (Principal(TUTOR, "tutor"), Principal(ADMIN, "admin")):
        data, errors, rpc = run(QUERY_USER, payment_answers("tutor"), who, {"id": TUTOR})
        assert not errors, errors
        assert data["user"]["payoutAccount"] == {"payoutsEnabled": True}
        assert data["user"]["payouts"]["edges"][0]["node"] == {"status": "IN_TRANSIT", "periodStart": "2031-01-06"}
        assert data["user"]["payouts"]["pageInfo"]["endCursor"] == "p1"
        assert next(a for m, a in rpc.args if m == "payment_pages_for_users")[1:] == ([TUTOR], "tutor",
                                                                                     {"first": 20})
    # anyone else: null, as User.preferences, and no payment RPC
    data, errors, rpc = run(QUERY_USER, payment_answers("tutor"), Principal(OTHER, "student"), {"id": TUTOR})
    assert not errors and data["user"] == {"payments": None, "payoutAccount": None, "payouts": None}
    assert not [c for c in rpc.calls if c.startswith("payment.")]


def test_a_students_payments_are_those_made_and_a_student_has_no_payouts():
    data, errors, rpc = run(QUERY_USER, payment_answers("student"), Principal(STUDENT, "student"), {"id": STUDENT})
    assert not errors
    assert data["user"]["payoutAccount"] is None and data["user"]["payouts"]["edges"] == []
    assert next(a for m, a in rpc.args if m == "payment_pages_for_users")[2] == "student"
    assert rpc.calls["payment.payout_accounts"] == rpc.calls["payment.payout_pages_for_users"] == 0


def test_a_bad_page_size_names_first():
    _, errors, rpc = run('query($id: ID!) { user(id: $id) { payouts(first: 0) { edges { cursor } } } }',
                         payment_answers("tutor"), Principal(TUTOR, "tutor"), {"id": TUTOR})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"first": ["Must be between 1 and 100."]}}


def test_a_type_extension_cannot_redefine_a_field():
    class Thing(graphene.ObjectType):
        """A thing."""
        name = graphene.String(description="its name")

    class Again:
        name = graphene.Int(description="a second name")

    with pytest.raises(ValueError, match="Thing.name is defined twice"):
        registry.apply_extensions([(Thing, Again)])
