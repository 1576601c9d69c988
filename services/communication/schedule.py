"""What communication knows of each lesson, from learning's events alone
(it reads no other database): who, what, when, and where it stands."""
import uuid

from sqlalchemy.dialects.postgresql import insert

from services.communication.models import LessonSchedule


def booked(uow, data):
    """``lesson_booked``: the lesson's row (the existing one on a redelivery)."""
    values = {"lesson_id": data["id"], "course_title": data["course_title"][:200],
              "student_user_id": data["student_user_id"], "tutor_user_id": data["tutor_user_id"],
              "student_name": data["student_name"][:200], "tutor_name": data["tutor_name"][:200],
              "scheduled_at": data["scheduled_at"], "ends_at": data["ends_at"], "status": data["status"]}
    uow.session.execute(insert(LessonSchedule).values(**values).on_conflict_do_nothing())
    return uow.session.get(LessonSchedule, data["id"])


def changed(uow, data):
    """A later lesson event: the new status and times, on the row
    ``lesson_booked`` made (None when that event never reached us)."""
    lesson = uow.session.get(LessonSchedule, data["id"], with_for_update=True)
    if lesson is not None:
        lesson.status, lesson.scheduled_at, lesson.ends_at = data["status"], data["scheduled_at"], data["ends_at"]
        uow.session.flush()
    return lesson


def get(session, lesson_id):
    return session.get(LessonSchedule, uuid.UUID(str(lesson_id)))


def party_of(lesson, user_id):
    """'student', 'tutor' or None."""
    if str(lesson.student_user_id) == str(user_id):
        return "student"
    if str(lesson.tutor_user_id) == str(user_id):
        return "tutor"
    return None
