"""Refunds: by the cancellation policy, in full when a payment arrived after
its booking ended, or by an admin's hand with a reason (docs/payments.md,
"Refunds"). Stripe reverses the tutor's transfer and refunds the platform's
fee in proportion, so each gives back their share; the ledger records both.

Each refund's idempotency key is fixed before Stripe is asked: a policy or
compensation refund happens at most once per payment, and an admin's
refund is numbered, so a retry after a crash refunds once.
"""
import uuid

from sqlalchemy import func, select

from services.common.errors import Conflict, NotFound
from services.payment import ledger, rules
from services.payment.models import Payment, Refund, RefundKind, RefundStatus, TransactionType


def refund(uow, stripe, payment, amount, kind, reason, by_user_id=None):
    """Refund ``amount`` of ``payment`` (locked by the caller)."""
    amount = rules.check_refund(amount, payment.amount, payment.amount_refunded)
    key = _idempotency_key(uow.session, payment, kind)
    answer = stripe.refund(payment.stripe_payment_intent_id, amount,
                           {"payment_id": str(payment.id), "kind": kind.value}, idempotency_key=key)
    row = Refund(payment_id=payment.id, amount=amount, currency=payment.currency, reason=reason, kind=kind,
                 requested_by_user_id=uuid.UUID(str(by_user_id)) if by_user_id else None,
                 status=RefundStatus.succeeded, stripe_refund_id=answer["id"])
    uow.session.add(row)
    payment.amount_refunded += amount
    payment.status = rules.status_after_refund(payment.amount, payment.amount_refunded)
    uow.session.flush()
    _record_shares(uow.session, stripe, payment, row, answer)
    uow.emit("refund_succeeded", {
        "refund_id": str(row.id), "payment_id": str(payment.id), "lesson_id": str(payment.lesson_id),
        "student_user_id": str(payment.student_user_id), "tutor_user_id": str(payment.tutor_user_id),
        "amount": amount, "currency": payment.currency, "kind": kind.value, "reason": reason,
        "amount_refunded": payment.amount_refunded})
    return row


def _idempotency_key(session, payment, kind):
    if kind != RefundKind.admin:
        return "payment-{}-refund-{}".format(payment.id, kind.value)
    done = session.scalar(select(func.count()).select_from(Refund).where(
        Refund.payment_id == payment.id, Refund.kind == RefundKind.admin))
    return "payment-{}-refund-admin-{}".format(payment.id, done + 1)


def _record_shares(session, stripe, payment, row, answer):
    """The refund, and what the tutor and the platform each gave back for
    it. A destination charge moves the whole amount to the tutor's account
    and takes the fee back from it, so Stripe's transfer reversal is the
    whole refund and its fee refund returns the platform's part to the
    tutor; the ledger keeps each side's net share (docs/payments.md,
    "Ledger"). Stripe keeps running totals; the ledger records the
    differences."""
    ledger.record(session, TransactionType.refund, row.amount, payment.currency, answer["id"],
                  payment_id=payment.id, refund_id=row.id)
    charge = stripe.retrieve_intent(payment.stripe_payment_intent_id)["latest_charge"]
    if isinstance(charge, str):
        charge = stripe.retrieve_charge(charge)
    reversed_total = stripe.retrieve_transfer(charge["transfer"])["amount_reversed"]
    fee = stripe.retrieve_application_fee(charge["application_fee"]) if charge.get("application_fee") else {}
    fee_refunded = fee.get("amount_refunded", 0)
    # The newest fee refund is this one's: refunds of one payment run one at a time, under its row lock.
    newest_fee_refund = ((fee.get("refunds") or {}).get("data") or [{}])[0].get("id")
    sums = ledger.sums(session, [payment.id]).get(payment.id, {})
    ledger.record(session, TransactionType.transfer_reversal,
                  reversed_total - fee_refunded - sums.get(TransactionType.transfer_reversal.value, 0),
                  payment.currency, answer.get("transfer_reversal") or "{}/reversal".format(answer["id"]),
                  payment_id=payment.id, refund_id=row.id)
    ledger.record(session, TransactionType.application_fee_refund,
                  fee_refunded - sums.get(TransactionType.application_fee_refund.value, 0),
                  payment.currency, newest_fee_refund or "{}/fee".format(answer["id"]),
                  payment_id=payment.id, refund_id=row.id)


def refund_by_admin(uow, stripe, admin_user_id, payment_id, amount, reason):
    payment = uow.session.scalars(select(Payment).where(Payment.id == payment_id).with_for_update()).first()
    if payment is None:
        raise NotFound("no such payment", {"payment_id": ["Unknown payment."]})
    if payment.status not in rules.REFUNDABLE:
        raise Conflict("only a paid payment can be refunded (this one is {})".format(payment.status.value),
                       {"payment_id": ["Not paid."]})
    return refund(uow, stripe, payment, amount, RefundKind.admin, reason, admin_user_id)


def refund_view(row):
    return {"id": str(row.id), "payment_id": str(row.payment_id), "amount": row.amount, "currency": row.currency,
            "kind": row.kind.value, "reason": row.reason, "status": row.status.value,
            "created_at": row.created_at.isoformat() if row.created_at else None}
