"""Bookable slots: when a course's tutor can still be booked, read from the
tutor's weekly availability and live lessons; the arithmetic is
rules.bookable_starts, so it answers exactly what lessons.book accepts."""
import zoneinfo
from datetime import timedelta

from sqlalchemy import select

from services.common.errors import Conflict
from services.learning import rules
from services.learning.courses import course_by_id
# HOLDS_SLOT: the statuses that hold a tutor's time, unpaid lessons included;
# those of the exclusion constraint ex_lessons_tutor_no_overlap.
from services.learning.models import HOLDS_SLOT, CourseStatus, Lesson, Tutor, TutorAvailability

MAX_SLOTS = 500


def bookable(session, course_id, days, student_timezone, now):
    """Up to MAX_SLOTS ``{"starts_at", "ends_at"}`` in the next ``days``,
    earliest first, ISO-8601 in ``student_timezone``."""
    course = course_by_id(session, course_id)
    if course.status != CourseStatus.active:
        raise Conflict("this course is archived", {"course_id": ["Archived."]})
    tutor = session.get(Tutor, course.tutor_id)
    weekly = session.execute(select(TutorAvailability.day_of_week, TutorAvailability.start_time,
                                    TutorAvailability.end_time)
                             .where(TutorAvailability.tutor_id == tutor.id)).all()
    busy = session.execute(select(Lesson.scheduled_at, Lesson.ends_at).where(
        Lesson.tutor_id == tutor.id, Lesson.status.in_(HOLDS_SLOT), Lesson.ends_at > now,
        Lesson.scheduled_at < now + timedelta(days=days))).all()
    zone, length = zoneinfo.ZoneInfo(student_timezone), timedelta(minutes=course.duration)
    starts = rules.bookable_starts(tutor.timezone, [tuple(w) for w in weekly], [tuple(b) for b in busy],
                                   course.duration, now, days, MAX_SLOTS)
    return [{"starts_at": s.astimezone(zone).isoformat(), "ends_at": (s + length).astimezone(zone).isoformat()}
            for s in starts]
