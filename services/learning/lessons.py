"""Lessons: booking inside the tutor's availability, and the status rules.

requested -> confirmed -> completed, and requested|confirmed -> cancelled.
The tutor confirms and completes; either side cancels before the start.
The database refuses two live lessons of one tutor that overlap
(``ex_lessons_tutor_no_overlap``), so a race cannot double-book.
"""
import uuid
import zoneinfo
from datetime import datetime, timedelta, timezone

from psycopg2 import errorcodes
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from services.common.errors import BadInput, Conflict, Forbidden, NotFound
from services.learning.courses import course_by_id, course_view
from services.learning.user_copies import student_by_user
from services.learning.models import (Course, CourseStatus, Lesson, LessonStatus, Student, Tutor,
                                      TutorAvailability)

ALLOWED = {
    LessonStatus.requested: {LessonStatus.confirmed, LessonStatus.cancelled},
    LessonStatus.confirmed: {LessonStatus.completed, LessonStatus.cancelled},
}


def lesson_view(lesson, tutor_user_id, student_user_id):
    return {"id": str(lesson.id), "course_id": str(lesson.course_id), "tutor_id": str(lesson.tutor_id),
            "student_id": str(lesson.student_id), "tutor_user_id": str(tutor_user_id),
            "student_user_id": str(student_user_id), "scheduled_at": lesson.scheduled_at.isoformat(),
            "ends_at": lesson.ends_at.isoformat(), "status": lesson.status.value,
            "meeting_url": lesson.meeting_url,
            "cancelled_by_user_id": str(lesson.cancelled_by_user_id) if lesson.cancelled_by_user_id else None,
            "cancel_reason": lesson.cancel_reason}


def fits_availability(session, tutor, start, end):
    """True if [start, end) lies inside one weekly slot, read in the tutor's
    own zone, so daylight-saving changes move the UTC hours with it."""
    zone = zoneinfo.ZoneInfo(tutor.timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_end.date() != local_start.date():
        return False  # crosses local midnight: no single slot can hold it
    return session.execute(select(TutorAvailability.id).where(
        TutorAvailability.tutor_id == tutor.id,
        TutorAvailability.day_of_week == local_start.weekday(),
        TutorAvailability.start_time <= local_start.time(),
        TutorAvailability.end_time >= local_end.time()).limit(1)).first() is not None


def book(session, outbox, student_user_id, course_id, scheduled_at):
    student = student_by_user(session, student_user_id)
    course = course_by_id(session, course_id)
    if course.status != CourseStatus.active:
        raise Conflict("this course is archived", {"course_id": ["Archived."]})
    tutor = session.get(Tutor, course.tutor_id)
    if tutor.user_id == student.user_id:
        raise Forbidden("a tutor cannot book their own course")
    start = scheduled_at.astimezone(timezone.utc)
    end = start + timedelta(minutes=course.duration)
    if start <= datetime.now(timezone.utc):
        raise BadInput("the lesson must start in the future", {"scheduled_at": ["Must be in the future."]})
    if not fits_availability(session, tutor, start, end):
        raise BadInput("the tutor is not available then",
                       {"scheduled_at": ["Outside the tutor's availability."]})
    lesson = Lesson(course_id=course.id, tutor_id=tutor.id, student_id=student.id, scheduled_at=start, ends_at=end)
    session.add(lesson)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if getattr(exc.orig, "pgcode", None) == errorcodes.EXCLUSION_VIOLATION:
            raise Conflict("the tutor is already booked at that time", {"scheduled_at": ["Already booked."]})
        raise
    view = lesson_view(lesson, tutor.user_id, student.user_id)
    outbox.add(session, "lesson_booked", dict(view, price=course.price, currency=course.currency))
    session.commit()
    return view


def _lesson_with_parties(session, lesson_id, lock=False):
    query = select(Lesson, Tutor.user_id, Student.user_id).join(Tutor, Tutor.id == Lesson.tutor_id) \
        .join(Student, Student.id == Lesson.student_id).where(Lesson.id == lesson_id)
    row = session.execute(query.with_for_update(of=Lesson) if lock else query).first()
    if row is None:
        raise NotFound("no such lesson", {"lesson_id": ["Unknown lesson."]})
    return row


def get(session, principal, lesson_id):
    lesson, tutor_uid, student_uid = _lesson_with_parties(session, lesson_id)
    if not (principal.is_admin or principal.user_id in (str(tutor_uid), str(student_uid))):
        raise Forbidden("only the lesson's tutor and student may see it")
    return lesson_view(lesson, tutor_uid, student_uid)


def _move(lesson, to):
    if to not in ALLOWED.get(lesson.status, set()):
        raise Conflict("a {} lesson cannot become {}".format(lesson.status.value, to.value),
                       {"status": ["Not allowed from {}.".format(lesson.status.value)]})
    lesson.status = to


def transition(session, outbox, principal, lesson_id, to, reason=""):
    """Apply one status change under a row lock, with who may make it."""
    lesson, tutor_uid, student_uid = _lesson_with_parties(session, lesson_id, lock=True)
    is_tutor, is_student = principal.user_id == str(tutor_uid), principal.user_id == str(student_uid)
    now = datetime.now(timezone.utc)
    if to in (LessonStatus.confirmed, LessonStatus.completed) and not is_tutor:
        raise Forbidden("only the lesson's tutor may {} it".format(
            "confirm" if to == LessonStatus.confirmed else "complete"))
    if to == LessonStatus.cancelled:
        if not (is_tutor or is_student):
            raise Forbidden("only the lesson's tutor or student may cancel it")
        if now >= lesson.scheduled_at:
            raise Conflict("a lesson can be cancelled only before it starts", {"status": ["Already started."]})
        lesson.cancelled_by_user_id, lesson.cancel_reason = uuid.UUID(principal.user_id), reason
    if to == LessonStatus.completed and now < lesson.scheduled_at:
        raise Conflict("a lesson can be completed only after it starts", {"status": ["Not started yet."]})
    _move(lesson, to)
    session.flush()
    view = lesson_view(lesson, tutor_uid, student_uid)
    data = dict(view)
    if to == LessonStatus.cancelled:
        data["cancelled_by_role"] = "tutor" if is_tutor else "student"
    outbox.add(session, "lesson_" + to.value, data)
    session.commit()
    return view


def lessons_for_users(session, user_ids, role):
    party = Tutor if role == "tutor" else Student
    query = select(Lesson, Tutor.user_id, Student.user_id).join(Tutor, Tutor.id == Lesson.tutor_id) \
        .join(Student, Student.id == Lesson.student_id).where(party.user_id.in_(user_ids)) \
        .order_by(Lesson.scheduled_at, Lesson.id)
    result = {str(u): [] for u in user_ids}
    for lesson, tutor_uid, student_uid in session.execute(query).all():
        owner = tutor_uid if role == "tutor" else student_uid
        result[str(owner)].append(lesson_view(lesson, tutor_uid, student_uid))
    return result


def enrolled_courses(session, student_user_ids):
    """Courses each student has a live or finished (not cancelled) lesson in."""
    query = select(Student.user_id, Course, Tutor.user_id).distinct() \
        .join(Lesson, Lesson.student_id == Student.id).join(Course, Course.id == Lesson.course_id) \
        .join(Tutor, Tutor.id == Course.tutor_id) \
        .where(and_(Student.user_id.in_(student_user_ids), Lesson.status != LessonStatus.cancelled))
    result = {str(u): [] for u in student_user_ids}
    for student_uid, course, tutor_uid in session.execute(query).all():
        result[str(student_uid)].append(course_view(course, tutor_uid))
    for courses in result.values():
        courses.sort(key=lambda c: (c["title"], c["id"]))
    return result
