"""Lessons: booking inside the tutor's availability, and the status rules
(services/learning/rules.py). The database refuses two live lessons of one
tutor that overlap (``ex_lessons_tutor_no_overlap``), so a race cannot
double-book."""
import uuid
from datetime import datetime, timezone

from psycopg2 import errorcodes
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from services.common.errors import BadInput, Conflict, Forbidden, NotFound
from services.common.paging import decode_cursor, encode_cursor
from services.learning import rules
from services.learning.courses import course_by_id, course_view
from services.learning.models import (Course, CourseStatus, Lesson, LessonStatus, Student, Tutor,
                                      TutorAvailability)
from services.learning.user_copies import student_by_user


def lesson_view(lesson, tutor_user_id, student_user_id):
    return {"id": str(lesson.id), "course_id": str(lesson.course_id), "tutor_id": str(lesson.tutor_id),
            "student_id": str(lesson.student_id), "tutor_user_id": str(tutor_user_id),
            "student_user_id": str(student_user_id), "scheduled_at": lesson.scheduled_at.isoformat(),
            "ends_at": lesson.ends_at.isoformat(), "status": lesson.status.value,
            "meeting_url": lesson.meeting_url,
            "cancelled_by_user_id": str(lesson.cancelled_by_user_id) if lesson.cancelled_by_user_id else None,
            "cancel_reason": lesson.cancel_reason}


def fits_availability(session, tutor, start, end):
    """True if [start, end) lies inside one of the tutor's weekly slots."""
    slot = rules.local_slot(tutor.timezone, start, end)
    if slot is None:
        return False
    weekday, local_start, local_end = slot
    return session.execute(select(TutorAvailability.id).where(
        TutorAvailability.tutor_id == tutor.id, TutorAvailability.day_of_week == weekday,
        TutorAvailability.start_time <= local_start,
        TutorAvailability.end_time >= local_end).limit(1)).first() is not None


def book(uow, student_user_id, course_id, scheduled_at):
    session = uow.session
    student = student_by_user(session, student_user_id)
    course = course_by_id(session, course_id)
    if course.status != CourseStatus.active:
        raise Conflict("this course is archived", {"course_id": ["Archived."]})
    tutor = session.get(Tutor, course.tutor_id)
    if tutor.user_id == student.user_id:
        raise Forbidden("a tutor cannot book their own course")
    start, end = rules.lesson_window(scheduled_at, course.duration, datetime.now(timezone.utc))
    if not fits_availability(session, tutor, start, end):
        raise BadInput("the tutor is not available then",
                       {"scheduled_at": ["Outside the tutor's availability."]})
    lesson = Lesson(course_id=course.id, tutor_id=tutor.id, student_id=student.id, scheduled_at=start, ends_at=end)
    session.add(lesson)
    try:
        session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "pgcode", None) == errorcodes.EXCLUSION_VIOLATION:
            raise Conflict("the tutor is already booked at that time", {"scheduled_at": ["Already booked."]})
        raise
    view = lesson_view(lesson, tutor.user_id, student.user_id)
    uow.emit("lesson_booked", dict(view, price=course.price, currency=course.currency))
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
    if not (principal.is_admin or rules.party_of(principal.user_id, tutor_uid, student_uid)):
        raise Forbidden("only the lesson's tutor and student may see it")
    return lesson_view(lesson, tutor_uid, student_uid)


def transition(uow, principal, lesson_id, to, reason=""):
    """Apply one status change under a row lock."""
    lesson, tutor_uid, student_uid = _lesson_with_parties(uow.session, lesson_id, lock=True)
    party = rules.party_of(principal.user_id, tutor_uid, student_uid)
    rules.check_transition(lesson.status, to, party, datetime.now(timezone.utc), lesson.scheduled_at)
    if to == LessonStatus.cancelled:
        lesson.cancelled_by_user_id, lesson.cancel_reason = uuid.UUID(principal.user_id), reason
    lesson.status = to
    uow.session.flush()
    view = lesson_view(lesson, tutor_uid, student_uid)
    data = dict(view, cancelled_by_role=party) if to == LessonStatus.cancelled else view
    uow.emit("lesson_" + to.value, data)
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


def lesson_pages_for_users(session, user_ids, role, q):
    """One page of each user's lessons as ``role`` (``q``: LessonPageSchema),
    oldest first by (scheduled_at, id), a total order, so the cursor pages
    each user's list without gaps or repeats. One query for all the users:
    a window numbers each user's rows, and each keeps ``limit`` + 1 (the
    extra one only tells whether there is a next page)."""
    party = Tutor if role == "tutor" else Student
    filters = [party.user_id.in_(user_ids)]
    if q["status"]:
        filters.append(Lesson.status == LessonStatus(q["status"]))
    if q["from_"]:
        filters.append(Lesson.scheduled_at >= q["from_"])
    if q["to"]:
        filters.append(Lesson.scheduled_at < q["to"])
    if q["cursor"]:
        at, last_id = decode_cursor(q["cursor"], datetime.fromisoformat, uuid.UUID)
        filters.append(or_(Lesson.scheduled_at > at, and_(Lesson.scheduled_at == at, Lesson.id > last_id)))
    rank = func.row_number().over(partition_by=party.user_id, order_by=(Lesson.scheduled_at, Lesson.id))
    ranked = select(Lesson.id.label("lesson_id"), rank.label("rank")) \
        .join(Tutor, Tutor.id == Lesson.tutor_id).join(Student, Student.id == Lesson.student_id) \
        .where(*filters).subquery()
    query = select(Lesson, Tutor.user_id, Student.user_id).join(ranked, ranked.c.lesson_id == Lesson.id) \
        .join(Tutor, Tutor.id == Lesson.tutor_id).join(Student, Student.id == Lesson.student_id) \
        .where(ranked.c.rank <= q["limit"] + 1).order_by(Lesson.scheduled_at, Lesson.id)
    rows = {str(u): [] for u in user_ids}
    for lesson, tutor_uid, student_uid in session.execute(query).all():
        owner = tutor_uid if role == "tutor" else student_uid
        rows[str(owner)].append(dict(lesson_view(lesson, tutor_uid, student_uid),
                                     cursor=encode_cursor(lesson.scheduled_at.isoformat(), lesson.id)))
    return {uid: {"items": items[:q["limit"]],
                  "next_cursor": items[q["limit"] - 1]["cursor"] if len(items) > q["limit"] else None}
            for uid, items in rows.items()}


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
