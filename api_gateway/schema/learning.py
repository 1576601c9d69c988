"""Learning's part of the graph: it extends ``User`` with ``tutorProfile``,
``enrolledCourses`` and ``lessons``, and owns tutors, courses and lessons."""
import graphene

from api_gateway.errors import GatewayError
from api_gateway.loaders import by_key
from api_gateway.schema import registry
from api_gateway.schema.context import plain, self_or_admin, viewer

MAX_FIRST = 100
DEFAULT_FIRST = 20


def _loaders(info):
    return info.context.loaders


# Learning's batch RPCs, one loader each (api_gateway/loaders.py).

@registry.loader
def tutor_profiles(rpc, token, user_ids):
    return by_key(rpc.call("learning", "get_tutor_profiles", user_ids), "user_id")


@registry.loader
def availabilities(rpc, token, tutor_user_ids):
    return by_key(rpc.call("learning", "get_availabilities", tutor_user_ids), "tutor_user_id")


@registry.loader
def courses_by_tutor(rpc, token, tutor_user_ids):
    return rpc.call("learning", "courses_for_tutors", tutor_user_ids)


@registry.loader
def courses(rpc, token, ids):
    return by_key(rpc.call("learning", "get_courses", ids), "id")


@registry.loader
def enrolled(rpc, token, user_ids):
    return rpc.call("learning", "enrolled_courses", token, user_ids)


@registry.loader
def lessons_as_student(rpc, token, user_ids):
    return rpc.call("learning", "lessons_for_users", token, user_ids, "student")


@registry.loader
def lessons_as_tutor(rpc, token, user_ids):
    return rpc.call("learning", "lessons_for_users", token, user_ids, "tutor")


class Slot(graphene.ObjectType):
    day_of_week = graphene.Int(required=True, description="0 is Monday")
    start_time = graphene.String(required=True, description="HH:MM in the tutor's time zone")
    end_time = graphene.String(required=True)


class Availability(graphene.ObjectType):
    timezone = graphene.String(required=True)
    slots = graphene.List(graphene.NonNull(Slot), required=True)


class Course(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    description = graphene.String(required=True)
    price = graphene.Int(required=True, description="cents per lesson")
    currency = graphene.String(required=True)
    duration = graphene.Int(required=True, description="minutes")
    status = graphene.String(required=True)
    tutor = graphene.Field(lambda: TutorProfile)

    @staticmethod
    def resolve_tutor(course, info):
        return _loaders(info).tutor_profiles.load(course["tutor_user_id"])


class TutorProfile(graphene.ObjectType):
    id = graphene.ID(required=True)
    user_id = graphene.ID(required=True)
    name = graphene.String(required=True)
    hourly_rate = graphene.Int(description="cents an hour")
    currency = graphene.String(required=True)
    subjects = graphene.List(graphene.NonNull(graphene.String), required=True)
    languages = graphene.List(graphene.NonNull(graphene.String), required=True)
    bio = graphene.String(required=True)
    timezone = graphene.String(required=True)
    is_verified = graphene.Boolean(required=True)
    user = graphene.Field(registry.user_type, description="identity's user (needs a signed-in caller)")
    courses = graphene.List(graphene.NonNull(Course), required=True)
    availability = graphene.Field(Availability)

    @staticmethod
    def resolve_user(tutor, info):
        viewer(info)
        return _loaders(info).users.load(tutor["user_id"])

    @staticmethod
    def resolve_courses(tutor, info):
        return _loaders(info).courses_by_tutor.load(tutor["user_id"]) or []

    @staticmethod
    def resolve_availability(tutor, info):
        return _loaders(info).availabilities.load(tutor["user_id"])


def expect_tutor_parts(info, user_ids):
    """A list of tutor profiles is coming: queue the keys their fields load,
    so each field costs one RPC for the whole list, not one per tutor."""
    user_ids = list(user_ids)
    loaders = _loaders(info)
    for loader in (loaders.tutor_profiles, loaders.users, loaders.courses_by_tutor, loaders.availabilities):
        loader.expect(user_ids)


class Lesson(graphene.ObjectType):
    id = graphene.ID(required=True)
    scheduled_at = graphene.String(required=True, description="ISO-8601, UTC")
    ends_at = graphene.String(required=True)
    status = graphene.String(required=True)
    meeting_url = graphene.String()
    cancel_reason = graphene.String()
    cancelled_by_user_id = graphene.ID()
    course = graphene.Field(Course)
    tutor = graphene.Field(TutorProfile)
    student = graphene.Field(registry.user_type)

    @staticmethod
    def resolve_course(lesson, info):
        return _loaders(info).courses.load(lesson["course_id"])

    @staticmethod
    def resolve_tutor(lesson, info):
        return _loaders(info).tutor_profiles.load(lesson["tutor_user_id"])

    @staticmethod
    def resolve_student(lesson, info):
        return _loaders(info).users.load(lesson["student_user_id"])


def expect_lesson_parts(info, lessons):
    loaders = _loaders(info)
    loaders.courses.expect(lsn["course_id"] for lsn in lessons)
    expect_tutor_parts(info, (lsn["tutor_user_id"] for lsn in lessons))
    loaders.users.expect(lsn["student_user_id"] for lsn in lessons)
    return lessons


def expect_course_parts(info, courses):
    expect_tutor_parts(info, (c["tutor_user_id"] for c in courses))
    return courses


class MatchingRequest(graphene.ObjectType):
    id = graphene.ID(required=True)
    subject = graphene.String(required=True)
    budget = graphene.Int(required=True, description="cents an hour")
    currency = graphene.String(required=True)
    requirements = graphene.String(required=True)
    status = graphene.String(required=True)
    created_at = graphene.String()


@registry.user_fields
class UserLearningFields:
    """The fields learning adds to identity's ``User``."""
    tutor_profile = graphene.Field(TutorProfile)
    enrolled_courses = graphene.List(graphene.NonNull(Course), description="the user themself and admins only")
    lessons = graphene.List(graphene.NonNull(Lesson), description="the user themself and admins only")

    @staticmethod
    def resolve_tutor_profile(user, info):
        if user["role"] != "tutor":
            return None
        return _loaders(info).tutor_profiles.load(user["id"])

    @staticmethod
    def resolve_enrolled_courses(user, info):
        self_or_admin(info, user["id"])
        return expect_course_parts(info, _loaders(info).enrolled.load(user["id"]) or [])

    @staticmethod
    def resolve_lessons(user, info):
        self_or_admin(info, user["id"])
        if user["role"] not in ("student", "tutor"):
            return []
        loader = _loaders(info).lessons_as_tutor if user["role"] == "tutor" else _loaders(info).lessons_as_student
        return expect_lesson_parts(info, loader.load(user["id"]) or [])


class TutorEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(TutorProfile, required=True)


class PageInfo(graphene.ObjectType):
    has_next_page = graphene.Boolean(required=True)
    end_cursor = graphene.String()


class TutorConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(TutorEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)


@registry.query
class LearningQuery:
    tutors = graphene.Field(TutorConnection, required=True, subject=graphene.String(), language=graphene.String(),
                            max_rate=graphene.Int(), verified_only=graphene.Boolean(default_value=False),
                            first=graphene.Int(default_value=DEFAULT_FIRST), after=graphene.String())
    tutor = graphene.Field(TutorProfile, user_id=graphene.ID(required=True))
    course = graphene.Field(Course, id=graphene.ID(required=True))
    lesson = graphene.Field(Lesson, id=graphene.ID(required=True))
    my_matching_requests = graphene.List(graphene.NonNull(MatchingRequest), status=graphene.String())

    @staticmethod
    def resolve_tutors(root, info, first, after=None, **filters):
        if first is None:  # an explicit null, inline or from a variable; left out, it is DEFAULT_FIRST
            raise GatewayError("first may not be null: give a number between 1 and {}, or leave it out for {}"
                               .format(MAX_FIRST, DEFAULT_FIRST), "BAD_USER_INPUT")
        if not 1 <= first <= MAX_FIRST:
            raise GatewayError("first must be between 1 and {}".format(MAX_FIRST), "BAD_USER_INPUT")
        page = info.context.call("learning", "search_tutors", dict(plain(filters), limit=first, cursor=after))
        items = page["items"]
        # search answers with whole profiles: cached, they are not fetched again
        _loaders(info).tutor_profiles.cache.update({t["user_id"]: t for t in items})
        expect_tutor_parts(info, [t["user_id"] for t in items])
        return {"edges": [{"cursor": t["cursor"], "node": t} for t in items],
                "page_info": {"has_next_page": page["next_cursor"] is not None, "end_cursor": page["next_cursor"]}}

    @staticmethod
    def resolve_tutor(root, info, user_id):
        return _loaders(info).tutor_profiles.load(user_id)

    @staticmethod
    def resolve_course(root, info, id):
        return _loaders(info).courses.load(id)

    @staticmethod
    def resolve_lesson(root, info, id):
        viewer(info)
        return expect_lesson_parts(info, [info.context.call("learning", "get_lesson", info.context.token, id)])[0]

    @staticmethod
    def resolve_my_matching_requests(root, info, status=None):
        viewer(info, {"student"})
        return info.context.call("learning", "list_matching_requests", info.context.token, status)


class TutorProfileInput(graphene.InputObjectType):
    hourly_rate = graphene.Int(required=True, description="cents an hour")
    currency = graphene.String()
    subjects = graphene.List(graphene.NonNull(graphene.String), required=True)
    languages = graphene.List(graphene.NonNull(graphene.String), required=True)
    bio = graphene.String()
    timezone = graphene.String()


class SlotInput(graphene.InputObjectType):
    day_of_week = graphene.Int(required=True)
    start_time = graphene.String(required=True)
    end_time = graphene.String(required=True)


class CourseInput(graphene.InputObjectType):
    title = graphene.String(required=True)
    description = graphene.String()
    price = graphene.Int(required=True, description="cents per lesson")
    currency = graphene.String()
    duration = graphene.Int(required=True, description="minutes")


class MatchingRequestInput(graphene.InputObjectType):
    subject = graphene.String(required=True)
    budget = graphene.Int(required=True, description="cents an hour")
    currency = graphene.String()
    requirements = graphene.String()


TUTOR, STUDENT = {"tutor"}, {"student"}


@registry.mutation
class LearningMutation:
    set_tutor_profile = graphene.Field(TutorProfile, input=TutorProfileInput(required=True))
    set_availability = graphene.Field(Availability, slots=graphene.List(graphene.NonNull(SlotInput), required=True))
    create_course = graphene.Field(Course, input=CourseInput(required=True))
    book_lesson = graphene.Field(Lesson, course_id=graphene.ID(required=True),
                                 scheduled_at=graphene.String(required=True, description="ISO-8601 with offset"))
    confirm_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True))
    complete_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True))
    cancel_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True), reason=graphene.String())
    create_matching_request = graphene.Field(MatchingRequest, input=MatchingRequestInput(required=True))

    @staticmethod
    def resolve_set_tutor_profile(root, info, input):
        viewer(info, TUTOR)
        return info.context.call("learning", "set_tutor_profile", info.context.token, plain(input))

    @staticmethod
    def resolve_set_availability(root, info, slots):
        viewer(info, TUTOR)
        return info.context.call("learning", "set_availability", info.context.token, {"slots": plain(slots)})

    @staticmethod
    def resolve_create_course(root, info, input):
        viewer(info, TUTOR)
        return info.context.call("learning", "create_course", info.context.token, plain(input))

    @staticmethod
    def resolve_book_lesson(root, info, course_id, scheduled_at):
        viewer(info, STUDENT)
        return info.context.call("learning", "book_lesson", info.context.token,
                                 {"course_id": course_id, "scheduled_at": scheduled_at})

    @staticmethod
    def resolve_confirm_lesson(root, info, lesson_id):
        viewer(info, TUTOR)
        return info.context.call("learning", "confirm_lesson", info.context.token, lesson_id)

    @staticmethod
    def resolve_complete_lesson(root, info, lesson_id):
        viewer(info, TUTOR)
        return info.context.call("learning", "complete_lesson", info.context.token, lesson_id)

    @staticmethod
    def resolve_cancel_lesson(root, info, lesson_id, reason=None):
        viewer(info, TUTOR | STUDENT)
        return info.context.call("learning", "cancel_lesson", info.context.token, lesson_id,
                                 {"reason": reason} if reason is not None else {})

    @staticmethod
    def resolve_create_matching_request(root, info, input):
        viewer(info, STUDENT)
        return info.context.call("learning", "create_matching_request", info.context.token, plain(input))
