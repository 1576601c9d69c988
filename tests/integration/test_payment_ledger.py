"""A month of marketplace activity through the running services, drawn at
random with a fixed seed (bookings, payments, declines, expiries,
cancellations by either party, refunds by hand, completions and payouts),
then the ledger's sums read straight from the payment database
(docs/payments.md, "Ledger" and the refund policy)."""
import random
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from tests.integration.helpers import operator_token, wait_for
from tests.integration.learning_fixtures import people, soon, start_shortly  # noqa: F401
from tests.integration.test_payment_flow import (admin_token, book, dbs, lesson_status, paid_tutor,  # noqa: F401
                                                 pay, payment_of)

pytestmark = pytest.mark.integration

SEED = 20261125
LESSONS = 24
PRICES = (2500, 3999, 4000)   # 3999: its 15 % fee (599.85) and its half (1999.5) both round
OUTCOMES = ("paid", "declined_then_paid", "expired", "tutor_cancelled", "student_cancelled_early",
            "student_cancelled_late", "admin_refunded", "completed_paid_out")
HOUR = timedelta(hours=1)


def _fee(amount, percent=15):
    """The platform's fee, rounded half up to whole cents."""
    return (amount * percent * 2 + 100) // 200


def _plan(rng, tutors, base):
    """(outcome, tutor index, start) for each lesson; every outcome at least
    once, no two lessons of one tutor overlapping, all inside the tutors'
    06:00-22:00 day (it is about midday for them now)."""
    outcomes = list(OUTCOMES) + [rng.choice(OUTCOMES) for _ in range(LESSONS - len(OUTCOMES))]
    rng.shuffle(outcomes)
    taken = defaultdict(list)
    plan = []
    for outcome in outcomes:
        while True:
            t = rng.randrange(len(tutors))
            if outcome == "student_cancelled_late":
                # Within the next hours, past the hour a completed lesson is moved to.
                start = base + timedelta(minutes=15 * rng.randint(8, 12))
            else:
                start = base + timedelta(days=rng.randint(2, 29), minutes=15 * rng.randint(-12, 12))
            if all(abs(start - other) >= HOUR for other in taken[t]):
                break
        taken[t].append(start)
        plan.append((outcome, t, start))
    return plan


def _sums(db, payment_ids):
    rows = db.all("SELECT payment_id::text, type::text, sum(amount) FROM transactions "
                  "WHERE payment_id::text = ANY(:ids) GROUP BY 1, 2", ids=payment_ids)
    totals = defaultdict(lambda: defaultdict(int))
    for payment_id, kind, total in rows:
        totals[payment_id][kind] = int(total)
    return totals


def test_a_month_of_activity_keeps_the_ledger_balanced(rpc, people, dbs):
    began = time.monotonic()
    rng = random.Random(SEED)
    pdb, ldb = dbs["payment"], dbs["learning"]
    tutors = [paid_tutor(rpc, people, price=price) for price in PRICES]
    students = people.make("student", count=LESSONS)
    plan = _plan(rng, tutors, soon(600))

    # Book everything; each booking opens its payment.
    lessons = []
    for (outcome, t, start), student in zip(plan, students):
        tutor, course = tutors[t]
        _, lesson = book(rpc, people, course, at=start, student=student)
        lessons.append({"outcome": outcome, "tutor": tutor, "student": student, "lesson": lesson,
                        "price": course["price"], "start": start})

    # Pay, decline then pay, or let the booking lapse.
    for item in lessons:
        student, lesson = item["student"], item["lesson"]
        if item["outcome"] == "expired":
            ldb.execute("UPDATE lessons SET payment_due_at = now() - interval '1 second' WHERE id = :id",
                        id=lesson["id"])
            continue
        if item["outcome"] == "declined_then_paid":
            declined = pay(rpc, student, lesson, "pm_card_chargeDeclined")
            assert declined["status"] == "failed" and declined["failure"]["code"] == "card_declined"
        paid = pay(rpc, student, lesson)
        assert paid["status"] == "succeeded", paid
    for item in lessons:
        wanted = "expired" if item["outcome"] == "expired" else "requested"
        wait_for(lambda: lesson_status(dbs, item["lesson"]) == wanted, message="lesson {}".format(wanted))
    for item in lessons:
        item["payment_id"] = payment_of(rpc, item["student"], item["lesson"])["id"]

    # Cancel, refund by hand, or teach.
    admin = admin_token()
    expected_refunds = {}   # payment id -> [(kind, amount)]
    for item in lessons:
        outcome, lesson, price, pid = item["outcome"], item["lesson"], item["price"], item["payment_id"]
        if outcome == "tutor_cancelled":
            rpc.learning.cancel_lesson(item["tutor"].token, lesson["id"], {"reason": "Ill"})
            expected_refunds[pid] = [("policy", price)]
        elif outcome == "student_cancelled_early":
            rpc.learning.cancel_lesson(item["student"].token, lesson["id"], {"reason": "Plans changed"})
            expected_refunds[pid] = [("policy", price)]
        elif outcome == "student_cancelled_late":
            rpc.learning.cancel_lesson(item["student"].token, lesson["id"], {"reason": "Plans changed"})
            expected_refunds[pid] = [("policy", (price + 1) // 2)]
        elif outcome == "admin_refunded":
            first = rng.randint(1, price - 1)
            made = rpc.payment.refund_payment(admin, pid, {"amount": first, "reason": "Audio problems"})
            assert (made["kind"], made["amount"]) == ("admin", first)
            expected_refunds[pid] = [("admin", first)]
            if rng.random() < 0.5:
                rest = rpc.payment.refund_payment(admin, pid, {"reason": "The rest"})
                assert rest["amount"] == price - first
                expected_refunds[pid].append(("admin", price - first))
        elif outcome == "completed_paid_out":
            rpc.learning.confirm_lesson(item["tutor"].token, lesson["id"])
            start_shortly(ldb, lesson["id"], seconds=0)
            rpc.learning.complete_lesson(item["tutor"].token, lesson["id"])

    for item in lessons:
        pid = item["payment_id"]
        if item["outcome"] == "expired":
            wait_for(lambda: payment_of(rpc, item["student"], item["lesson"])["status"] == "cancelled",
                     message="expired payment cancelled")
        elif pid in expected_refunds:
            refunded = sum(amount for _, amount in expected_refunds[pid])
            wait_for(lambda: pdb.scalar("SELECT amount_refunded FROM payments WHERE id = :id", id=pid) == refunded,
                     message="refund of {} on {}".format(refunded, pid))
    completed = [item["payment_id"] for item in lessons if item["outcome"] == "completed_paid_out"]
    wait_for(lambda: pdb.scalar("SELECT count(*) FROM payments WHERE id::text = ANY(:ids) "
                                "AND completed_at IS NOT NULL", ids=completed) == len(completed),
             message="payment saw the completions")

    # Completed last week, so last week's payout run takes them.
    pdb.execute("UPDATE payments SET completed_at = completed_at - interval '7 days' WHERE id::text = ANY(:ids)",
                ids=completed)
    rpc.payment.run_payouts(operator_token())
    # (A payout run elsewhere in the suite may have taken them first: the same.)
    wait_for(lambda: pdb.scalar("SELECT count(*) FROM payments WHERE id::text = ANY(:ids) AND payout_id IS NOT NULL",
                                ids=completed) == len(completed), message="payouts made")
    payout_ids = [r[0] for r in pdb.all("SELECT DISTINCT payout_id::text FROM payments WHERE id::text = ANY(:ids)",
                                        ids=completed)]
    wait_for(lambda: pdb.scalar("SELECT count(*) FROM payouts WHERE id::text = ANY(:ids) AND status = 'paid'",
                                ids=payout_ids) == len(payout_ids), timeout=60, message="payout.paid applied")

    # The checks, on the payment database itself.
    assert rpc.payment.ledger_check(operator_token()) == {"problems": []}

    tutor_ids = [tutor.user_id for tutor, _ in tutors]
    payments = pdb.all("SELECT id::text, lesson_id::text, status::text, amount, platform_fee, amount_refunded, "
                       "payout_id::text FROM payments WHERE tutor_user_id::text = ANY(:t)", t=tutor_ids)
    assert len(payments) == LESSONS
    by_lesson = {item["lesson"]["id"]: item for item in lessons}
    sums = _sums(pdb, [p[0] for p in payments])
    refunds = defaultdict(list)
    for payment_id, kind, amount, status in pdb.all(
            "SELECT payment_id::text, kind::text, amount, status::text FROM refunds "
            "WHERE payment_id::text = ANY(:ids) ORDER BY created_at", ids=[p[0] for p in payments]):
        assert status == "succeeded", (payment_id, kind, amount, status)
        refunds[payment_id].append((kind, int(amount)))

    problems = []
    for pid, lesson_id, status, amount, fee, amount_refunded, payout_id in payments:
        item, s = by_lesson[lesson_id], sums[pid]
        facts = "payment {} ({}, {}): amount {}, fee {}, amount_refunded {}, ledger {}, refunds {}".format(
            pid, item["outcome"], status, amount, fee, amount_refunded, dict(s), refunds[pid])

        def check(ok, what):
            if not ok:
                problems.append("{}: {}".format(what, facts))

        check(amount == item["price"] and fee == _fee(amount), "amount or fee")
        paid = item["outcome"] != "expired"
        check(status in ("succeeded", "partially_refunded", "refunded") if paid else status == "cancelled",
              "status")
        check(s["charge"] == (amount if paid else 0), "charge == amount (0 if never paid)")
        check(s["charge"] == s["application_fee"] + s["transfer"], "charge == application_fee + transfer")
        if paid:
            check(s["application_fee"] == fee, "application_fee == platform_fee")
        check(s["refund"] == s["transfer_reversal"] + s["application_fee_refund"],
              "refund == transfer_reversal + application_fee_refund")
        check(s["refund"] <= s["charge"], "refunds <= charge")
        check(s["application_fee_refund"] <= s["application_fee"] and s["transfer_reversal"] <= s["transfer"],
              "a side gave back more than it had")
        check(amount_refunded == s["refund"], "payments.amount_refunded == sum(refund)")
        check(sum(a for _, a in refunds[pid]) == s["refund"], "refunds rows == sum(refund)")
        check(refunds[pid] == expected_refunds.get(pid, []), "refunds as the policy / the admin said")
        if s["refund"] == amount and paid:
            check(s["application_fee_refund"] == fee, "a full refund returns the whole fee")
        elif s["refund"]:
            # Each refund returns the fee in proportion, to within a cent each.
            check(abs(s["application_fee_refund"] * amount - fee * s["refund"]) <= amount * len(refunds[pid]),
                  "fee refunded in proportion")
        check((payout_id is not None) == (item["outcome"] == "completed_paid_out"), "payout taken")
        expected_status = {0: "succeeded", amount: "refunded"}.get(s["refund"], "partially_refunded")
        if paid:
            check(status == expected_status, "status after refunds")

    for payout_id, amount, status in pdb.all("SELECT id::text, amount, status::text FROM payouts "
                                             "WHERE id::text = ANY(:ids)", ids=payout_ids):
        mine = [p[0] for p in pdb.all("SELECT id::text FROM payments WHERE payout_id::text = :id", id=payout_id)]
        net = sum(t["transfer"] - t["transfer_reversal"] for t in _sums(pdb, mine).values())
        moves = [(kind, int(a)) for kind, a in pdb.all(
            "SELECT type::text, amount FROM transactions WHERE payout_id::text = :id", id=payout_id)]
        if not (status == "paid" and amount == net and moves == [("payout", amount)]):
            problems.append("payout {}: {}, amount {}, its payments' net {}, its transactions {}".format(
                payout_id, status, amount, net, moves))

    total = Counter()
    for s in sums.values():
        total.update(s)
    money_in, refunded = total["charge"], total["refund"]
    fees_kept = total["application_fee"] - total["application_fee_refund"]
    tutors_net = total["transfer"] - total["transfer_reversal"]
    if money_in - refunded != fees_kept + tutors_net:
        problems.append("totals: charges {} - refunds {} != fees kept {} + tutors' net {}".format(
            money_in, refunded, fees_kept, tutors_net))
    paid_out = sum(int(a) for (a,) in pdb.all("SELECT amount FROM payouts WHERE id::text = ANY(:ids)",
                                               ids=payout_ids))

    counts = Counter(item["outcome"] for item in lessons)
    print("\nledger month (seed {}): {} lessons, {}; in {} refunded {} fees kept {} tutors' net {} "
          "paid out {} in {} payouts; {:.0f}s".format(
              SEED, len(lessons), ", ".join("{} {}".format(o, counts[o]) for o in OUTCOMES), money_in, refunded,
              fees_kept, tutors_net, paid_out, len(payout_ids), time.monotonic() - began))
    assert not problems, "\n".join(problems)
