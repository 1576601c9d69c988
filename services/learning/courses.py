"""Courses: a tutor's offer of lessons at a price and a length."""
import uuid

from sqlalchemy import select

from services.common.errors import Conflict, Forbidden, NotFound
from services.learning.models import Course, CourseStatus, Tutor
from services.learning.user_copies import tutor_by_user


def course_view(course, tutor_user_id):
    return {"id": str(course.id), "tutor_id": str(course.tutor_id), "tutor_user_id": str(tutor_user_id),
            "title": course.title, "description": course.description, "price": course.price,
            "currency": course.currency, "duration": course.duration, "status": course.status.value,
            "created_at": course.created_at.isoformat() if course.created_at else None}


def _view(session, course):
    tutor = session.get(Tutor, course.tutor_id)
    return course_view(course, tutor.user_id)


def course_by_id(session, course_id, lock=False):
    query = select(Course).where(Course.id == course_id)
    course = session.execute(query.with_for_update() if lock else query).scalar()
    if course is None:
        raise NotFound("no such course", {"course_id": ["Unknown course."]})
    return course


def create(uow, user_id, data):
    session = uow.session
    tutor = tutor_by_user(session, user_id)
    course = Course(tutor_id=tutor.id, **data)
    session.add(course)
    session.flush()
    session.refresh(course)
    view = course_view(course, tutor.user_id)
    uow.emit("course_created", view)
    return view


def _own_course(session, user_id, course_id, is_admin=False):
    course = course_by_id(session, course_id, lock=True)
    if not is_admin and session.get(Tutor, course.tutor_id).user_id != uuid.UUID(str(user_id)):
        raise Forbidden("only the course's own tutor or an admin may change it")
    return course


def update(uow, user_id, course_id, changes, is_admin=False):
    session = uow.session
    course = _own_course(session, user_id, course_id, is_admin)
    if course.status == CourseStatus.archived:
        raise Conflict("an archived course cannot be changed", {"course_id": ["Archived."]})
    for field, value in changes.items():
        setattr(course, field, value)
    session.flush()
    view = _view(session, course)
    uow.emit("course_updated", dict(view, changes=sorted(changes)))
    return view


def archive(uow, user_id, course_id, is_admin=False):
    """Archiving an archived course is a no-op that answers the course and
    emits nothing, so a client may retry it safely (docs/graphql.md). Its
    lessons are kept; lessons.book refuses new ones."""
    session = uow.session
    course = _own_course(session, user_id, course_id, is_admin)
    if course.status != CourseStatus.archived:
        course.status = CourseStatus.archived
        session.flush()
        uow.emit("course_archived", _view(session, course))
    return _view(session, course)


def courses(session, course_ids):
    rows = session.execute(select(Course, Tutor.user_id).join(Tutor, Tutor.id == Course.tutor_id)
                           .where(Course.id.in_(course_ids))).all()
    by_id = {c.id: course_view(c, uid) for c, uid in rows}
    return [by_id.get(i) for i in course_ids]


def courses_for_tutors(session, tutor_user_ids, include_archived=False):
    query = select(Course, Tutor.user_id).join(Tutor, Tutor.id == Course.tutor_id) \
        .where(Tutor.user_id.in_(tutor_user_ids))
    if not include_archived:
        query = query.where(Course.status == CourseStatus.active)
    result = {str(u): [] for u in tutor_user_ids}
    for course, uid in session.execute(query.order_by(Course.created_at, Course.id)).all():
        result[str(uid)].append(course_view(course, uid))
    return result
