"""Learning's pure rules (services/learning/rules.py), with no database."""
import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.common.errors import BadInput, Conflict, Forbidden
from services.learning import rules
from services.learning.models import LessonStatus as S

NOW = datetime(2030, 3, 4, 12, 0, tzinfo=timezone.utc)
LATER, EARLIER = NOW + timedelta(hours=2), NOW - timedelta(hours=2)


@pytest.mark.parametrize("status, to, party, start", [
    (S.requested, S.confirmed, "tutor", LATER),
    (S.requested, S.cancelled, "tutor", LATER),
    (S.requested, S.cancelled, "student", LATER),
    (S.confirmed, S.cancelled, "student", LATER),
    (S.confirmed, S.completed, "tutor", EARLIER),
    (S.awaiting_payment, S.cancelled, "student", LATER),
    (S.awaiting_payment, S.cancelled, "tutor", LATER),
])
def test_allowed_transitions(status, to, party, start):
    assert rules.check_transition(status, to, party, NOW, start) is None


@pytest.mark.parametrize("status, to", [
    (S.requested, S.completed), (S.confirmed, S.confirmed), (S.completed, S.cancelled),
    (S.completed, S.confirmed), (S.cancelled, S.confirmed), (S.cancelled, S.cancelled),
    (S.awaiting_payment, S.completed), (S.expired, S.confirmed), (S.expired, S.cancelled),
    (S.expired, S.completed),
])
def test_the_machine_refuses_other_moves(status, to):
    start = EARLIER if to == S.completed else LATER
    with pytest.raises(Conflict) as caught:
        rules.check_transition(status, to, "tutor", NOW, start)
    assert caught.value.details == {"status": ["Not allowed from {}.".format(status.value)]}


@pytest.mark.parametrize("to, party", [(S.confirmed, "student"), (S.completed, "student"),
                                       (S.confirmed, None), (S.cancelled, None)])
def test_who_may_move_a_lesson(to, party):
    with pytest.raises(Forbidden):
        rules.check_transition(S.requested if to != S.completed else S.confirmed, to, party, NOW, LATER)


def test_cancel_only_before_the_start_and_complete_only_after():
    with pytest.raises(Conflict, match="before it starts"):
        rules.check_transition(S.confirmed, S.cancelled, "student", NOW, NOW)
    with pytest.raises(Conflict, match="after it starts"):
        rules.check_transition(S.confirmed, S.completed, "tutor", NOW, LATER)


def test_an_unpaid_lesson_cannot_be_confirmed_and_says_why():
    with pytest.raises(Conflict) as caught:
        rules.check_transition(S.awaiting_payment, S.confirmed, "tutor", NOW, LATER)
    assert "awaiting_payment" in caught.value.message and "payment" in caught.value.message
    assert caught.value.details == {"status": ["Awaiting payment."]}
    with pytest.raises(Forbidden):  # the student may not confirm at all
        rules.check_transition(S.awaiting_payment, S.confirmed, "student", NOW, LATER)
    with pytest.raises(Conflict, match="before it starts"):
        rules.check_transition(S.awaiting_payment, S.cancelled, "tutor", NOW, EARLIER)


def test_a_priced_lesson_waits_for_payment_and_a_free_one_does_not():
    assert rules.initial_status(4500) == S.awaiting_payment
    assert rules.payment_due(NOW, 15, 4500) == NOW + timedelta(minutes=15)
    assert rules.initial_status(0) == S.requested
    assert rules.payment_due(NOW, 15, 0) is None


@pytest.mark.parametrize("status, due, overdue", [
    (S.awaiting_payment, EARLIER, True), (S.awaiting_payment, NOW, True), (S.awaiting_payment, LATER, False),
    (S.awaiting_payment, None, False), (S.requested, EARLIER, False), (S.cancelled, EARLIER, False),
    (S.expired, EARLIER, False),
])
def test_overdue_is_an_unpaid_lesson_past_its_due_time(status, due, overdue):
    assert rules.overdue(status, due, NOW) is overdue


@pytest.mark.parametrize("status, paid", [(S.awaiting_payment, True), (S.requested, False),
                                          (S.confirmed, False), (S.cancelled, False), (S.expired, False),
                                          (S.completed, False)])
def test_only_an_awaiting_payment_lesson_is_marked_paid(status, paid):
    assert rules.can_mark_paid(status) is paid


def test_nothing_moves_an_expired_lesson():
    assert not rules.ALLOWED.get(S.expired)
    assert rules.ALLOWED[S.awaiting_payment] == {S.requested, S.cancelled, S.expired}


def test_party_of_compares_ids_as_text():
    tutor, student = uuid.uuid4(), uuid.uuid4()
    assert rules.party_of(str(tutor), tutor, student) == "tutor"
    assert rules.party_of(str(student), tutor, student) == "student"
    assert rules.party_of(str(uuid.uuid4()), tutor, student) is None


def test_lesson_window_is_utc_and_in_the_future():
    start = datetime(2030, 3, 4, 15, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rules.lesson_window(start, 90, NOW) == (
        datetime(2030, 3, 4, 13, 0, tzinfo=timezone.utc), datetime(2030, 3, 4, 14, 30, tzinfo=timezone.utc))
    with pytest.raises(BadInput) as caught:
        rules.lesson_window(NOW, 60, NOW)
    assert "scheduled_at" in caught.value.details


def test_local_slot_follows_daylight_saving():
    # 14:00 UTC is 09:00 in New York in winter (EST) and 10:00 in summer (EDT).
    winter = datetime(2031, 1, 6, 14, 0, tzinfo=timezone.utc)
    summer = datetime(2031, 7, 7, 14, 0, tzinfo=timezone.utc)
    assert rules.local_slot("America/New_York", winter, winter + timedelta(hours=1)) == (0, time(9), time(10))
    assert rules.local_slot("America/New_York", summer, summer + timedelta(hours=1)) == (0, time(10), time(11))


def test_local_slot_refuses_a_lesson_across_local_midnight():
    start = datetime(2031, 1, 6, 22, 30, tzinfo=timezone.utc)  # 23:30 in Berlin
    assert rules.local_slot("Europe/Berlin", start, start + timedelta(hours=1)) is None
    assert rules.local_slot("UTC", start, start + timedelta(minutes=30)) == (0, time(22, 30), time(23))


def slot(day, start, end):
    return {"day_of_week": day, "start_time": time(*start), "end_time": time(*end)}


def test_slots_overlap_finds_the_later_of_two_overlapping_slots():
    assert rules.slots_overlap([slot(0, (9,), (12,)), slot(1, (9,), (12,)), slot(0, (11,), (13,))]) == 2
    assert rules.slots_overlap([slot(0, (13,), (14,)), slot(0, (9,), (13,))]) is None  # touching is fine
    assert rules.slots_overlap([]) is None


def test_lesson_window_keeps_starts_on_the_grid_and_within_a_year():
    with pytest.raises(BadInput) as caught:
        rules.lesson_window(datetime(2030, 3, 5, 8, 7, 13, tzinfo=timezone.utc), 60, NOW)
    assert list(caught.value.details) == ["scheduled_at"]
    with pytest.raises(BadInput) as caught:
        rules.lesson_window(NOW + timedelta(days=365, minutes=15), 60, NOW)
    assert list(caught.value.details) == ["scheduled_at"]
    assert rules.lesson_window(NOW + timedelta(days=365), 60, NOW)[0] == NOW + timedelta(days=365)
    # +05:45 is a whole number of quarter hours: 08:45 there is 03:00 UTC
    kathmandu = datetime(2030, 3, 5, 8, 45, tzinfo=timezone(timedelta(hours=5, minutes=45)))
    assert rules.lesson_window(kathmandu, 60, NOW)[0] == datetime(2030, 3, 5, 3, 0, tzinfo=timezone.utc)


def test_first_grid_start_is_strictly_after_now():
    assert rules.first_grid_start(NOW) == NOW + timedelta(minutes=15)
    assert rules.first_grid_start(NOW + timedelta(minutes=7, seconds=13)) == NOW + timedelta(minutes=15)


MONDAY_9_TO_11 = [(0, time(9), time(11))]


def test_bookable_starts_are_on_the_grid_and_fit_the_slot():
    now = datetime(2030, 3, 3, 23, 7, 13, tzinfo=timezone.utc)  # a Sunday, off the grid
    starts = rules.bookable_starts("UTC", MONDAY_9_TO_11, [], 60, now, 2, 500)
    assert starts == [datetime(2030, 3, 4, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=m)
                      for m in (0, 15, 30, 45, 60)]
    assert all(rules.on_grid(s) for s in starts)
    assert rules.bookable_starts("UTC", MONDAY_9_TO_11, [], 60, now, 2, 2) == starts[:2]


def test_bookable_starts_follow_the_tutors_daylight_saving():
    """09:00-11:00 on Mondays in New York: 14:00 UTC before 2030-03-10, 13:00 after."""
    now = datetime(2030, 3, 3, 0, 0, tzinfo=timezone.utc)
    starts = rules.bookable_starts("America/New_York", MONDAY_9_TO_11, [], 120, now, 10, 500)
    assert starts == [datetime(2030, 3, 4, 14, 0, tzinfo=timezone.utc),
                      datetime(2030, 3, 11, 13, 0, tzinfo=timezone.utc)]


def test_bookable_starts_never_cross_the_tutors_midnight():
    """Sunday 22:00-23:59 then Monday 00:00-02:00 in Berlin: a lesson across
    midnight fits neither slot, as booking would refuse it."""
    weekly = [(6, time(22), time(23, 59)), (0, time(0), time(2))]
    now = datetime(2030, 3, 3, 12, 0, tzinfo=timezone.utc)  # Sunday
    local = [s.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M")
             for s in rules.bookable_starts("Europe/Berlin", weekly, [], 60, now, 1, 500)]
    assert local == ["Sun 22:00", "Sun 22:15", "Sun 22:30", "Sun 22:45",
                     "Mon 00:00", "Mon 00:15", "Mon 00:30", "Mon 00:45", "Mon 01:00"]


def test_a_booked_lesson_removes_the_starts_it_overlaps():
    now = datetime(2030, 3, 3, 0, 0, tzinfo=timezone.utc)
    busy = [(datetime(2030, 3, 4, 9, 45, tzinfo=timezone.utc), datetime(2030, 3, 4, 10, 15, tzinfo=timezone.utc))]
    starts = rules.bookable_starts("UTC", MONDAY_9_TO_11, busy, 30, now, 2, 500)
    assert [s.strftime("%H:%M") for s in starts] == ["09:00", "09:15", "10:15", "10:30"]
