"""Payment's part of the graph: it extends ``Lesson`` with ``payment`` and
``User`` with ``payments``, ``payoutAccount`` and ``payouts``, and owns
paying for lessons, tutors' payout onboarding and admins' refunds.

A declined card is a result, not an error: ``payForLesson`` answers the
payment with status FAILED and Stripe's ``failure``, so the app can show
Stripe's message and let the student try another card (docs/graphql.md,
"Payments")."""
import json
from datetime import datetime, timezone

import graphene

from api_gateway.errors import client_fields
from api_gateway.schema import registry
from api_gateway.schema.context import plain, viewer
from api_gateway.schema.learning import DEFAULT_FIRST, MAX_FIRST, Lesson, check_first, connection, connection_type

TUTOR, STUDENT, ADMIN = {"tutor"}, {"student"}, {"admin"}
OWN_OR_ADMIN = "Only for yourself or an admin; null for anyone else."


def _loaders(info):
    return info.context.loaders


# Payment's batch RPCs, one loader each (api_gateway/loaders.py).

@registry.loader
def payments_by_lesson(rpc, token, lesson_ids):
    """{lesson id: payment or None} of every lesson of a level, in one call."""
    return rpc.call("payment", "payments_for_lessons", token, lesson_ids)


@registry.loader
def payout_accounts(rpc, token, user_ids):
    return rpc.call("payment", "payout_accounts", token, user_ids)


def _pages(call, keys):
    """Keys are (user id, extra, page query as JSON): users asked for with
    the same arguments share one call, which pages each user separately
    (as learning's ``lesson_pages``)."""
    groups = {}
    for user_id, extra, query in keys:
        groups.setdefault((extra, query), []).append(user_id)
    found = {}
    for (extra, query), user_ids in groups.items():
        pages = call(user_ids, extra, json.loads(query))
        found.update({(u, extra, query): pages.get(u) for u in user_ids})
    return found


@registry.loader
def payment_pages(rpc, token, keys):
    return _pages(lambda ids, role, query: rpc.call("payment", "payment_pages_for_users", token, ids, role, query),
                  keys)


@registry.loader
def payout_pages(rpc, token, keys):
    return _pages(lambda ids, _, query: rpc.call("payment", "payout_pages_for_users", token, ids, query), keys)


# The service's enums (services/payment/models.py) as GraphQL enums.

class PaymentStatus(graphene.Enum):
    """Where a lesson's payment stands."""
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    CANCELLED = "cancelled"

    @property
    def description(self):
        return {"PENDING": "not paid yet: the student pays with payForLesson by dueAt",
                "REQUIRES_ACTION": "the card asks the student to confirm (3-D Secure): finish it with Stripe's "
                                   "client libraries and clientSecret",
                "SUCCEEDED": "paid",
                "FAILED": "the last attempt was declined (see failure); the student may try another card "
                          "until dueAt",
                "REFUNDED": "paid, then refunded in full",
                "PARTIALLY_REFUNDED": "paid, then part of it refunded (see amountRefunded)",
                "CANCELLED": "the lesson expired or was cancelled before it was paid: nothing was charged"}[self.name]


class PayoutStatus(graphene.Enum):
    """Where a payout to a tutor's bank account stands (Stripe's payout states)."""
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def description(self):
        return {"PENDING": "created, not yet sent to the bank",
                "IN_TRANSIT": "on its way to the tutor's bank",
                "PAID": "arrived in the tutor's bank account",
                "FAILED": "the bank refused it (see failureCode and failureMessage)",
                "CANCELLED": "cancelled before it was sent"}[self.name]


class RefundKind(graphene.Enum):
    """Why money went back to a student."""
    POLICY = "policy"
    ADMIN = "admin"
    COMPENSATION = "compensation"

    @property
    def description(self):
        return {"POLICY": "a cancelled lesson, as the refund policy gives",
                "ADMIN": "by an admin's hand (refundPayment), with a reason",
                "COMPENSATION": "a payment that arrived after its booking had ended"}[self.name]


class RefundStatus(graphene.Enum):
    """Where a refund stands at Stripe."""
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def description(self):
        return {"PENDING": "asked of Stripe, not yet done",
                "SUCCEEDED": "the money is on its way back to the student's card",
                "FAILED": "Stripe could not refund it"}[self.name]


class PaymentFailure(graphene.ObjectType):
    """Why the last attempt to pay was declined, as Stripe said it."""
    code = graphene.String(description="Stripe's error code, e.g. card_declined")
    decline_code = graphene.String(description="the card issuer's reason when Stripe gives one, e.g. "
                                               "insufficient_funds; null otherwise")
    message = graphene.String(description="Stripe's message, written to be shown to the student")


class Invoice(graphene.ObjectType):
    """The invoice of a paid lesson; for its student and admins."""
    number = graphene.String(required=True, description="the invoice's number, as printed on it")
    download_url = graphene.String(required=True, description=(
        "where to GET the invoice as a PDF, sending the same Authorization: Bearer <token> header; "
        "the lesson's student and admins only"))

    @staticmethod
    def resolve_download_url(invoice, info):
        base = (info.context.base_url or "/").rstrip("/")
        return "{}/invoices/{}.pdf".format(base, invoice["id"])


class Payment(graphene.ObjectType):
    """What a lesson's student pays for it; seen by the lesson's student, its tutor and admins."""
    id = graphene.ID(required=True, description="the payment's id, for refundPayment")
    lesson_id = graphene.ID(required=True, description="the lesson it pays for")
    amount = graphene.Int(required=True, description="cents charged to the student")
    platform_fee = graphene.Int(required=True, description="cents of amount the platform keeps; the rest is "
                                                           "the tutor's")
    currency = graphene.String(required=True, description="ISO 4217 code of the amounts, e.g. EUR")
    amount_refunded = graphene.Int(required=True, description="cents refunded so far")
    status = graphene.Field(PaymentStatus, required=True, description="pending, requires action, succeeded, "
                                                                      "failed, (partially) refunded or cancelled")
    due_at = graphene.String(description="ISO-8601, UTC: pay by then, or the lesson expires; null once it "
                                         "cannot expire")
    succeeded_at = graphene.String(description="ISO-8601, UTC: when it was paid; null until then")
    created_at = graphene.String(required=True, description="ISO-8601, UTC")
    failure = graphene.Field(PaymentFailure, description="Stripe's reason when status is FAILED; null otherwise")
    client_secret = graphene.String(description=(
        "The Stripe PaymentIntent's client secret, for the lesson's student only and only while it can be paid "
        "(null for anyone else, and once paid): an app may confirm the payment with Stripe's own client "
        "libraries, which also run 3-D Secure (REQUIRES_ACTION)"))
    invoice = graphene.Field(Invoice, description="the invoice, once paid; for the lesson's student and admins, "
                                                  "null for the tutor")
    refunds = graphene.List(graphene.NonNull(lambda: Refund), required=True, description=(
        "money given back, oldest first, each with its kind and reason (the policy's rule for a cancelled "
        "lesson, an admin's reason, or why a payment that arrived after its booking ended was returned)"))


class PayoutAccount(graphene.ObjectType):
    """A tutor's Stripe account that lessons are paid out to; set up with startPayoutOnboarding."""
    onboarding_complete = graphene.Boolean(required=True, description=(
        "true once Stripe has every detail it needs: students can pay for the tutor's lessons"))
    charges_enabled = graphene.Boolean(required=True, description="Stripe accepts payments to the account")
    payouts_enabled = graphene.Boolean(required=True, description="Stripe pays the account out to its bank")
    details_submitted = graphene.Boolean(required=True, description="the tutor has sent Stripe's form")


class PayoutOnboarding(graphene.ObjectType):
    """A link to Stripe's onboarding form, where a tutor gives the details payouts need."""
    url = graphene.String(required=True, description="open it in a browser; it works once, until expiresAt")
    expires_at = graphene.String(required=True, description="ISO-8601, UTC: when the link stops working; "
                                                            "ask for a new one then")
    account = graphene.Field(PayoutAccount, required=True, description="the tutor's payout account as it is now")

    @staticmethod
    def resolve_expires_at(onboarding, info):
        return datetime.fromtimestamp(onboarding["expires_at"], timezone.utc).isoformat()

    @staticmethod
    def resolve_account(onboarding, info):
        return onboarding


class Payout(graphene.ObjectType):
    """A week's earnings paid out to a tutor's bank account."""
    id = graphene.ID(required=True, description="the payout's id")
    amount = graphene.Int(required=True, description="cents paid out")
    currency = graphene.String(required=True, description="ISO 4217 code of amount, e.g. EUR")
    period_start = graphene.String(required=True, description="ISO-8601 date: the Monday that starts the week "
                                                              "paid out")
    period_end = graphene.String(required=True, description="ISO-8601 date: the week's last day")
    status = graphene.Field(PayoutStatus, required=True, description="pending, in transit, paid, failed or "
                                                                     "cancelled")
    failure_code = graphene.String(description="Stripe's code when it failed; null otherwise")
    failure_message = graphene.String(description="Stripe's explanation when it failed; null otherwise")
    created_at = graphene.String(required=True, description="ISO-8601, UTC")


class Refund(graphene.ObjectType):
    """Money sent back to a student for a payment."""
    id = graphene.ID(required=True, description="the refund's id")
    payment_id = graphene.ID(required=True, description="the payment refunded")
    amount = graphene.Int(required=True, description="cents refunded")
    currency = graphene.String(required=True, description="ISO 4217 code of amount")
    kind = graphene.Field(RefundKind, required=True, description="why: the policy, an admin, or compensation")
    reason = graphene.String(description="the reason given, kept with the refund")
    status = graphene.Field(RefundStatus, required=True, description="pending, succeeded or failed")
    created_at = graphene.String(description="ISO-8601, UTC")


PaymentConnection = connection_type(Payment, "payment", "payments", "A page of a user's payments, newest first.")
PayoutConnection = connection_type(Payout, "payout", "payouts", "A page of a tutor's payouts, newest week first.")


@registry.extends(Lesson)
class LessonPaymentFields:
    """What payment adds to learning's ``Lesson``."""
    payment = graphene.Field(Payment, description=(
        "what the student pays for the lesson; null for a free course's lesson, and for anyone but the "
        "lesson's student, its tutor and admins"))

    @staticmethod
    def expect(info, lessons):
        _loaders(info).payments_by_lesson.expect(lsn["id"] for lsn in lessons)

    @staticmethod
    def resolve_payment(lesson, info):
        return _loaders(info).payments_by_lesson.load(lesson["id"])


def _own_or_admin(user, info):
    """Whether the caller may see the user's payments: the user themself or
    an admin (as User.preferences; null for anyone else)."""
    who = info.context.viewer
    return who is not None and (who.is_admin or who.user_id == user["id"])


def _page_key(user, extra, first, after):
    return user["id"], extra, json.dumps(plain({"first": first, "after": after}), sort_keys=True)


def page_args():
    return dict(first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
                after=graphene.String(description="`endCursor` of the page before"))


@registry.user_fields
class UserPaymentFields:
    """The fields payment adds to identity's ``User``."""
    payments = graphene.Field(PaymentConnection, **page_args(), description=(
        "the payments the user made, or received for a tutor, newest first. " + OWN_OR_ADMIN))
    payout_account = graphene.Field(PayoutAccount, description=(
        "a tutor's payout account; null until startPayoutOnboarding and for non-tutors. " + OWN_OR_ADMIN))
    payouts = graphene.Field(PayoutConnection, **page_args(), description=(
        "a tutor's payouts, newest week first; empty for non-tutors. " + OWN_OR_ADMIN))

    @staticmethod
    def resolve_payments(user, info, first, after=None):
        if not _own_or_admin(user, info):
            return None
        check_first(first)
        role = "tutor" if user["role"] == "tutor" else "student"
        with client_fields(cursor="after"):
            page = _loaders(info).payment_pages.load(_page_key(user, role, first, after))
        return connection(page["items"], page["next_cursor"])

    @staticmethod
    def resolve_payout_account(user, info):
        if user["role"] != "tutor" or not _own_or_admin(user, info):
            return None
        return _loaders(info).payout_accounts.load(user["id"])

    @staticmethod
    def resolve_payouts(user, info, first, after=None):
        if not _own_or_admin(user, info):
            return None
        check_first(first)
        if user["role"] != "tutor":
            return connection([], None)
        with client_fields(cursor="after"):
            page = _loaders(info).payout_pages.load(_page_key(user, None, first, after))
        return connection(page["items"], page["next_cursor"])


@registry.mutation
class PaymentMutation:
    pay_for_lesson = graphene.Field(
        Payment,
        lesson_id=graphene.ID(required=True, description="the lesson to pay for, one's own AWAITING_PAYMENT one"),
        payment_method_id=graphene.String(required=True, description=(
            "a Stripe PaymentMethod id from Stripe's client libraries (pm_…); pm_card_visa in test mode")),
        description=(
            "Pay for one's own lesson that awaits payment. A declined card is not an error: the payment comes "
            "back FAILED with Stripe's failure (show its message; another card may be tried until dueAt). A "
            "lesson already paid, ended, past due, or whose tutor cannot take payments yet is a CONFLICT naming "
            "lessonId. Students only."))
    start_payout_onboarding = graphene.Field(
        PayoutOnboarding,
        description=("A new single-use link to Stripe's onboarding form, where the signed-in tutor gives the "
                     "details payouts need; creates the payout account on the first call. Tutors only."))
    refund_payment = graphene.Field(
        Refund,
        payment_id=graphene.ID(required=True, description="the payment to refund"),
        amount=graphene.Int(description="cents to refund, at least 1; left out: all that is left of the payment"),
        reason=graphene.String(required=True, description="why, 3 to 500 characters; kept with the refund"),
        description="Refund a paid payment, in full or in part, to the student's card. Admins only.")

    @staticmethod
    def resolve_pay_for_lesson(root, info, lesson_id, payment_method_id):
        viewer(info, STUDENT)
        # the payload's keys are the arguments' names, so the service's errors name them
        with client_fields(lesson_id="lessonId", payment_method_id="paymentMethodId"):
            return info.context.call("payment", "pay_for_lesson", info.context.token,
                                     {"lessonId": lesson_id, "paymentMethodId": payment_method_id})

    @staticmethod
    def resolve_start_payout_onboarding(root, info):
        viewer(info, TUTOR)
        return info.context.call("payment", "start_payout_onboarding", info.context.token)

    @staticmethod
    def resolve_refund_payment(root, info, payment_id, reason, amount=None):
        viewer(info, ADMIN)
        with client_fields(payment_id="paymentId"):
            return info.context.call("payment", "refund_payment", info.context.token, payment_id,
                                     plain({"amount": amount, "reason": reason}))
