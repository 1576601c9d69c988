"""Learning's rules as plain functions: no session, no SQL, so each is
unit-tested without a database (tests/unit/test_learning_rules.py).

The lesson status machine::

    awaiting_payment -> requested -> confirmed -> completed
    awaiting_payment | requested | confirmed -> cancelled
    awaiting_payment -> expired

A priced course's lesson is booked ``awaiting_payment`` and holds its slot
until payment's ``payment_succeeded`` moves it to ``requested`` (the
tutor's turn), or until ``payment_due_at`` passes and learning's expiry
timer moves it to ``expired`` (``overdue``). A free course's lesson is
booked ``requested``. The tutor confirms (only a paid, ``requested``
lesson) and completes; either party cancels, before the start. Nothing
moves an ``expired``, ``cancelled`` or ``completed`` lesson.
"""
import zoneinfo
from datetime import timedelta, timezone

from services.common.errors import BadInput, Conflict, Forbidden
from services.learning.models import LessonStatus

ALLOWED = {
    LessonStatus.awaiting_payment: {LessonStatus.requested, LessonStatus.cancelled, LessonStatus.expired},
    LessonStatus.requested: {LessonStatus.confirmed, LessonStatus.cancelled},
    LessonStatus.confirmed: {LessonStatus.completed, LessonStatus.cancelled},
}
TUTOR_ONLY = {LessonStatus.confirmed: "confirm", LessonStatus.completed: "complete"}


def initial_status(price):
    """A priced lesson waits for payment; a free one goes to the tutor at once."""
    return LessonStatus.awaiting_payment if price > 0 else LessonStatus.requested


def payment_due(now, minutes, price):
    """When an unpaid lesson booked ``now`` expires; None for a free one."""
    return now + timedelta(minutes=minutes) if price > 0 else None


def overdue(status, payment_due_at, now):
    """True if an unpaid lesson's time to pay is over: the expiry timer's rule."""
    return status == LessonStatus.awaiting_payment and payment_due_at is not None and payment_due_at <= now


def can_mark_paid(status):
    """Only a lesson still waiting for its payment becomes requested when it
    arrives; one that expired or was cancelled meanwhile stays as it is
    (payment refunds it)."""
    return status == LessonStatus.awaiting_payment


def party_of(user_id, tutor_user_id, student_user_id):
    """'tutor', 'student' or None: the caller's part in a lesson."""
    if str(user_id) == str(tutor_user_id):
        return "tutor"
    if str(user_id) == str(student_user_id):
        return "student"
    return None


def check_transition(status, to, party, now, scheduled_at):
    """Refuse a status change that the machine, the party or the clock does
    not allow; returns nothing when it is allowed. The parties' moves only
    (confirm, complete, cancel): payment and expiry are the platform's
    (can_mark_paid, overdue)."""
    if to in TUTOR_ONLY and party != "tutor":
        raise Forbidden("only the lesson's tutor may {} it".format(TUTOR_ONLY[to]))
    if to == LessonStatus.cancelled:
        if party is None:
            raise Forbidden("only the lesson's tutor or student may cancel it")
        if now >= scheduled_at:
            raise Conflict("a lesson can be cancelled only before it starts", {"status": ["Already started."]})
    if to == LessonStatus.confirmed and status == LessonStatus.awaiting_payment:
        raise Conflict("an awaiting_payment lesson cannot be confirmed: it awaits the student's payment",
                       {"status": ["Awaiting payment."]})
    if to == LessonStatus.completed and now < scheduled_at:
        raise Conflict("a lesson can be completed only after it starts", {"status": ["Not started yet."]})
    if to not in ALLOWED.get(status, set()):
        raise Conflict("a {} lesson cannot become {}".format(status.value, to.value),
                       {"status": ["Not allowed from {}.".format(status.value)]})


# Lessons start on a quarter-hour grid, so bookable_starts can list every
# possible start; every zone's UTC offset today is a whole number of quarter
# hours, so the grid is the same in UTC and in any local time.
GRID = timedelta(minutes=15)
# How far ahead a lesson may be booked.
HORIZON = timedelta(days=365)


def on_grid(moment):
    """True if ``moment`` (aware) starts a quarter hour exactly."""
    utc = moment.astimezone(timezone.utc)
    return utc.minute % 15 == 0 and utc.second == 0 and utc.microsecond == 0


def lesson_window(scheduled_at, duration_minutes, now):
    """The lesson's [start, end) in UTC; it must start in the future, on
    the grid, and within HORIZON."""
    start = scheduled_at.astimezone(timezone.utc)
    if start <= now:
        raise BadInput("the lesson must start in the future", {"scheduled_at": ["Must be in the future."]})
    if not on_grid(start):
        raise BadInput("a lesson starts on the hour or at :15, :30 or :45",
                       {"scheduled_at": ["Must be on a 15-minute boundary, e.g. 08:15:00."]})
    if start > now + HORIZON:
        raise BadInput("a lesson can be booked at most a year ahead",
                       {"scheduled_at": ["Must be within a year from now."]})
    return start, start + timedelta(minutes=duration_minutes)


def first_grid_start(now):
    """The first grid time strictly after ``now``."""
    utc = now.astimezone(timezone.utc)
    floor = utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)
    return floor + GRID


def bookable_starts(tutor_timezone, weekly, busy, duration_minutes, now, days, limit):
    """The UTC grid starts in (now, now + days) that book would accept:
    [start, start + duration) inside one weekly slot read in the tutor's
    zone (local_slot, so across DST and never across local midnight, as
    lessons.fits_availability reads it) and overlapping no ``busy`` [start,
    end) (the live lessons). ``weekly`` holds (day_of_week, start_time,
    end_time); at most ``limit`` starts, earliest first."""
    length, until = timedelta(minutes=duration_minutes), now + timedelta(days=days)
    busy = sorted(busy)
    starts, start = [], first_grid_start(now)
    while start < until and len(starts) < limit:
        end = start + length
        slot = local_slot(tutor_timezone, start, end)
        if slot is not None:
            weekday, local_start, local_end = slot
            fits = any(d == weekday and s <= local_start and local_end <= e for d, s, e in weekly)
            if fits and not any(b_start < end and start < b_end for b_start, b_end in busy):
                starts.append(start)
        start += GRID
    return starts


def local_slot(tutor_timezone, start, end):
    """(weekday, local start time, local end time) of [start, end) read in
    the tutor's own zone, so daylight-saving changes move the UTC hours with
    it; None when it crosses local midnight, which no weekly slot can hold."""
    zone = zoneinfo.ZoneInfo(tutor_timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_end.date() != local_start.date():
        return None
    return local_start.weekday(), local_start.time(), local_end.time()


def slots_overlap(slots):
    """The index of the first weekly slot that overlaps an earlier one on
    the same day, or None. ``slots`` are dicts with day_of_week, start_time
    and end_time."""
    ordered = sorted(enumerate(slots), key=lambda s: (s[1]["day_of_week"], s[1]["start_time"]))
    for (_, a), (j, b) in zip(ordered, ordered[1:]):
        if a["day_of_week"] == b["day_of_week"] and b["start_time"] < a["end_time"]:
            return j
    return None
