"""The ledger: every money movement, each with its Stripe id
(docs/payments.md, "Ledger"). A movement is recorded once, however often
the Stripe object that shows it is seen: the Stripe id is unique."""
import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.payment import rules
from services.payment.models import Payment, Transaction, TransactionType


def record(session, kind, amount, currency, stripe_id, payment_id=None, payout_id=None, refund_id=None):
    """Add one movement unless its Stripe id is recorded already; a zero
    amount (a fee of 0, say) is no movement."""
    if amount <= 0:
        return
    session.execute(insert(Transaction).values(
        id=uuid.uuid4(), type=kind, amount=amount, currency=currency, stripe_transaction_id=stripe_id,
        payment_id=payment_id, payout_id=payout_id, refund_id=refund_id,
    ).on_conflict_do_nothing(index_elements=["stripe_transaction_id"]))


def sums(session, payment_ids):
    """{payment id: {type name: total}} for the given payments."""
    rows = session.execute(select(Transaction.payment_id, Transaction.type, func.sum(Transaction.amount))
                           .where(Transaction.payment_id.in_(payment_ids))
                           .group_by(Transaction.payment_id, Transaction.type)).all()
    totals = defaultdict(dict)
    for payment_id, kind, total in rows:
        totals[payment_id][kind.value] = int(total)
    return totals


def total(session, payment_id, kind):
    return sums(session, [payment_id]).get(payment_id, {}).get(kind.value, 0)


def check(session, limit=1000):
    """Payments whose ledger rows do not add up (rules.ledger_problems), at
    most ``limit``: an operator's check, run in pages of payments."""
    problems, last = [], None
    while True:
        query = select(Payment).where(Payment.succeeded_at.is_not(None)).order_by(Payment.id).limit(500)
        if last is not None:
            query = query.where(Payment.id > last)
        page = session.scalars(query).all()
        if not page:
            return {"problems": problems}
        totals = sums(session, [p.id for p in page])
        for payment in page:
            for problem in rules.ledger_problems(payment.amount, payment.platform_fee, totals.get(payment.id, {})):
                problems.append({"payment_id": str(payment.id), "problem": problem})
                if len(problems) >= limit:
                    return {"problems": problems}
        last = page[-1].id
