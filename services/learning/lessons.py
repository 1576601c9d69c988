"""Lessons: booking inside the tutor's availability, and the status rules
(services/learning/rules.py). The database refuses two live lessons of one
tutor that overlap (``ex_lessons_tutor_no_overlap``), so a race cannot
double-book.

A priced lesson is booked ``awaiting_payment`` and holds its slot until
payment's ``payment_succeeded`` arrives (``mark_paid``: requested) or its
``payment_due_at`` passes (``expire_overdue``, run by the service's timer:
expired). Learning never calls payment: both moves are events.
"""
import logging
import uuid
from datetime import datetime, timezone

from marshmallow import Schema, fields
from psycopg2 import errorcodes
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from services.common.errors import BadInput, Conflict, Forbidden, NotFound
from services.common.inbox import DeadLetter
from services.common.paging import decode_cursor, encode_cursor
from services.learning import rules
from services.learning.courses import course_by_id, course_view
from services.learning.models import (Course, CourseStatus, Lesson, LessonStatus, Student, Tutor,
                                      TutorAvailability)
from services.learning.user_copies import student_by_user

log = logging.getLogger(__name__)

# Lessons one expiry tick claims and expires in one unit of work.
EXPIRY_BATCH = 100


def lesson_view(lesson, tutor_user_id, student_user_id):
    return {"id": str(lesson.id), "course_id": str(lesson.course_id), "tutor_id": str(lesson.tutor_id),
            "student_id": str(lesson.student_id), "tutor_user_id": str(tutor_user_id),
            "student_user_id": str(student_user_id), "scheduled_at": lesson.scheduled_at.isoformat(),
            "ends_at": lesson.ends_at.isoformat(), "status": lesson.status.value,
            "meeting_url": lesson.meeting_url,
            "cancelled_by_user_id": str(lesson.cancelled_by_user_id) if lesson.cancelled_by_user_id else None,
            "cancel_reason": lesson.cancel_reason,
            "payment_due_at": lesson.payment_due_at.isoformat() if lesson.payment_due_at else None}


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


def book(uow, student_user_id, course_id, scheduled_at, payment_minutes):
    """Book a lesson of an active course; a priced one waits
    ``payment_minutes`` for its payment (rules.initial_status)."""
    session = uow.session
    student = student_by_user(session, student_user_id)
    course = course_by_id(session, course_id)
    if course.status != CourseStatus.active:
        raise Conflict("this course is archived", {"course_id": ["Archived."]})
    tutor = session.get(Tutor, course.tutor_id)
    if tutor.user_id == student.user_id:
        raise Forbidden("a tutor cannot book their own course")
    now = datetime.now(timezone.utc)
    start, end = rules.lesson_window(scheduled_at, course.duration, now)
    if not fits_availability(session, tutor, start, end):
        raise BadInput("the tutor is not available then",
                       {"scheduled_at": ["Outside the tutor's availability."]})
    lesson = Lesson(course_id=course.id, tutor_id=tutor.id, student_id=student.id, scheduled_at=start, ends_at=end,
                    status=rules.initial_status(course.price),
                    payment_due_at=rules.payment_due(now, payment_minutes, course.price))
    session.add(lesson)
    try:
        session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "pgcode", None) == errorcodes.EXCLUSION_VIOLATION:
            raise Conflict("the tutor is already booked at that time", {"scheduled_at": ["Already booked."]})
        raise
    view = lesson_view(lesson, tutor.user_id, student.user_id)
    uow.emit("lesson_booked", dict(view, price=course.price, currency=course.currency, course_title=course.title,
                                   student_name=student.name, student_email=student.email, tutor_name=tutor.name))
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
    now = datetime.now(timezone.utc)
    rules.check_transition(lesson.status, to, party, now, lesson.scheduled_at)
    if to == LessonStatus.cancelled:
        lesson.cancelled_by_user_id, lesson.cancel_reason = uuid.UUID(principal.user_id), reason
    lesson.status = to
    uow.session.flush()
    view = lesson_view(lesson, tutor_uid, student_uid)
    data = dict(view, cancelled_by_role=party, cancelled_at=now.isoformat()) if to == LessonStatus.cancelled \
        else view
    uow.emit("lesson_" + to.value, data)
    return view


class PaymentSucceeded(Schema):
    """Learning's own reading of payment's ``payment_succeeded`` v1: only
    the fields it uses (unknown keys are ignored: services/common/inbox.py)."""
    payment_id = fields.String(load_default=None)
    lesson_id = fields.UUID(required=True)
    student_user_id = fields.UUID(required=True)


def mark_paid(uow, data):
    """Payment took the student's money for a lesson: an awaiting_payment
    lesson becomes requested, for the tutor to confirm, and ``lesson_paid``
    says so (even past its payment_due_at, if the timer has not expired it
    yet: the slot is still held). A lesson that expired or was cancelled
    meanwhile is left as it is; payment refunds such a payment itself. The
    inbox applies each event once."""
    row = uow.session.execute(
        select(Lesson, Tutor.user_id, Student.user_id).join(Tutor, Tutor.id == Lesson.tutor_id)
        .join(Student, Student.id == Lesson.student_id).where(Lesson.id == data["lesson_id"])
        .with_for_update(of=Lesson)).first()
    if row is None:
        raise DeadLetter("payment_succeeded for an unknown lesson {}".format(data["lesson_id"]))
    lesson, tutor_uid, student_uid = row
    if student_uid != data["student_user_id"]:
        raise DeadLetter("payment_succeeded for lesson {} names student {}, not the lesson's".format(
            lesson.id, data["student_user_id"]))
    if not rules.can_mark_paid(lesson.status):
        log.info("payment %s for lesson %s arrived when it was %s: left as it is", data.get("payment_id"),
                 lesson.id, lesson.status.value)
        return None
    lesson.status = LessonStatus.requested
    uow.session.flush()
    view = lesson_view(lesson, tutor_uid, student_uid)
    uow.emit("lesson_paid", view)
    return view


class VideoSessionCreated(Schema):
    """What learning reads of communication's video_session_created, version 1 (docs/events.md)."""
    lesson_id = fields.UUID(required=True)
    meeting_url = fields.Url(required=True, schemes={"https", "http"})


def set_meeting_url(uow, data):
    """The confirmed lesson's room, as communication made it: kept in
    ``lessons.meeting_url``, which only the lesson's parties see."""
    lesson = uow.session.get(Lesson, data["lesson_id"], with_for_update=True)
    if lesson is None:
        raise DeadLetter("video_session_created for an unknown lesson {}".format(data["lesson_id"]))
    lesson.meeting_url = data["meeting_url"]
    uow.session.flush()


def claim_overdue(session, now, limit):
    """Lock up to ``limit`` unpaid lessons whose payment_due_at has passed
    (rules.overdue), oldest deadline first, with their parties' user ids.
    ``SKIP LOCKED``: rows another instance has claimed are passed over, so
    two instances never claim one lesson, and neither waits for the other."""
    return session.execute(
        select(Lesson, Tutor.user_id, Student.user_id).join(Tutor, Tutor.id == Lesson.tutor_id)
        .join(Student, Student.id == Lesson.student_id)
        .where(Lesson.status == LessonStatus.awaiting_payment, Lesson.payment_due_at <= now)
        .order_by(Lesson.payment_due_at, Lesson.id).limit(limit)
        .with_for_update(of=Lesson, skip_locked=True)).all()


def expire_overdue(uow, now, limit=EXPIRY_BATCH):
    """Expire one batch of unpaid lessons past their payment_due_at, freeing
    their slots, with a ``lesson_expired`` each; the views, in the order
    claimed. The caller commits the batch as one unit of work."""
    views = []
    for lesson, tutor_uid, student_uid in claim_overdue(uow.session, now, limit):
        if not rules.overdue(lesson.status, lesson.payment_due_at, now):
            continue  # the query applies the same rule; a row it claims is always due
        lesson.status = LessonStatus.expired
        uow.session.flush()
        view = lesson_view(lesson, tutor_uid, student_uid)
        uow.emit("lesson_expired", view)
        views.append(view)
    return views


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
    """Courses each student has a live or finished lesson in (not cancelled or expired)."""
    query = select(Student.user_id, Course, Tutor.user_id).distinct() \
        .join(Lesson, Lesson.student_id == Student.id).join(Course, Course.id == Lesson.course_id) \
        .join(Tutor, Tutor.id == Course.tutor_id) \
        .where(and_(Student.user_id.in_(student_user_ids),
                    Lesson.status.not_in((LessonStatus.cancelled, LessonStatus.expired))))
    result = {str(u): [] for u in student_user_ids}
    for student_uid, course, tutor_uid in session.execute(query).all():
        result[str(student_uid)].append(course_view(course, tutor_uid))
    for courses in result.values():
        courses.sort(key=lambda c: (c["title"], c["id"]))
    return result
