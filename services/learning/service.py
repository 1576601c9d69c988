"""Learning service entrypoints: each checks the caller's token, validates
its payload, and hands over to the module that owns the rule, in one unit
of work that it commits."""
import logging
from datetime import datetime, timezone

from nameko.dependency_providers import Config

from services.common import revocations
from services.common.access import public
from services.common.auth import Auth, issue_service_token
from services.common.errors import BadInput
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.rpc import RpcProxy, rpc
from services.common.timers import timer
from services.common.uow import UnitOfWorkProvider
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.learning import courses, languages, lessons, matching, slots, subjects, tutors, user_copies
from services.learning.events import PUBLISHED
from services.learning.models import Base, LessonStatus, RevokedSession
from services.learning.schemas import (AvailabilitySchema, BookableSlotsSchema, BookLessonSchema, CancelLessonSchema,
                                       CourseSchema, CourseUpdateSchema, LessonPageSchema, MatchingRequestSchema,
                                       OpenMatchingRequestsSchema,
                                       SearchSchema, TutorProfileUpdateSchema, VerifyTutorSchema)

TUTOR, STUDENT, ADMIN, ADMIN_OR_SERVICE = {"tutor"}, {"student"}, {"admin"}, {"admin", "service"}
USER_EVENT = {"versions": {1}, "schema": user_copies.UserSnapshot}
CATALOGUE = "the marketplace's public catalogue: anyone may browse it, signed in or not"

log = logging.getLogger(__name__)


class LearningService(HealthRpc, DeadLetterRpc):
    name = "learning"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()
    auth = Auth(signs=True)  # resync_users calls identity with a service token of its own
    identity = RpcProxy("identity")

    # Identity's user events keep learning's copies of users current.

    @subscribe("identity", "user_created", **USER_EVENT)
    def on_user_created(self, uow, event):
        user_copies.apply_user_event(uow, event.data)

    @subscribe("identity", "user_updated", **USER_EVENT)
    def on_user_updated(self, uow, event):
        user_copies.apply_user_event(uow, event.data)

    @subscribe("identity", "user_deactivated", **USER_EVENT)
    def on_user_deactivated(self, uow, event):
        user_copies.apply_user_event(uow, event.data)

    # Sessions identity ended: ``self.auth`` refuses their tokens from then on.

    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)

    # Payment's half of the booking saga: a paid lesson goes to its tutor.

    @subscribe("payment", "payment_succeeded", versions={1}, schema=lessons.PaymentSucceeded)
    def on_payment_succeeded(self, uow, event):
        lessons.mark_paid(uow, event.data)

    # Communication's video room for a confirmed lesson: its URL goes on the lesson.

    @subscribe("communication", "video_session_created", versions={1}, schema=lessons.VideoSessionCreated)
    def on_video_session_created(self, uow, event):
        lessons.set_meeting_url(uow, event.data)

    @timer("LESSON_EXPIRY_INTERVAL_SECONDS", default=5)
    def expire_unpaid_lessons(self):
        """Expire lessons not paid by their payment_due_at, a batch per unit
        of work until none is left; several instances share the work
        (lessons.claim_overdue). A failure (the database down) is logged and
        the next tick tries again."""
        try:
            while True:
                with self.uow() as uow:
                    expired = lessons.expire_overdue(uow, datetime.now(timezone.utc))
                    uow.commit()
                if expired:
                    log.info("expired %d unpaid lesson(s)", len(expired))
                if len(expired) < lessons.EXPIRY_BATCH:
                    break
        except Exception as exc:
            log.warning("expiring unpaid lessons: %s (trying again next tick)",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @rpc
    def resync_users(self, token, page_size=500):
        """Repair the user copies from identity (an operator's tool, admin or
        service token): one unit of work per page, so a long run holds no
        lock for long."""
        self.auth.require(token, ADMIN_OR_SERVICE)
        report, cursor = user_copies.ResyncReport(), None
        while True:
            page = self.identity.list_users(issue_service_token(self.name), cursor=cursor, limit=page_size)
            with self.uow() as uow:
                ahead = user_copies.resync_page(uow, page["items"], report)
                uow.commit()
            if ahead:
                # Copies holding a version identity had not reached when the
                # page was read: asked again now, a copy that identity has
                # still not reached was never published by it (a forged or
                # corrupt version) and is set back to identity's data.
                current = self.identity.get_users(issue_service_token(self.name), [str(u) for u in ahead])
                with self.uow() as uow:
                    user_copies.rewind(uow, current, report)
                    uow.commit()
            cursor = page.get("next_cursor")
            if not cursor:
                break
        with self.uow() as uow:
            return report.as_dict(orphaned=user_copies.orphans(uow.session, report.seen))

    # Tutors: profiles are public; only the tutor edits theirs, only an admin verifies.

    @rpc
    def set_tutor_profile(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        changes = load(TutorProfileUpdateSchema(), payload, partial=True)
        with self.uow() as uow:
            view = tutors.set_profile(uow, tutor.user_id, changes)
            uow.commit()
        return view

    @rpc
    def verify_tutor(self, token, tutor_user_id, payload):
        self.auth.require(token, ADMIN)
        data = load(VerifyTutorSchema(), payload)
        with self.uow() as uow:
            view = tutors.set_verified(uow, parse_uuid(tutor_user_id, "tutor_user_id"), data["is_verified"])
            uow.commit()
        return view

    @rpc
    @public(CATALOGUE)
    def get_tutor_profiles(self, user_ids):
        user_ids = parse_uuid_list(user_ids, "user_ids")
        with self.uow() as uow:
            return tutors.profiles(uow.session, user_ids)

    @rpc
    @public(CATALOGUE)
    def search_tutors(self, payload=None):
        query = load(SearchSchema(), payload or {})
        with self.uow() as uow:
            return tutors.search(uow.session, query)

    @rpc
    @public(CATALOGUE)
    def list_languages(self):
        """The ISO 639-1 codes a profile may name, with their English names."""
        return [{"code": code, "name": name} for code, name in sorted(languages.NAMES.items())]

    @rpc
    @public(CATALOGUE)
    def list_subjects(self):
        """The subjects apps offer to pick from; tutors may type others."""
        return list(subjects.KNOWN)

    @rpc
    def set_availability(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        slots = load(AvailabilitySchema(), payload)["slots"]
        with self.uow() as uow:
            view = tutors.set_availability(uow, tutor.user_id, slots)
            uow.commit()
        return view

    @rpc
    @public(CATALOGUE)
    def get_availability(self, tutor_user_id):
        tutor_user_id = parse_uuid(tutor_user_id, "tutor_user_id")
        with self.uow() as uow:
            return tutors.availability(uow.session, tutor_user_id)

    @rpc
    @public(CATALOGUE)
    def get_availabilities(self, tutor_user_ids):
        """Many tutors' weekly slots in one call; None where a user is no tutor."""
        tutor_user_ids = parse_uuid_list(tutor_user_ids, "tutor_user_ids")
        with self.uow() as uow:
            return tutors.availabilities(uow.session, tutor_user_ids)

    # Courses: only their own tutor changes them.

    @rpc
    def create_course(self, token, payload):
        tutor = self.auth.require(token, TUTOR)
        data = load(CourseSchema(), payload)
        with self.uow() as uow:
            view = courses.create(uow, tutor.user_id, data)
            uow.commit()
        return view

    @rpc
    def update_course(self, token, course_id, payload):
        """Change only the fields given; the course's tutor or an admin."""
        who = self.auth.require(token, TUTOR | ADMIN)
        changes = load(CourseUpdateSchema(), payload, partial=True)
        with self.uow() as uow:
            view = courses.update(uow, who.user_id, parse_uuid(course_id, "course_id"), changes, who.is_admin)
            uow.commit()
        return view

    @rpc
    def archive_course(self, token, course_id):
        """Archive a course (again: a no-op); the course's tutor or an admin."""
        who = self.auth.require(token, TUTOR | ADMIN)
        with self.uow() as uow:
            view = courses.archive(uow, who.user_id, parse_uuid(course_id, "course_id"), who.is_admin)
            uow.commit()
        return view

    @rpc
    @public(CATALOGUE)
    def get_courses(self, course_ids):
        course_ids = parse_uuid_list(course_ids, "course_ids")
        with self.uow() as uow:
            return courses.courses(uow.session, course_ids)

    @rpc
    @public(CATALOGUE)
    def courses_for_tutors(self, tutor_user_ids):
        tutor_user_ids = parse_uuid_list(tutor_user_ids, "tutor_user_ids")
        with self.uow() as uow:
            return courses.courses_for_tutors(uow.session, tutor_user_ids)

    # Lessons.

    @rpc
    def book_lesson(self, token, payload):
        student = self.auth.require(token, STUDENT)
        data = load(BookLessonSchema(), payload)
        with self.uow() as uow:
            view = lessons.book(uow, student.user_id, data["course_id"], data["scheduled_at"],
                                float(self.config.get("LESSON_PAYMENT_MINUTES", 15)))
            uow.commit()
        return view

    @rpc
    def bookable_slots(self, token, payload):
        """When the course can be booked in the next ``days`` (1-60, default
        14): ``[{"starts_at", "ends_at"}]`` in ``timezone`` (IANA, default
        UTC), earliest first, at most slots.MAX_SLOTS. Any signed-in user."""
        self.auth.require(token)
        query = load(BookableSlotsSchema(), payload)
        with self.uow() as uow:
            return slots.bookable(uow.session, query["course_id"], query["days"], query["timezone"],
                                  datetime.now(timezone.utc))

    @rpc
    def get_lesson(self, token, lesson_id):
        principal = self.auth.require(token)
        lesson_id = parse_uuid(lesson_id, "lesson_id")
        with self.uow() as uow:
            return lessons.get(uow.session, principal, lesson_id)

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
        lesson_id = parse_uuid(lesson_id, "lesson_id")
        with self.uow() as uow:
            view = lessons.transition(uow, principal, lesson_id, to, reason)
            uow.commit()
        return view

    @rpc
    def lessons_for_users(self, token, user_ids, role):
        """Lessons of each user as ``role``; a user sees their own, an admin anyone's."""
        ids = self.auth.require_own(token, user_ids, "user_ids")[1]
        if role not in ("student", "tutor"):
            raise BadInput("invalid role", {"role": ["Must be student or tutor."]})
        with self.uow() as uow:
            return lessons.lessons_for_users(uow.session, ids, role)

    @rpc
    def lesson_pages_for_users(self, token, user_ids, role, payload=None):
        """One page of each user's lessons as ``role``, filtered and keyset-paged
        by ``payload`` (LessonPageSchema: status, from, to, cursor, limit);
        ``{user_id: {"items", "next_cursor"}}``. Same access as lessons_for_users."""
        ids = self.auth.require_own(token, user_ids, "user_ids")[1]
        if role not in ("student", "tutor"):
            raise BadInput("invalid role", {"role": ["Must be student or tutor."]})
        query = load(LessonPageSchema(), payload or {})
        with self.uow() as uow:
            return lessons.lesson_pages_for_users(uow.session, ids, role, query)

    @rpc
    def enrolled_courses(self, token, student_user_ids):
        """Courses each student takes; a student sees their own, an admin anyone's."""
        ids = self.auth.require_own(token, student_user_ids, "student_user_ids")[1]
        with self.uow() as uow:
            return lessons.enrolled_courses(uow.session, ids)


    # Matching requests: a student's own.

    @rpc
    def create_matching_request(self, token, payload):
        student = self.auth.require(token, STUDENT)
        data = load(MatchingRequestSchema(), payload)
        with self.uow() as uow:
            view = matching.create(uow, student.user_id, data)
            uow.commit()
        return view

    @rpc
    def list_matching_requests(self, token, status=None):
        student = self.auth.require(token, STUDENT)
        if status not in (None, "open", "closed"):
            raise BadInput("invalid status", {"status": ["Must be open or closed."]})
        with self.uow() as uow:
            return matching.list_own(uow.session, student.user_id, status)

    @rpc
    def open_matching_requests(self, token, payload=None):
        """Open requests the calling tutor could take, oldest first, paged
        by ``first`` and ``after`` (matching.open_for_tutor)."""
        tutor = self.auth.require(token, TUTOR)
        page = load(OpenMatchingRequestsSchema(), payload or {})
        with self.uow() as uow:
            return matching.open_for_tutor(uow.session, tutor.user_id, page["first"], page["after"])

    @rpc
    def close_matching_request(self, token, request_id):
        student = self.auth.require(token, STUDENT)
        request_id = parse_uuid(request_id, "request_id")
        with self.uow() as uow:
            view = matching.close(uow, student.user_id, request_id)
            uow.commit()
        return view
