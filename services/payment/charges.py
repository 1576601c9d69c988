"""Payments: one per priced lesson, charged as a Stripe destination charge
(the platform keeps its fee, the rest goes to the tutor's account), and the
payment's half of the booking saga (docs/payments.md, "The saga").

Whatever Stripe says about a PaymentIntent, through the answer to a call or
a webhook, goes through ``apply_intent`` under the payment's row lock, so
the order in which they arrive does not matter and a success is applied
once: its ledger rows, its invoice and its ``payment_succeeded``.
"""
import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import and_, or_, select

from services.common.errors import Conflict, Forbidden, NotFound, Unavailable
from services.common.paging import decode_cursor, encode_cursor
from services.payment import accounts, invoices, ledger, refunds, rules
from services.payment.dependencies import CardDeclined, IntentNotCancellable, StripeRefused
from services.payment.models import (Invoice, LessonState, Payment, PaymentStatus, Refund, RefundKind,
                                     TransactionType)

log = logging.getLogger(__name__)

ENDED = (LessonState.cancelled, LessonState.expired)


def _locked_by_lesson(session, lesson_id):
    return session.scalars(select(Payment).where(Payment.lesson_id == lesson_id).with_for_update()).first()


def open_for_lesson(uow, stripe, settings, booking):
    """learning's ``lesson_booked``: a priced lesson gets its payment, and
    its PaymentIntent at once when the tutor can be paid (else when the
    student pays, once the tutor has finished onboarding). A free lesson
    needs no payment."""
    if booking["price"] == 0 or booking.get("payment_due_at") is None:
        return None
    lesson_id = uuid.UUID(str(booking["id"]))
    existing = _locked_by_lesson(uow.session, lesson_id)
    if existing is not None:
        return existing
    payment = Payment(
        lesson_id=lesson_id, student_user_id=uuid.UUID(str(booking["student_user_id"])),
        tutor_user_id=uuid.UUID(str(booking["tutor_user_id"])), amount=booking["price"],
        currency=booking["currency"], platform_fee=rules.platform_fee(booking["price"], settings.fee_basis_points),
        due_at=booking["payment_due_at"], booking={
            "course_id": str(booking["course_id"]), "title": booking["course_title"],
            "student_name": booking["student_name"], "student_email": booking["student_email"],
            "tutor_name": booking["tutor_name"], "scheduled_at": booking["scheduled_at"].isoformat(),
            "ends_at": booking["ends_at"].isoformat()})
    # Stripe first, then our row: a crash in between leaves no row, the
    # event is delivered again, and the same idempotency key gives back the
    # same PaymentIntent (tests/integration/test_payment_flow.py kills it there).
    destination = accounts.ready_account(uow.session, payment.tutor_user_id)
    if destination is not None:
        try:
            _attach_intent(payment, _create_intent(stripe, payment, destination))
        except Unavailable as away:
            # The booking must not wait on Stripe: the intent is made when the student pays.
            log.warning("PaymentIntent for lesson %s left for later: %s", lesson_id, away)
    uow.session.add(payment)
    uow.session.flush()
    return payment


def _create_intent(stripe, payment, destination):
    booking = payment.booking
    return stripe.create_intent(
        payment.amount, payment.currency, payment.platform_fee, destination,
        "Lesson: {} with {}, {}".format(booking["title"], booking["tutor_name"], booking["scheduled_at"]),
        {"lesson_id": str(payment.lesson_id), "student_user_id": str(payment.student_user_id),
         "tutor_user_id": str(payment.tutor_user_id)},
        idempotency_key="lesson-{}-pi".format(payment.lesson_id))


def _attach_intent(payment, intent):
    payment.stripe_payment_intent_id, payment.client_secret = intent["id"], intent.get("client_secret")


def _ensure_intent(uow, stripe, payment):
    if payment.stripe_payment_intent_id:
        return
    destination = accounts.ready_account(uow.session, payment.tutor_user_id)
    if destination is None:
        raise Conflict("the tutor has not finished setting up payouts yet, so this lesson cannot be paid; "
                       "the booking stays held until {}".format(payment.due_at.isoformat()),
                       {"lesson_id": ["The tutor cannot take payments yet."]})
    _attach_intent(payment, _create_intent(stripe, payment, destination))
    uow.session.flush()


def pay(uow, stripe, settings, student_user_id, lesson_id, payment_method_id, now):
    """Charge the lesson's student with ``payment_method_id``. A decline is
    not an error: the payment comes back ``failed`` with Stripe's codes and
    message, and the student may try another card until the booking's due time."""
    payment = _locked_by_lesson(uow.session, lesson_id)
    if payment is None:
        raise NotFound("no payment is due for this lesson", {"lesson_id": ["No payment is due."]})
    if str(payment.student_user_id) != str(student_user_id):
        raise Forbidden("only the lesson's student may pay for it")
    rules.check_payable(payment, now)
    _ensure_intent(uow, stripe, payment)
    payment.attempts += 1
    key = "payment-{}-confirm-{}-{}".format(payment.id, payment.attempts, payment_method_id)
    try:
        intent = stripe.confirm_intent(payment.stripe_payment_intent_id, payment_method_id, idempotency_key=key)
    except CardDeclined as declined:
        _record_failure(uow, payment, declined.code, declined.decline_code, declined.message)
        return payment
    except StripeRefused:
        # Paid meanwhile (a webhook not yet applied, an earlier attempt
        # whose answer was lost): what Stripe holds now is the answer.
        intent = stripe.retrieve_intent(payment.stripe_payment_intent_id)
        if rules.intent_outcome(intent) != PaymentStatus.succeeded:
            raise
    apply_intent(uow, stripe, settings, payment, intent)
    return payment


def apply_intent(uow, stripe, settings, payment, intent):
    """Bring ``payment`` (locked) to what its PaymentIntent says. A success
    is final: later news of a failure changes nothing."""
    if payment.succeeded_at is not None:
        return
    outcome = rules.intent_outcome(intent)
    if outcome == PaymentStatus.succeeded:
        _succeed(uow, stripe, settings, payment, intent)
    elif outcome == PaymentStatus.failed:
        error = intent.get("last_payment_error") or {}
        _record_failure(uow, payment, error.get("code") or "card_declined", error.get("decline_code"),
                        error.get("message") or "The card was declined.")
    elif outcome in (PaymentStatus.requires_action, PaymentStatus.cancelled):
        payment.status = outcome
    uow.session.flush()


def apply_intent_event(uow, stripe, settings, intent_id):
    """A webhook about a PaymentIntent: read it again from Stripe, which
    holds the latest state whatever order the webhooks came in."""
    payment = uow.session.scalars(select(Payment).where(
        Payment.stripe_payment_intent_id == intent_id).with_for_update()).first()
    if payment is None:
        return None  # not one of ours, or its row is not committed yet (Stripe retries)
    apply_intent(uow, stripe, settings, payment, stripe.retrieve_intent(intent_id))
    return payment


def _record_failure(uow, payment, code, decline_code, message):
    payment.status, payment.failure_code = PaymentStatus.failed, code
    payment.decline_code, payment.failure_message = decline_code, message
    uow.session.flush()
    uow.emit("payment_failed", dict(_event_data(payment), failure_code=code, decline_code=decline_code,
                                    message=message))


def _succeed(uow, stripe, settings, payment, intent):
    charge = intent["latest_charge"]
    if isinstance(charge, str):
        charge = stripe.retrieve_charge(charge)
    payment.status, payment.succeeded_at = PaymentStatus.succeeded, datetime.now(timezone.utc)
    payment.failure_code = payment.decline_code = payment.failure_message = None
    # The tutor's net share: Stripe moves the whole amount to their account
    # and takes the fee back from it (docs/payments.md, "Ledger").
    fee = intent.get("application_fee_amount") or 0
    ledger.record(uow.session, TransactionType.charge, charge["amount"], payment.currency, charge["id"],
                  payment_id=payment.id)
    ledger.record(uow.session, TransactionType.application_fee, fee, payment.currency, charge["application_fee"],
                  payment_id=payment.id)
    ledger.record(uow.session, TransactionType.transfer, charge["amount"] - fee, payment.currency,
                  charge["transfer"], payment_id=payment.id)
    uow.session.flush()
    invoices.issue(uow, payment, settings.seller)
    uow.emit("payment_succeeded", dict(_event_data(payment), succeeded_at=payment.succeeded_at.isoformat()))
    if payment.lesson_state in ENDED:
        # The booking ended before the money arrived: give it all back.
        refunds.refund(uow, stripe, payment, payment.amount, RefundKind.compensation,
                       settings.compensation_message)


def end_for_lesson(uow, stripe, settings, lesson_id, state, cancellation=None):
    """learning's ``lesson_expired`` or ``lesson_cancelled``: an unpaid
    payment is cancelled at Stripe; a paid one is refunded, by the policy
    for a cancellation (rules.cancellation_refund), in full for an expiry."""
    payment = _locked_by_lesson(uow.session, lesson_id)
    if payment is None or payment.lesson_state in ENDED:
        return None  # a free lesson, or news already applied
    payment.lesson_state = state
    if payment.status in rules.PAYABLE:
        _cancel_unpaid(uow, stripe, settings, payment, state)
    elif payment.status in rules.REFUNDABLE and state == LessonState.expired:
        refunds.refund(uow, stripe, payment, payment.amount - payment.amount_refunded, RefundKind.compensation,
                       settings.compensation_message)
    elif payment.status in rules.REFUNDABLE:
        amount, rule = rules.cancellation_refund(payment.amount, payment.amount_refunded,
                                                 cancellation["cancelled_by_role"], cancellation["cancelled_at"],
                                                 cancellation["scheduled_at"])
        if amount > 0:
            refunds.refund(uow, stripe, payment, amount, RefundKind.policy, rule)
    uow.session.flush()
    return payment


def _cancel_unpaid(uow, stripe, settings, payment, state):
    if payment.stripe_payment_intent_id:
        reason = "abandoned" if state == LessonState.expired else "requested_by_customer"
        try:
            stripe.cancel_intent(payment.stripe_payment_intent_id, reason,
                                 idempotency_key="payment-{}-cancel".format(payment.id))
        except IntentNotCancellable:
            # It succeeded meanwhile: applying it refunds it (the lesson has ended).
            apply_intent(uow, stripe, settings, payment, stripe.retrieve_intent(payment.stripe_payment_intent_id))
            return
    payment.status = PaymentStatus.cancelled
    uow.session.flush()
    uow.emit("payment_cancelled", dict(_event_data(payment), reason="lesson_" + state.value))


def mark_completed(uow, lesson_id, completed_at):
    """learning's ``lesson_completed``: the tutor's share is payable from now."""
    payment = _locked_by_lesson(uow.session, lesson_id)
    if payment is not None and payment.lesson_state == LessonState.booked:
        payment.lesson_state, payment.completed_at = LessonState.completed, completed_at
        uow.session.flush()
    return payment


def _event_data(payment):
    return {"payment_id": str(payment.id), "lesson_id": str(payment.lesson_id),
            "student_user_id": str(payment.student_user_id), "tutor_user_id": str(payment.tutor_user_id),
            "amount": payment.amount, "platform_fee": payment.platform_fee, "currency": payment.currency,
            "stripe_payment_intent_id": payment.stripe_payment_intent_id}


# Reading payments.

def payment_view(payment, invoice, refund_rows, viewer_user_id, is_admin=False):
    """What the lesson's parties (and admins) see, with its refunds and
    why each was made; the client secret only its student, and only while
    the lesson can still be paid."""
    is_student = str(payment.student_user_id) == str(viewer_user_id)
    failure = None if payment.status != PaymentStatus.failed else {
        "code": payment.failure_code, "decline_code": payment.decline_code, "message": payment.failure_message}
    return {
        "id": str(payment.id), "lesson_id": str(payment.lesson_id),
        "student_user_id": str(payment.student_user_id), "tutor_user_id": str(payment.tutor_user_id),
        "amount": payment.amount, "platform_fee": payment.platform_fee, "currency": payment.currency,
        "amount_refunded": payment.amount_refunded, "status": payment.status.value,
        "due_at": payment.due_at.isoformat() if payment.due_at else None,
        "succeeded_at": payment.succeeded_at.isoformat() if payment.succeeded_at else None,
        "created_at": payment.created_at.isoformat(), "failure": failure,
        "client_secret": payment.client_secret if is_student and payment.status in rules.PAYABLE else None,
        "invoice": invoices.invoice_ref(invoice) if invoice is not None and (is_student or is_admin) else None,
        "refunds": [refunds.refund_view(r) for r in refund_rows],
    }


def _views(session, principal, payments):
    """Each payment's view, its invoice and refunds read in one query each."""
    ids = [p.id for p in payments]
    found = {i.payment_id: i for i in session.scalars(select(Invoice).where(Invoice.payment_id.in_(ids)))} \
        if ids else {}
    refunded = {}
    for row in session.scalars(select(Refund).where(Refund.payment_id.in_(ids)).order_by(Refund.created_at)) \
            if ids else ():
        refunded.setdefault(row.payment_id, []).append(row)
    return [payment_view(p, found.get(p.id), refunded.get(p.id, []), principal.user_id, principal.is_admin)
            for p in payments]


def payments_for_lessons(session, principal, lesson_ids):
    """{lesson id: payment view, or None when there is none or the caller
    is neither a party of the lesson nor an admin}."""
    payments = [p for p in session.scalars(select(Payment).where(Payment.lesson_id.in_(lesson_ids)))
                if principal.is_admin or principal.user_id in (str(p.student_user_id), str(p.tutor_user_id))]
    seen = {view["lesson_id"]: view for view in _views(session, principal, payments)}
    return {str(lesson_id): seen.get(str(lesson_id)) for lesson_id in lesson_ids}


def payment_pages_for_users(session, principal, user_ids, role, limit, cursor):
    """One page per user of the payments they made (``student``) or that pay
    them (``tutor``), newest first by (created_at, id)."""
    party = Payment.student_user_id if role == "student" else Payment.tutor_user_id
    pages = {}
    for user_id in user_ids:
        query = select(Payment).where(party == user_id)
        if cursor:
            at, last = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID)
            query = query.where(or_(Payment.created_at < at, and_(Payment.created_at == at, Payment.id < last)))
        rows = session.scalars(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)).all()
        items = [dict(view, cursor=encode_cursor(p.created_at.isoformat(), p.id))
                 for p, view in zip(rows[:limit], _views(session, principal, rows[:limit]))]
        pages[str(user_id)] = {"items": items, "next_cursor": items[-1]["cursor"] if len(rows) > limit else None}
    return pages
