"""Learning's rules as plain functions: no session, no SQL, so each is
unit-tested without a database (tests/unit/test_learning_rules.py).

The lesson status machine::

    requested -> confirmed -> completed
    requested | confirmed -> cancelled

The tutor confirms and completes; either party cancels, before the start.
"""
import zoneinfo
from datetime import timedelta, timezone

from services.common.errors import BadInput, Conflict, Forbidden
from services.learning.models import LessonStatus

ALLOWED = {
    LessonStatus.requested: {LessonStatus.confirmed, LessonStatus.cancelled},
    LessonStatus.confirmed: {LessonStatus.completed, LessonStatus.cancelled},
}
TUTOR_ONLY = {LessonStatus.confirmed: "confirm", LessonStatus.completed: "complete"}


def party_of(user_id, tutor_user_id, student_user_id):
    """'tutor', 'student' or None: the caller's part in a lesson."""
    if str(user_id) == str(tutor_user_id):
        return "tutor"
    if str(user_id) == str(student_user_id):
        return "student"
    return None


def check_transition(status, to, party, now, scheduled_at):
    """Refuse a status change that the machine, the party or the clock does
    not allow; returns nothing when it is allowed."""
    if to in TUTOR_ONLY and party != "tutor":
        raise Forbidden("only the lesson's tutor may {} it".format(TUTOR_ONLY[to]))
    if to == LessonStatus.cancelled:
        if party is None:
            raise Forbidden("only the lesson's tutor or student may cancel it")
        if now >= scheduled_at:
            raise Conflict("a lesson can be cancelled only before it starts", {"status": ["Already started."]})
    if to == LessonStatus.completed and now < scheduled_at:
        raise Conflict("a lesson can be completed only after it starts", {"status": ["Not started yet."]})
    if to not in ALLOWED.get(status, set()):
        raise Conflict("a {} lesson cannot become {}".format(status.value, to.value),
                       {"status": ["Not allowed from {}.".format(status.value)]})


def lesson_window(scheduled_at, duration_minutes, now):
    """The lesson's [start, end) in UTC; it must start in the future."""
    start = scheduled_at.astimezone(timezone.utc)
    if start <= now:
        raise BadInput("the lesson must start in the future", {"scheduled_at": ["Must be in the future."]})
    return start, start + timedelta(minutes=duration_minutes)


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
