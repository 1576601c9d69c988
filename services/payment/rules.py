"""Payment's rules as plain functions: no session, no SQL, no Stripe, so each
is unit-tested without them (tests/unit/test_payment_rules.py). The states
and the money flow they serve are in docs/payments.md."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from services.common.errors import BadInput, Conflict
from services.payment.models import LessonState, PaymentStatus

# A student who cancels at least this long before the start gets everything back.
FULL_REFUND_NOTICE = timedelta(hours=24)
PAYOUT_PERIOD = timedelta(days=7)
# What a student can still pay, and what can still be refunded.
PAYABLE = {PaymentStatus.pending, PaymentStatus.failed, PaymentStatus.requires_action}
REFUNDABLE = {PaymentStatus.succeeded, PaymentStatus.partially_refunded}


def fee_basis_points(percent):
    """``PLATFORM_FEE_PERCENT`` ("15", "12.5") as whole basis points."""
    try:
        value = Decimal(str(percent))
    except InvalidOperation:
        raise ValueError("PLATFORM_FEE_PERCENT must be a number, not {!r}".format(percent)) from None
    points = value * 100
    if not (0 <= points < 10000) or points != points.to_integral_value():
        raise ValueError("PLATFORM_FEE_PERCENT must be from 0 up to 100 in steps of 0.01, not {}".format(percent))
    return int(points)


def platform_fee(amount, basis_points):
    """The platform's fee in whole cents, rounded half up."""
    return (amount * basis_points + 5000) // 10000


def cancellation_refund(amount, refunded, cancelled_by_role, cancelled_at, scheduled_at):
    """(amount to refund, the rule that gave it) for a paid lesson cancelled
    at ``cancelled_at``: everything when the tutor cancels or the student
    cancels FULL_REFUND_NOTICE or more before the start, half (the odd cent
    to the student) when the student cancels later, nothing after the start.
    Never more than what is left to refund."""
    if cancelled_by_role == "tutor":
        due, rule = amount, "the tutor cancelled: full refund"
    elif cancelled_at >= scheduled_at:
        due, rule = 0, "cancelled after the start: no refund"
    elif scheduled_at - cancelled_at >= FULL_REFUND_NOTICE:
        due, rule = amount, "cancelled 24 hours or more before the start: full refund"
    else:
        due, rule = (amount + 1) // 2, "cancelled less than 24 hours before the start: half refunded"
    return min(due, amount - refunded), rule


def check_refund(requested, amount, refunded):
    """The amount to refund by hand: ``requested`` (None: all that is left),
    never more than what was charged less what was already refunded."""
    left = amount - refunded
    if left <= 0:
        raise Conflict("this payment has been refunded in full", {"payment_id": ["Nothing left to refund."]})
    if requested is None:
        return left
    if requested > left:
        raise BadInput("a refund can be at most what is left of the charge",
                       {"amount": ["At most {} (the charge less earlier refunds).".format(left)]})
    return requested


def status_after_refund(amount, refunded):
    return PaymentStatus.refunded if refunded >= amount else PaymentStatus.partially_refunded


def check_payable(payment, now):
    """Refuse paying a lesson that cannot be paid now."""
    if payment.status in REFUNDABLE or payment.status == PaymentStatus.refunded:
        raise Conflict("this lesson is paid already", {"lesson_id": ["Already paid."]})
    if payment.lesson_state != LessonState.booked or payment.status == PaymentStatus.cancelled:
        raise Conflict("this booking has ended ({}); book again".format(payment.lesson_state.value),
                       {"lesson_id": ["The booking has ended."]})
    if now >= datetime.fromisoformat(payment.booking["scheduled_at"]):
        raise Conflict("this lesson has started; it can no longer be paid",
                       {"lesson_id": ["The lesson has started."]})
    if payment.due_at is not None and now >= payment.due_at:
        raise Conflict("the time to pay for this booking is over; book again",
                       {"lesson_id": ["Payment was due by {}.".format(payment.due_at.isoformat())]})


def intent_outcome(intent):
    """The payment status a PaymentIntent stands for, from Stripe's status."""
    status = intent["status"]
    if status == "succeeded":
        return PaymentStatus.succeeded
    if status == "canceled":
        return PaymentStatus.cancelled
    if status == "requires_action":
        return PaymentStatus.requires_action
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return PaymentStatus.failed
    return PaymentStatus.pending


def onboarding_complete(account):
    """A tutor can be paid once Stripe enables charges and payouts and has
    every detail it asked for."""
    return bool(account.get("charges_enabled") and account.get("payouts_enabled")
                and account.get("details_submitted"))


def payout_period(day):
    """The (first, last) day of the payout week holding ``day``: Monday to
    Sunday, UTC."""
    start = day - timedelta(days=day.weekday())
    return start, start + PAYOUT_PERIOD - timedelta(days=1)


def last_closed_period(now):
    """The latest payout week that has ended by ``now``."""
    return payout_period(now.astimezone(timezone.utc).date() - PAYOUT_PERIOD)


def period_end_instant(last_day):
    """The moment a period ends: midnight UTC after its last day."""
    return datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)


def check_period_start(day, today):
    """A payout run names the Monday its week starts, and a week that has ended."""
    if day.weekday() != 0:
        raise BadInput("a payout period starts on a Monday", {"period_start": ["Must be a Monday."]})
    if payout_period(day)[1] >= today:
        raise BadInput("a payout period can be run once it has ended",
                       {"period_start": ["The week has not ended yet."]})
    return payout_period(day)


def invoice_number(year, sequence):
    return "{}-{:06d}".format(year, sequence)


def ledger_problems(amount, platform_fee_amount, sums):
    """What is wrong with one payment's ledger rows (``sums``: type name ->
    total): the charge is the fee plus the transfer, each refund is
    given back by the tutor's reversal and the platform's fee refund, and
    refunds never exceed the charge."""
    charge, fee, transfer = sums.get("charge", 0), sums.get("application_fee", 0), sums.get("transfer", 0)
    refund = sums.get("refund", 0)
    back = sums.get("transfer_reversal", 0) + sums.get("application_fee_refund", 0)
    problems = []
    if charge and charge != amount:
        problems.append("charge {} is not the amount {}".format(charge, amount))
    if charge and fee != platform_fee_amount:
        problems.append("fee {} is not the platform fee {}".format(fee, platform_fee_amount))
    if charge != fee + transfer:
        problems.append("charge {} is not fee {} + transfer {}".format(charge, fee, transfer))
    if refund > charge:
        problems.append("refunds {} exceed the charge {}".format(refund, charge))
    if refund != back:
        problems.append("refunds {} are not reversals + fee refunds {}".format(refund, back))
    return problems
