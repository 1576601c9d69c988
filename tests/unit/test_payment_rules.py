"""services.payment.rules: the fee, the refund policy, what may be paid or
refunded, payout weeks and the ledger's sums, without a database."""
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from services.common.errors import BadInput, Conflict
from services.payment import rules
from services.payment.models import LessonState, PaymentStatus

START = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("percent,points", [("15", 1500), (15, 1500), ("12.5", 1250), ("0", 0), ("99.99", 9999)])
def test_fee_percent_reads_as_basis_points(percent, points):
    assert rules.fee_basis_points(percent) == points


@pytest.mark.parametrize("percent", ["100", "-1", "12.345", "fifteen", ""])
def test_a_fee_percent_out_of_range_or_too_fine_stops_the_service(percent):
    with pytest.raises(ValueError, match="PLATFORM_FEE_PERCENT"):
        rules.fee_basis_points(percent)


@pytest.mark.parametrize("amount,points,fee", [
    (4000, 1500, 600),
    (3333, 1500, 500),    # 499.95 rounds up
    (3330, 1500, 500),    # 499.5 rounds half up
    (3329, 1500, 499),    # 499.35 rounds down
    (1, 1500, 0),
    (4000, 0, 0),
    (4000, 9999, 4000),   # 3999.6
    (10000, 9999, 9999),
])
def test_fee_is_rounded_half_up_to_whole_cents(amount, points, fee):
    assert rules.platform_fee(amount, points) == fee
    assert 0 <= fee <= amount


@pytest.mark.parametrize("role,before,due,rule", [
    ("tutor", timedelta(hours=1), 4000, "tutor"),
    ("tutor", timedelta(days=3), 4000, "tutor"),
    ("student", timedelta(hours=24), 4000, "24 hours or more"),
    ("student", timedelta(days=5), 4000, "24 hours or more"),
    ("student", timedelta(hours=23, minutes=59), 2000, "half"),
    ("student", timedelta(minutes=1), 2000, "half"),
    ("student", timedelta(0), 0, "after the start"),
    ("student", -timedelta(minutes=5), 0, "after the start"),
])
def test_refund_policy(role, before, due, rule):
    amount, text = rules.cancellation_refund(4000, 0, role, START - before, START)
    assert amount == due and rule in text


def test_half_refund_gives_the_odd_cent_to_the_student():
    assert rules.cancellation_refund(4001, 0, "student", START - timedelta(hours=2), START)[0] == 2001


def test_policy_never_refunds_more_than_is_left():
    assert rules.cancellation_refund(4000, 3500, "tutor", START - timedelta(days=2), START)[0] == 500
    assert rules.cancellation_refund(4000, 4000, "tutor", START - timedelta(days=2), START)[0] == 0


def test_refund_by_hand_is_capped_by_what_is_left():
    assert rules.check_refund(None, 4000, 1500) == 2500
    assert rules.check_refund(2500, 4000, 1500) == 2500
    with pytest.raises(BadInput) as error:
        rules.check_refund(2501, 4000, 1500)
    assert "amount" in error.value.details
    with pytest.raises(Conflict):
        rules.check_refund(None, 4000, 4000)


def test_status_after_refund():
    assert rules.status_after_refund(4000, 4000) == PaymentStatus.refunded
    assert rules.status_after_refund(4000, 1) == PaymentStatus.partially_refunded


def _payment(status=PaymentStatus.pending, state=LessonState.booked, due=START - timedelta(minutes=10),
             starts=START):
    return SimpleNamespace(status=status, lesson_state=state, due_at=due, booking={"scheduled_at": starts.isoformat()})


def test_what_can_be_paid():
    early = START - timedelta(minutes=11)
    rules.check_payable(_payment(), early)
    rules.check_payable(_payment(PaymentStatus.failed), early)
    cases = [(_payment(PaymentStatus.succeeded), early, "paid already"),
             (_payment(PaymentStatus.refunded), early, "paid already"),
             (_payment(state=LessonState.expired), early, "ended"),
             (_payment(PaymentStatus.cancelled), early, "ended"),
             (_payment(), START - timedelta(minutes=10), "over"),           # at its due time
             (_payment(due=START + timedelta(minutes=5)), START, "started")]  # due after the start: the start wins
    for payment, now, words in cases:
        with pytest.raises(Conflict, match=words) as error:
            rules.check_payable(payment, now)
        assert "lesson_id" in error.value.details


@pytest.mark.parametrize("intent,status", [
    ({"status": "succeeded"}, PaymentStatus.succeeded),
    ({"status": "canceled"}, PaymentStatus.cancelled),
    ({"status": "requires_action"}, PaymentStatus.requires_action),
    ({"status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}, PaymentStatus.failed),
    ({"status": "requires_payment_method", "last_payment_error": None}, PaymentStatus.pending),
    ({"status": "processing"}, PaymentStatus.pending),
])
def test_intent_outcome(intent, status):
    assert rules.intent_outcome(intent) == status


def test_onboarding_needs_all_three_flags():
    flags = {"charges_enabled": True, "payouts_enabled": True, "details_submitted": True}
    assert rules.onboarding_complete(flags)
    for name in flags:
        assert not rules.onboarding_complete(dict(flags, **{name: False}))


def test_payout_weeks_run_monday_to_sunday():
    assert rules.payout_period(date(2026, 11, 25)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert rules.payout_period(date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert rules.payout_period(date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))
    # Wednesday 25 November: the last week that has ended is the one before.
    assert rules.last_closed_period(datetime(2026, 11, 25, 9, tzinfo=timezone.utc)) == \
        (date(2026, 11, 16), date(2026, 11, 22))
    assert rules.period_end_instant(date(2026, 11, 22)) == datetime(2026, 11, 23, tzinfo=timezone.utc)


def test_a_payout_run_names_a_monday_of_a_week_that_has_ended():
    assert rules.check_period_start(date(2026, 11, 16), date(2026, 11, 25)) == (date(2026, 11, 16),
                                                                                date(2026, 11, 22))
    with pytest.raises(BadInput, match="Monday"):
        rules.check_period_start(date(2026, 11, 17), date(2026, 11, 25))
    with pytest.raises(BadInput, match="ended"):
        rules.check_period_start(date(2026, 11, 23), date(2026, 11, 25))


def test_invoice_numbers_are_per_year_and_sort():
    assert rules.invoice_number(2026, 42) == "2026-000042"
    assert rules.invoice_number(2026, 9) < rules.invoice_number(2026, 10)


def test_ledger_problems():
    good = {"charge": 4000, "application_fee": 600, "transfer": 3400,
            "refund": 2000, "transfer_reversal": 1700, "application_fee_refund": 300}
    assert rules.ledger_problems(4000, 600, good) == []
    assert rules.ledger_problems(4000, 600, {}) == []  # not charged yet
    assert rules.ledger_problems(4000, 600, dict(good, transfer=3300))
    assert rules.ledger_problems(4000, 600, dict(good, refund=4100, transfer_reversal=3500,
                                                 application_fee_refund=600))
    assert rules.ledger_problems(4000, 600, dict(good, application_fee_refund=299))
    assert rules.ledger_problems(4000, 500, dict(good, application_fee=500, transfer=3500)) == []
    assert rules.ledger_problems(4000, 600, dict(good, application_fee=500, transfer=3500))
