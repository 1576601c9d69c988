"""Learning service entrypoints: each checks the caller's token, validates
its payload, and hands over to the module that owns the rule."""
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy, rpc

from services.common.auth import Auth, issue_service_token
from services.common.db import ServiceDatabase
from services.common.errors import BadInput
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, follows
from services.common.outbox import Outbox
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.learning import courses, lessons, matching, tutors, user_copies
from services.learning.models import Base, FailedEvent, InboxEvent, LessonStatus, OutboxEvent
from services.learning.schemas import (AvailabilitySchema, BookLessonSchema, CancelLessonSchema, CourseSchema,
                                       CourseUpdateSchema, MatchingRequestSchema, SearchSchema,
                                       TutorProfileSchema, VerifyTutorSchema)

TUTOR, STUDENT, ADMIN = {"tutor"}, {"student"}, {"admin"}


class LearningService(HealthRpc, DeadLetterRpc):
    name = "learning"

    db = ServiceDatabase("learning", Base)
    config = Config()
    auth = Auth()
    outbox = Outbox(OutboxEvent)
    inbox = Inbox(InboxEvent, FailedEvent, user_copies.HANDLERS)
    identity = RpcProxy("identity")

    # Identity's user events keep learning's copies of users current.

    @follows("identity", "user_created")
    def on_user_created(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_updated")
    def on_user_updated(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_deactivated")
    def on_user_deactivated(self, envelope):
        self.inbox.handle("identity", envelope)

    @rpc
    def resync_users(self):
        """Repair the user copies from identity (an operator's tool)."""
        def page(cursor, limit):
            return self.identity.list_users(issue_service_token(self.name), cursor=cursor, limit=limit)
        return user_copies.resync(self.db.session, page)

    # Tutors: profiles are public; only the tutor edits theirs, only an admin verifies.

    @rpc
    def set_tutor_profile(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        return tutors.set_profile(self.db.session, self.outbox, tutor.user_id, load(TutorProfileSchema(), payload))

    @rpc
    def verify_tutor(self, token, tutor_user_id, payload):
        self.auth.require(token, ADMIN)
        data = load(VerifyTutorSchema(), payload)
        return tutors.set_verified(self.db.session, self.outbox, parse_uuid(tutor_user_id, "tutor_user_id"),
                                   data["is_verified"])

    @rpc
    def get_tutor_profiles(self, user_ids):
        return tutors.profiles(self.db.session, parse_uuid_list(user_ids, "user_ids"))

    @rpc
    def search_tutors(self, payload=None):
        return tutors.search(self.db.session, load(SearchSchema(), payload or {}))

    @rpc
    def set_availability(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        return tutors.set_availability(self.db.session, tutor.user_id, load(AvailabilitySchema(), payload)["slots"])

    @rpc
    def get_availability(self, tutor_user_id):
        return tutors.availability(self.db.session, parse_uuid(tutor_user_id, "tutor_user_id"))

    # Courses: only their own tutor changes them.

    @rpc
    def create_course(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        return courses.create(self.db.session, self.outbox, tutor.user_id, load(CourseSchema(), payload))

    @rpc
    def update_course(self, token, course_id, payload):
        tutor = self.auth.require(token, TUTOR)
        changes = load(CourseUpdateSchema(), payload, partial=True)
        return courses.update(self.db.session, self.outbox, tutor.user_id, parse_uuid(course_id, "course_id"), changes)

    @rpc
    def archive_course(self, token, course_id):
        tutor = self.auth.require(token, TUTOR)
        return courses.archive(self.db.session, self.outbox, tutor.user_id, parse_uuid(course_id, "course_id"))

    @rpc
    def get_courses(self, course_ids):
        return courses.courses(self.db.session, parse_uuid_list(course_ids, "course_ids"))

    @rpc
    def courses_for_tutors(self, tutor_user_ids):
        return courses.courses_for_tutors(self.db.session, parse_uuid_list(tutor_user_ids, "tutor_user_ids"))

    # Lessons.

    @rpc
    def book_lesson(self, token, payload):
        student = self.auth.require(token, STUDENT)
        data = load(BookLessonSchema(), payload)
        return lessons.book(self.db.session, self.outbox, student.user_id, data["course_id"], data["scheduled_at"])

    @rpc
    def get_lesson(self, token, lesson_id):
        return lessons.get(self.db.session, self.auth.require(token), parse_uuid(lesson_id, "lesson_id"))

    @rpc
    def confirm_lesson(self, token, lesson_id):
        return self._move_lesson(token, lesson_id, LessonStatus.confirmed)

    @rpc
    def complete_lesson(self, token, lesson_id):
        return self._move_lesson(token, lesson_id, LessonStatus.completed)

    @rpc
    def cancel_lesson(self, token, lesson_id, payload=None):
        reason = load(CancelLessonSchema(), payload or {})["reason"]
        return self._move_lesson(token, lesson_id, LessonStatus.cancelled, reason)

    def _move_lesson(self, token, lesson_id, to, reason=""):
        principal = self.auth.require(token, TUTOR | STUDENT)
        return lessons.transition(self.db.session, self.outbox, principal, parse_uuid(lesson_id, "lesson_id"),
                                  to, reason)

    @rpc
    def lessons_for_users(self, token, user_ids, role):
        """Lessons of each user as ``role``; a user sees their own, an admin anyone's."""
        principal = self.auth.require(token)
        if role not in ("student", "tutor"):
            raise BadInput("invalid role", {"role": ["Must be student or tutor."]})
        ids = parse_uuid_list(user_ids, "user_ids")
        if not (principal.is_admin or principal.is_service or all(str(i) == principal.user_id for i in ids)):
            self.auth.require(token, ADMIN)  # raises Forbidden with the usual message
        return lessons.lessons_for_users(self.db.session, ids, role)

    @rpc
    def enrolled_courses(self, student_user_ids):
        return lessons.enrolled_courses(self.db.session, parse_uuid_list(student_user_ids, "student_user_ids"))

    # Matching requests: a student's own.

    @rpc
    def create_matching_request(self, token, payload):
        student = self.auth.require(token, STUDENT)
        return matching.create(self.db.session, self.outbox, student.user_id, load(MatchingRequestSchema(), payload))

    @rpc
    def list_matching_requests(self, token, status=None):
        student = self.auth.require(token, STUDENT)
        if status not in (None, "open", "closed"):
            raise BadInput("invalid status", {"status": ["Must be open or closed."]})
        return matching.list_own(self.db.session, student.user_id, status)

    @rpc
    def close_matching_request(self, token, request_id):
        student = self.auth.require(token, STUDENT)
        return matching.close(self.db.session, student.user_id, parse_uuid(request_id, "request_id"))
