"""Learning's part of the graph: it extends ``User`` with ``tutorProfile``,
``enrolledCourses`` and ``lessons``, and owns tutors, courses and lessons."""
import json

import graphene

from api_gateway.errors import GatewayError, client_fields
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
def language_names(rpc, token, codes):
    """{code: English name} for the codes asked, from one call for the whole list."""
    names = {lang["code"]: lang["name"] for lang in rpc.call("learning", "list_languages")}
    return {code: names.get(code.split("-")[0]) for code in codes}


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
def lesson_pages(rpc, token, keys):
    """Keys are (user id, role, page query as JSON): users asked for with the
    same arguments (every item of one list, as the arguments are the
    field's) share one ``lesson_pages_for_users`` call."""
    groups = {}
    for user_id, role, query in keys:
        groups.setdefault((role, query), []).append(user_id)
    found = {}
    for (role, query), user_ids in groups.items():
        pages = rpc.call("learning", "lesson_pages_for_users", token, user_ids, role, json.loads(query))
        found.update({(u, role, query): pages.get(u) for u in user_ids})
    return found


# The service's enums (services/learning/models.py) as GraphQL enums, so
# clients get the closed set from the schema instead of guessing strings.

class LessonStatus(graphene.Enum):
    """Where a lesson is in its life: awaiting payment (a priced course's), requested, confirmed, then
    completed; or cancelled, or expired when not paid in time."""
    AWAITING_PAYMENT = "awaiting_payment"
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def description(self):
        return {"AWAITING_PAYMENT": "booked, its slot held, until the student pays by paymentDueAt; then REQUESTED",
                "REQUESTED": "booked (and paid, if the course has a price), waiting for the tutor to confirm",
                "CONFIRMED": "the tutor confirmed it: it will take place",
                "COMPLETED": "it took place (marked by the tutor once it started)",
                "CANCELLED": "called off by the tutor or the student; see cancelReason",
                "EXPIRED": "not paid by paymentDueAt: its slot was freed and it will not take place"}[self.name]


class CourseStatus(graphene.Enum):
    """Whether a course can be booked."""
    ACTIVE = "active"
    ARCHIVED = "archived"

    @property
    def description(self):
        return {"ACTIVE": "open for booking, listed under its tutor",
                "ARCHIVED": "no longer bookable or listed; its lessons stay"}[self.name]


class MatchingRequestStatus(graphene.Enum):
    """Whether tutors can still see and answer a matching request."""
    OPEN = "open"
    CLOSED = "closed"

    @property
    def description(self):
        return {"OPEN": "tutors may see it and answer",
                "CLOSED": "withdrawn by the student: tutors no longer see it"}[self.name]


def _enum_value(value):
    """An enum argument as the service's string (graphene hands resolvers the member)."""
    return getattr(value, "value", value)


def connection(items, next_cursor):
    """A page as a connection: ``endCursor`` is the last edge's cursor
    whenever there are edges, also on the last page, so a client can store
    it and ask later for what has been added since."""
    return {"edges": [{"cursor": item["cursor"], "node": item} for item in items],
            "page_info": {"has_next_page": next_cursor is not None,
                          "end_cursor": items[-1]["cursor"] if items else None}}


def check_first(first):
    if first is None:  # an explicit null, inline or from a variable; left out, it is DEFAULT_FIRST
        raise GatewayError("first may not be null: give a number between 1 and {}, or leave it out for {}"
                           .format(MAX_FIRST, DEFAULT_FIRST), "BAD_USER_INPUT",
                           {"first": ["May not be null."]})
    if not 1 <= first <= MAX_FIRST:
        raise GatewayError("first must be between 1 and {}".format(MAX_FIRST), "BAD_USER_INPUT",
                           {"first": ["Must be between 1 and {}.".format(MAX_FIRST)]})


class Slot(graphene.ObjectType):
    """A weekly recurring time a tutor is available, in the tutor's time zone."""
    day_of_week = graphene.Int(required=True, description="0 is Monday")
    start_time = graphene.String(required=True, description="HH:MM in the tutor's time zone")
    end_time = graphene.String(required=True, description="HH:MM in the tutor's time zone, after startTime")


class BookableSlot(graphene.ObjectType):
    """A time a course's lesson can be booked (docs/graphql.md, "Bookable slots")."""
    starts_at = graphene.String(required=True, description="ISO-8601 with the offset of the asked time zone; "
                                                           "pass it as bookLesson's scheduledAt")
    ends_at = graphene.String(required=True, description="ISO-8601 with the same offset: startsAt plus the "
                                                         "course's duration")


class Availability(graphene.ObjectType):
    """A tutor's weekly availability, set as a whole with setAvailability."""
    timezone = graphene.String(required=True, description="the tutor profile's time zone, which the slots' times are in")
    slots = graphene.List(graphene.NonNull(Slot), required=True, description="the tutor's whole week of slots")


class Course(graphene.ObjectType):
    """A lesson a tutor offers at a price and duration; students book lessons of it. Public."""
    id = graphene.ID(required=True, description="the course's id, for course(id:) and bookLesson")
    title = graphene.String(required=True, description="the course's name, up to 200 characters")
    description = graphene.String(required=True, description="what the course covers; empty when not given")
    price = graphene.Int(required=True, description="cents per lesson")
    currency = graphene.String(required=True, description="ISO 4217 code of price, e.g. USD")
    duration = graphene.Int(required=True, description="minutes")
    status = graphene.Field(CourseStatus, required=True, description="ACTIVE: bookable; ARCHIVED: no longer")
    tutor = graphene.Field(lambda: TutorProfile, description="the tutor who teaches it")

    @staticmethod
    def resolve_tutor(course, info):
        return _loaders(info).tutor_profiles.load(course["tutor_user_id"])


class Language(graphene.ObjectType):
    """A language a tutor may teach in: its code and English name."""
    code = graphene.String(required=True, description="ISO 639-1, with an optional region: en, pt-BR")
    name = graphene.String(description="English name; null for a code stored before codes were checked")


class TutorProfile(graphene.ObjectType):
    """A tutor's public teaching profile, set with setTutorProfile; anyone may read it."""
    id = graphene.ID(required=True, description="the profile's own id; not the user's (see userId)")
    user_id = graphene.ID(required=True, description="the tutor's user id, for tutor(userId:) and User.id")
    name = graphene.String(required=True, description="the tutor's display name")
    hourly_rate = graphene.Int(description="cents an hour")
    currency = graphene.String(required=True, description="ISO 4217 code of hourlyRate, e.g. USD")
    subjects = graphene.List(graphene.NonNull(graphene.String), required=True,
                             description="subjects taught, trimmed and case-folded (\"maths\")")
    languages = graphene.List(graphene.NonNull(graphene.String), required=True,
                              description="ISO 639-1 codes taught in, optionally with a region (en, pt-BR)")
    spoken_languages = graphene.List(graphene.NonNull(Language), required=True,
                                     description="languages' codes with their English names")
    bio = graphene.String(required=True, description=(
        "The tutor's teaching profile text, shown in tutor search; set with setTutorProfile. "
        "Not the account's \"about me\", which is User.bio."))
    timezone = graphene.String(required=True, description="the tutor's time zone name (UTC unless set), e.g. Europe/Paris")
    is_verified = graphene.Boolean(required=True, description="true once the platform has verified the tutor")
    user = graphene.Field(registry.user_type, description="identity's user (needs a signed-in caller)")
    courses = graphene.List(graphene.NonNull(Course), required=True, description="the tutor's active courses")
    availability = graphene.Field(Availability, description="the tutor's weekly slots; null if never set")

    @staticmethod
    def resolve_spoken_languages(tutor, info):
        loader = _loaders(info).language_names
        loader.expect(tutor["languages"])
        return [{"code": code, "name": loader.load(code)} for code in tutor["languages"]]

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
    """One booked lesson of a course, between its tutor and a student; seen by those two and admins."""
    id = graphene.ID(required=True, description="the lesson's id, for lesson(id:) and the lesson mutations")
    scheduled_at = graphene.String(required=True, description="ISO-8601, UTC")
    ends_at = graphene.String(required=True, description="ISO-8601, UTC: scheduledAt plus the course's duration")
    status = graphene.Field(LessonStatus, required=True, description="awaiting payment, requested, confirmed, "
                                                                      "completed, cancelled or expired")
    payment_due_at = graphene.String(description="ISO-8601, UTC: when the lesson expires if it is not paid by then; "
                                                 "null for a free course's lesson, which needs no payment")
    meeting_url = graphene.String(description="the lesson's video room, once the tutor has confirmed it; null "
                                              "before (the same as videoSession.meetingUrl, which also says when "
                                              "the call started and ended)")
    cancel_reason = graphene.String(description="why it was cancelled, as given by who cancelled it; "
                                                "null or empty when not cancelled or no reason was given")
    cancelled_by_user_id = graphene.ID(description="the user id of who cancelled it; null unless cancelled")
    course = graphene.Field(Course, description="the course booked")
    tutor = graphene.Field(TutorProfile, description="the course's tutor")
    student = graphene.Field(registry.user_type, description="the student who booked it")

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
    return registry.expect_extended(Lesson, info, lessons)  # and the fields other modules add (Lesson.payment)


def expect_course_parts(info, courses):
    expect_tutor_parts(info, (c["tutor_user_id"] for c in courses))
    return courses


class MatchingRequest(graphene.ObjectType):
    """A student's request for a tutor in a subject within a budget."""
    id = graphene.ID(required=True, description="the request's id, for closeMatchingRequest")
    subject = graphene.String(required=True, description="the subject a tutor is wanted for")
    budget = graphene.Int(required=True, description="cents an hour")
    currency = graphene.String(required=True, description="ISO 4217 code of budget, e.g. USD")
    requirements = graphene.String(required=True, description="the student's free-text wishes; empty when none")
    status = graphene.Field(MatchingRequestStatus, required=True, description="OPEN or CLOSED")
    created_at = graphene.String(description="ISO-8601 with offset: when the student made the request")


@registry.user_fields
class UserLearningFields:
    """The fields learning adds to identity's ``User``."""
    tutor_profile = graphene.Field(TutorProfile, description="the user's tutor profile; null for a non-tutor "
                                                         "or a tutor who has not set one yet")
    enrolled_courses = graphene.List(graphene.NonNull(Course), description="the user themself and admins only")
    lessons = graphene.Field(
        lambda: LessonConnection,
        status=graphene.Argument(LessonStatus, description="only lessons in this status"),
        from_=graphene.String(name="from", description="ISO-8601 with offset: lessons scheduled at or after"),
        to=graphene.String(description="ISO-8601 with offset: lessons scheduled before"),
        first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
        after=graphene.String(description="`endCursor` of the page before"),
        description="the user's lessons as a student, or as a tutor for a tutor, oldest first; "
                    "the user themself and admins only")

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
    def resolve_lessons(user, info, first, after=None, status=None, from_=None, to=None):
        self_or_admin(info, user["id"])
        check_first(first)
        if user["role"] not in ("student", "tutor"):
            return connection([], None)
        query = plain({"status": _enum_value(status), "from": from_, "to": to, "cursor": after, "limit": first})
        with client_fields(cursor="after", limit="first"):
            page = _loaders(info).lesson_pages.load((user["id"], user["role"], json.dumps(query, sort_keys=True)))
        return connection(expect_lesson_parts(info, page["items"]), page["next_cursor"])


class PageInfo(graphene.ObjectType):
    """Where a page of a connection stands: whether more follow, and the cursor to them."""
    has_next_page = graphene.Boolean(required=True, description="true when another page follows this one")
    end_cursor = graphene.String(description="the last edge's cursor, also on the last page; "
                                             "null only for an empty page")


def connection_type(node, noun, plural, page, name=None):
    """``<Node>Connection`` (and its ``<Node>Edge``): a cursor-paged list of
    ``node``, shaped as every list of the graph is (docs/graphql.md,
    "Paging"); ``page`` describes a page, e.g. "A page of a user's lessons,
    oldest first."; ``name`` when the types are not named after the node."""
    name = name or node._meta.name
    edge = type(name + "Edge", (graphene.ObjectType,), {
        "__doc__": "One {} on a page, with the cursor that pages after it.".format(noun),
        "cursor": graphene.String(required=True, description="pass as `after` for the {} after this one".format(plural)),
        "node": graphene.Field(node, required=True, description="the " + noun)})
    return type(name + "Connection", (graphene.ObjectType,), {
        "__doc__": page,
        "edges": graphene.List(graphene.NonNull(edge), required=True, description="this page's " + plural),
        "page_info": graphene.Field(PageInfo, required=True, description="whether more follow, and the cursor to them")})


TutorConnection = connection_type(TutorProfile, "tutor", "tutors", "A page of tutor search results.", name="Tutor")
LessonConnection = connection_type(Lesson, "lesson", "lessons", "A page of a user's lessons, oldest first.")
MatchingRequestConnection = connection_type(MatchingRequest, "matching request", "matching requests",
                                            "A page of open matching requests, oldest first.")


@registry.query
class LearningQuery:
    tutors = graphene.Field(
        TutorConnection, required=True,
        subject=graphene.String(description="only tutors teaching this subject, any case; with no exact match, "
                                            "near misses (\"mathz\" finds maths)"),
        language=graphene.String(description="only tutors teaching in this ISO 639-1 code, any case; exact "
                                             "(en does not match en-GB)"),
        max_rate=graphene.Int(description="only tutors whose hourlyRate is at most this many cents an hour"),
        verified_only=graphene.Boolean(default_value=False, description="true: only verified tutors"),
        first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
        after=graphene.String(description="`endCursor` of the page before"),
        description="Search tutors, a page at a time. Public: no sign-in needed.")
    tutor = graphene.Field(TutorProfile, user_id=graphene.ID(required=True, description="the tutor's user id"),
                           description="A tutor's profile by user id; public. Unknown: null with NOT_FOUND "
                                       "naming userId.")
    course = graphene.Field(Course, id=graphene.ID(required=True, description="the course's id"),
                            description="A course by id; public. Unknown: null with NOT_FOUND naming id.")
    lesson = graphene.Field(Lesson, id=graphene.ID(required=True, description="the lesson's id"),
                            description="A lesson by id, for its tutor, its student or an admin. Unknown: null "
                                        "with NOT_FOUND naming id.")
    my_matching_requests = graphene.List(graphene.NonNull(MatchingRequest),
                                         status=graphene.Argument(MatchingRequestStatus,
                                                                  description="only requests in this status; "
                                                                              "null or left out: all"),
                                         description="The signed-in student's own matching requests. Students only.")
    bookable_slots = graphene.List(
        graphene.NonNull(BookableSlot), required=True,
        course_id=graphene.ID(required=True, description="the course to book (its duration sets the slots' length)"),
        days=graphene.Int(default_value=14, description="how many days ahead to look, 1 to 60"),
        timezone=graphene.String(default_value="UTC", description="IANA time zone to answer in, e.g. "
                                                                  "Europe/Berlin; the student's own"),
        description="When a lesson of the course can be booked in the next `days`: the tutor's weekly "
                    "availability (in the tutor's zone, across daylight saving) less lessons already booked, "
                    "starting on the quarter hour, in the future, earliest first, at most 500. Any signed-in "
                    "user; an archived course is a CONFLICT naming courseId.")
    languages = graphene.List(graphene.NonNull(Language), required=True,
                              description="the ISO 639-1 codes a tutor profile may name, with English names")
    subjects = graphene.List(graphene.NonNull(graphene.String), required=True,
                             description="subjects to offer as choices; tutors may also type others")

    @staticmethod
    def resolve_bookable_slots(root, info, course_id, days, timezone):
        viewer(info)
        # the payload's keys are the arguments' names (camelCased), so errors name them
        return info.context.call("learning", "bookable_slots", info.context.token,
                                 plain({"course_id": course_id, "days": days, "timezone": timezone}))

    @staticmethod
    def resolve_languages(root, info):
        return info.context.call("learning", "list_languages")

    @staticmethod
    def resolve_subjects(root, info):
        return info.context.call("learning", "list_subjects")

    @staticmethod
    def resolve_tutors(root, info, first, after=None, **filters):
        check_first(first)
        with client_fields(cursor="after", limit="first"):  # the other filters keep their names (camelCased)
            page = info.context.call("learning", "search_tutors", dict(plain(filters), limit=first, cursor=after))
        items = page["items"]
        # search answers with whole profiles: cached, they are not fetched again
        _loaders(info).tutor_profiles.cache.update({t["user_id"]: t for t in items})
        expect_tutor_parts(info, [t["user_id"] for t in items])
        return connection(items, page["next_cursor"])

    open_matching_requests = graphene.Field(
        MatchingRequestConnection, required=True,
        first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
        after=graphene.String(description="`endCursor` of the page before"),
        description="Open matching requests the signed-in tutor could take: a subject among theirs (any case) "
                    "and a budget in their currency at or above their hourly rate; oldest first. Tutors only.")

    @staticmethod
    def resolve_open_matching_requests(root, info, first, after=None):
        viewer(info, {"tutor"})
        if first is None:  # an explicit null; left out, it is DEFAULT_FIRST
            raise GatewayError("first may not be null: give a number between 1 and {}, or leave it out for {}"
                               .format(MAX_FIRST, DEFAULT_FIRST), "BAD_USER_INPUT", {"first": ["May not be null."]})
        # the RPC's payload keys are these arguments' names, so its errors name them
        page = info.context.call("learning", "open_matching_requests", info.context.token,
                                 plain({"first": first, "after": after}))
        return connection(page["items"], page["next_cursor"])

    # One rule for a single-item root query (docs/graphql.md, "Not found"):
    # an unknown id answers null with a NOT_FOUND error naming the argument.

    @staticmethod
    def resolve_tutor(root, info, user_id):
        with client_fields(user_ids="userId"):
            tutor = _loaders(info).tutor_profiles.load(user_id)
        if tutor is None:
            raise GatewayError("no such tutor", "NOT_FOUND", {"userId": ["Unknown tutor."]})
        return tutor

    @staticmethod
    def resolve_course(root, info, id):
        with client_fields(course_ids="id"):
            course = _loaders(info).courses.load(id)
        if course is None:
            raise GatewayError("no such course", "NOT_FOUND", {"id": ["Unknown course."]})
        return course

    @staticmethod
    def resolve_lesson(root, info, id):
        viewer(info)
        with client_fields(lesson_id="id"):
            lesson = info.context.call("learning", "get_lesson", info.context.token, id)
        return expect_lesson_parts(info, [lesson])[0]

    @staticmethod
    def resolve_my_matching_requests(root, info, status=None):
        viewer(info, {"student"})
        return info.context.call("learning", "list_matching_requests", info.context.token, _enum_value(status))


class TutorProfileInput(graphene.InputObjectType):
    """A partial update: only the fields given change (docs/graphql.md,
    "Partial updates"); a tutor's first call must give hourlyRate, subjects
    and languages."""
    hourly_rate = graphene.Int(description="cents an hour; required when the profile is first set")
    currency = graphene.String(description="must match the currency of your active courses")
    subjects = graphene.List(graphene.NonNull(graphene.String), description="required when the profile is first set")
    languages = graphene.List(graphene.NonNull(graphene.String), description="required when the profile is first set")
    bio = graphene.String(description="The teaching profile text (TutorProfile.bio); not the account's User.bio.")
    timezone = graphene.String(description="a time zone name such as Europe/Paris, up to 64 characters; UTC when "
                                           "never set")


class SlotInput(graphene.InputObjectType):
    """A weekly slot a tutor is available, in the tutor profile's time zone."""
    day_of_week = graphene.Int(required=True, description="0 is Monday, to 6 Sunday")
    start_time = graphene.String(required=True, description="HH:MM in the tutor's time zone")
    end_time = graphene.String(required=True, description="HH:MM in the tutor's time zone, after startTime")


class CourseInput(graphene.InputObjectType):
    """A new course, for createCourse."""
    title = graphene.String(required=True, description="the course's name, up to 200 characters")
    description = graphene.String(description="what the course covers, up to 5000 characters; empty when left out")
    price = graphene.Int(required=True, description="cents per lesson")
    currency = graphene.String(description="ISO 4217 code in capitals; USD when left out")
    duration = graphene.Int(required=True, description="minutes")


class CourseUpdateInput(graphene.InputObjectType):
    """The course fields to change: only those given change, at least one."""
    title = graphene.String(description="the course's name")
    description = graphene.String(description="what the course covers")
    price = graphene.Int(description="cents per lesson")
    currency = graphene.String(description="ISO 4217 code, e.g. EUR")
    duration = graphene.Int(description="minutes per lesson, 15 to 480")


class MatchingRequestInput(graphene.InputObjectType):
    """A new matching request, for createMatchingRequest."""
    subject = graphene.String(required=True, description="the subject a tutor is wanted for, up to 100 characters")
    budget = graphene.Int(required=True, description="cents an hour")
    currency = graphene.String(description="ISO 4217 code in capitals; USD when left out")
    requirements = graphene.String(description="free-text wishes, up to 5000 characters; empty when left out")


TUTOR, STUDENT = {"tutor"}, {"student"}


@registry.mutation
class LearningMutation:
    set_tutor_profile = graphene.Field(
        TutorProfile, input=TutorProfileInput(required=True, description="the profile fields to set"),
        description="Create or change the signed-in tutor's profile; only the fields given change. Tutors only.")
    set_availability = graphene.Field(
        Availability, slots=graphene.List(graphene.NonNull(SlotInput), required=True,
                                          description="the whole week: replaces every slot set before"),
        description="Replace the signed-in tutor's weekly availability. Tutors only.")
    create_course = graphene.Field(Course, input=CourseInput(required=True, description="the new course"),
                                   description="Create a course taught by the signed-in tutor. Tutors only.")
    book_lesson = graphene.Field(Lesson, course_id=graphene.ID(required=True, description="the course to book"),
                                 scheduled_at=graphene.String(required=True, description=(
                                     "ISO-8601 with offset: the start, in the future, on a quarter hour "
                                     "(:00, :15, :30 or :45) and at most a year ahead")),
                                 description="Book a lesson of an active course at a time; a priced course's "
                                             "starts AWAITING_PAYMENT (its slot held until paymentDueAt), a free "
                                             "one's REQUESTED until the tutor confirms. A double-booking is a "
                                             "CONFLICT. Students only.")
    confirm_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True, description="the lesson to confirm"),
                                    description="Confirm a requested (so paid) lesson of one's own; an unpaid one "
                                                "is a CONFLICT. Tutors only.")
    complete_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True, description="the lesson to complete"),
                                     description="Mark a confirmed lesson of one's own completed once it has "
                                                 "started. Tutors only.")
    cancel_lesson = graphene.Field(Lesson, lesson_id=graphene.ID(required=True, description="the lesson to cancel"),
                                   reason=graphene.String(description="why, up to 1000 characters; optional"),
                                   description="Cancel a lesson one is the tutor or student of. Tutors and "
                                               "students.")
    create_matching_request = graphene.Field(
        MatchingRequest, input=MatchingRequestInput(required=True, description="the new request"),
        description="Ask for a tutor in a subject within a budget; it starts OPEN. Students only.")
    update_course = graphene.Field(
        Course, course_id=graphene.ID(required=True, description="the course to change"),
        input=CourseUpdateInput(required=True, description="the fields to change"),
        description="Change some of a course's fields; the others keep their values. The course's tutor or an "
                    "admin; an archived course cannot be changed (CONFLICT).")
    archive_course = graphene.Field(
        Course, course_id=graphene.ID(required=True, description="the course to archive"),
        description="Archive a course: it can no longer be booked and leaves tutor course lists; its lessons "
                    "stay. Archiving an archived course changes nothing. The course's tutor or an admin.")
    close_matching_request = graphene.Field(
        MatchingRequest,
        request_id=graphene.ID(required=True, description="the matching request to close"),
        description="Close (withdraw) one's own open matching request, so tutors no longer see it. Students "
                    "only; closing a closed request is a CONFLICT.")

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
    def resolve_update_course(root, info, course_id, input):
        viewer(info, TUTOR | {"admin"})
        return info.context.call("learning", "update_course", info.context.token, course_id, plain(input))

    @staticmethod
    def resolve_archive_course(root, info, course_id):
        viewer(info, TUTOR | {"admin"})
        return info.context.call("learning", "archive_course", info.context.token, course_id)

    @staticmethod
    def resolve_close_matching_request(root, info, request_id):
        viewer(info, STUDENT)
        return info.context.call("learning", "close_matching_request", info.context.token, request_id)

    @staticmethod
    def resolve_create_matching_request(root, info, input):
        viewer(info, STUDENT)
        return info.context.call("learning", "create_matching_request", info.context.token, plain(input))
