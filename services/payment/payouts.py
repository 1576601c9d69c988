"""Payouts: each tutor is paid, per week, what the lessons completed by the
week's end brought them and no payout has taken yet (docs/payments.md,
"Payouts"). A payout row is unique per tutor, week and currency and its
Stripe call carries a key made of the same, so running a week twice, or
on two instances at once, pays once."""
import logging
import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from services.common.paging import decode_cursor, encode_cursor
from services.payment import accounts, ledger, rules
from services.payment.models import Payment, Payout, PayoutStatus, TransactionType

log = logging.getLogger(__name__)


def _payable(period_last_day):
    return and_(Payment.payout_id.is_(None), Payment.completed_at < rules.period_end_instant(period_last_day),
                Payment.status.in_(rules.REFUNDABLE))


def due(session, period_last_day):
    """(tutor user id, currency) pairs with money to pay out for the period."""
    return session.execute(select(Payment.tutor_user_id, Payment.currency).distinct()
                           .where(_payable(period_last_day))).all()


def pay_out(uow, stripe, tutor_user_id, currency, period_start, period_end):
    """The tutor's payout for the period: the existing one, a new one, or
    None when there is nothing to pay or no account to pay it to."""
    existing = _existing(uow.session, tutor_user_id, period_start, currency)
    if existing is not None:
        return existing
    account = accounts.account_of(uow.session, tutor_user_id)
    if account is None or not account.payouts_enabled:
        log.info("payout for %s held: the tutor's payout account cannot take payouts", tutor_user_id)
        return None
    payments = uow.session.scalars(select(Payment).where(
        _payable(period_end), Payment.tutor_user_id == tutor_user_id, Payment.currency == currency)
        .with_for_update(skip_locked=True)).all()
    totals = ledger.sums(uow.session, [p.id for p in payments])
    amount = sum(t.get("transfer", 0) - t.get("transfer_reversal", 0) for t in totals.values())
    if amount <= 0:
        return None
    payout = Payout(tutor_user_id=tutor_user_id, amount=amount, currency=currency, period_start=period_start,
                    period_end=period_end, stripe_account_id=account.stripe_account_id)
    try:
        with uow.session.begin_nested():
            uow.session.add(payout)
    except IntegrityError:
        # Another run made this payout meanwhile.
        return _existing(uow.session, tutor_user_id, period_start, currency)
    answer = stripe.create_payout(account.stripe_account_id, amount, currency,
                                  {"payout_id": str(payout.id), "period_start": period_start.isoformat()},
                                  idempotency_key="payout-{}-{}-{}".format(tutor_user_id, period_start, currency))
    payout.stripe_payout_id = answer["id"]
    for payment in payments:
        payment.payout_id = payout.id
    uow.session.flush()
    return payout


def _existing(session, tutor_user_id, period_start, currency):
    return session.scalars(select(Payout).where(
        Payout.tutor_user_id == tutor_user_id, Payout.period_start == period_start,
        Payout.currency == currency)).first()


def apply_update(uow, stripe_payout):
    """Stripe's ``payout.paid`` or ``payout.failed``. A failed payout's
    payments are released, so the next run pays them again."""
    payout = uow.session.scalars(select(Payout).where(
        Payout.stripe_payout_id == stripe_payout["id"]).with_for_update()).first()
    if payout is None or payout.status in (PayoutStatus.paid, PayoutStatus.failed):
        return None
    if stripe_payout["status"] == "paid":
        payout.status = PayoutStatus.paid
        ledger.record(uow.session, TransactionType.payout, payout.amount, payout.currency, payout.stripe_payout_id,
                      payout_id=payout.id)
    elif stripe_payout["status"] in ("failed", "canceled"):
        payout.status = PayoutStatus.failed
        payout.failure_code = stripe_payout.get("failure_code")
        payout.failure_message = stripe_payout.get("failure_message")
        for payment in uow.session.scalars(select(Payment).where(Payment.payout_id == payout.id)):
            payment.payout_id = None
    else:
        return None
    uow.session.flush()
    uow.emit("payout_" + payout.status.value, {
        "payout_id": str(payout.id), "tutor_user_id": str(payout.tutor_user_id), "amount": payout.amount,
        "currency": payout.currency, "period_start": payout.period_start.isoformat(),
        "period_end": payout.period_end.isoformat(), "status": payout.status.value,
        "failure_code": payout.failure_code})
    return payout


def payout_view(payout):
    return {"id": str(payout.id), "tutor_user_id": str(payout.tutor_user_id), "amount": payout.amount,
            "currency": payout.currency, "period_start": payout.period_start.isoformat(),
            "period_end": payout.period_end.isoformat(), "status": payout.status.value,
            "failure_code": payout.failure_code, "failure_message": payout.failure_message,
            "created_at": payout.created_at.isoformat()}


def payout_pages_for_users(session, user_ids, limit, cursor):
    """One page per tutor of their payouts, newest period first."""
    pages = {}
    for user_id in user_ids:
        query = select(Payout).where(Payout.tutor_user_id == user_id)
        if cursor:
            start, last = decode_cursor(cursor, lambda d: datetime.fromisoformat(d).date(), uuid.UUID)
            query = query.where(or_(Payout.period_start < start, and_(Payout.period_start == start, Payout.id < last)))
        rows = session.scalars(query.order_by(Payout.period_start.desc(), Payout.id.desc()).limit(limit + 1)).all()
        items = [dict(payout_view(p), cursor=encode_cursor(p.period_start.isoformat(), p.id)) for p in rows[:limit]]
        pages[str(user_id)] = {"items": items, "next_cursor": items[-1]["cursor"] if len(rows) > limit else None}
    return pages
