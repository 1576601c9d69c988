"""Learning's marketplace through its RPC API, against real PostgreSQL and RabbitMQ."""
import time
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from kombu import Connection, Exchange, Queue

from services.common.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from tests.integration.helpers import (Db, mark_lesson_paid, messages_in, new_user, payment_succeeded, publish, verify_by_mail,
                                       wait_for)
from tests.integration.learning_fixtures import (ALL_WEEK, midday_zone, people, soon,  # noqa: F401
                                                 start_shortly, tutor_with_course)


@pytest.fixture(scope="module")
def learning_db(databases):
    return Db(databases["learning"].url)


class EventTap:
    """A test consumer bound to learning.events, as an operator watches
    events: on an ``operator.`` queue, the exchange only checked, not
    declared (services/common/broker.py)."""

    def __init__(self, amqp_uri):
        self.conn = Connection(amqp_uri)
        exchange = Exchange("learning.events", type="topic", durable=True, passive=True)
        self.queue = Queue("operator.learning-tap-" + uuid.uuid4().hex[:8], exchange, routing_key="#",
                           auto_delete=True)
        self.events = []
        self.consumer = self.conn.Consumer(self.queue, callbacks=[self._got], accept=["json"])
        self.consumer.consume()

    def _got(self, body, message):
        self.events.append(body)
        message.ack()

    def wait_for(self, event_type, **match):
        def seen():
            try:
                self.conn.drain_events(timeout=0.2)
            except Exception:
                pass
            return [e for e in self.events if e["event_type"] == event_type
                    and all(e["data"].get(k) == v for k, v in match.items())]
        return wait_for(seen, timeout=20, interval=0, message=event_type)[0]

    def close(self):
        self.consumer.cancel()
        self.conn.release()


@pytest.fixture
def tap(platform, amqp_uri):
    t = EventTap(amqp_uri)
    yield t
    t.close()


def test_full_path_through_the_rpc_api(platform, rpc, tap, learning_db, amqp_uri):
    # 1. a tutor and a student register with identity and log in
    tutor_in, student_in = new_user(role="tutor"), new_user(role="student")
    for payload in (tutor_in, student_in):
        rpc.identity.register(payload)  # answers only ok: the users come from login
    for payload in (tutor_in, student_in):
        verify_by_mail(rpc, payload["email"])  # which needs the mailed link used first
    tutor_session = rpc.identity.login({"email": tutor_in["email"], "password": tutor_in["password"]})
    student_session = rpc.identity.login({"email": student_in["email"], "password": student_in["password"]})
    tutor_user, tutor_token = tutor_session["user"], tutor_session["access_token"]
    student_user, student_token = student_session["user"], student_session["access_token"]
    wait_for(lambda: learning_db.scalar("SELECT count(*) FROM tutors WHERE user_id = :u", u=tutor_user["id"]),
             message="tutor copy")
    wait_for(lambda: learning_db.scalar("SELECT count(*) FROM students WHERE user_id = :u", u=student_user["id"]),
             message="student copy")

    # 2. the tutor sets rate, subjects and availability, and creates a course
    subject = "topology-" + uuid.uuid4().hex[:6]
    profile = rpc.learning.set_tutor_profile(tutor_token, {
        "hourly_rate": 5500, "currency": "EUR", "subjects": [subject], "languages": ["en", "de"],
        "bio": "Knots and surfaces.", "timezone": midday_zone()})
    assert profile["name"] == "Ada " + tutor_in["last_name"]
    tap.wait_for("tutor_profile_updated", user_id=tutor_user["id"])
    assert len(rpc.learning.set_availability(tutor_token, ALL_WEEK)["slots"]) == 7
    course = rpc.learning.create_course(tutor_token, {"title": "Topology I", "description": "Open sets.",
                                                      "price": 6000, "currency": "EUR", "duration": 45})
    tap.wait_for("course_created", id=course["id"])

    # 3. the student searches, finds the tutor, and books
    found = rpc.learning.search_tutors({"subject": subject, "language": "de", "max_rate": 6000})
    assert [t["user_id"] for t in found["items"]] == [tutor_user["id"]]
    assert rpc.learning.courses_for_tutors([tutor_user["id"]])[tutor_user["id"]][0]["id"] == course["id"]
    lesson = rpc.learning.book_lesson(student_token, {"course_id": course["id"], "scheduled_at": soon(2).isoformat()})
    assert lesson["status"] == "awaiting_payment" and lesson["student_user_id"] == student_user["id"]
    booked = tap.wait_for("lesson_booked", id=lesson["id"])
    assert booked["data"]["price"] == 6000 and booked["data"]["currency"] == "EUR"

    # 4. payment takes the money (its payment_succeeded event) and the lesson goes to the tutor
    mark_lesson_paid(amqp_uri, learning_db, lesson)
    assert tap.wait_for("lesson_paid", id=lesson["id"])["data"]["status"] == "requested"
    start_shortly(learning_db, lesson["id"])
    lesson = rpc.learning.get_lesson(student_token, lesson["id"])

    # 5. the tutor confirms, then completes once the lesson has started
    assert rpc.learning.confirm_lesson(tutor_token, lesson["id"])["status"] == "confirmed"
    tap.wait_for("lesson_confirmed", id=lesson["id"])
    time.sleep(max(0.0, (datetime.fromisoformat(lesson["scheduled_at"]) - datetime.now(timezone.utc))
                   .total_seconds() + 0.2))
    assert rpc.learning.complete_lesson(tutor_token, lesson["id"])["status"] == "completed"
    tap.wait_for("lesson_completed", id=lesson["id"])

    enrolled = rpc.learning.enrolled_courses(student_token, [student_user["id"]])
    assert [c["id"] for c in enrolled[student_user["id"]]] == [course["id"]]
    with pytest.raises(Forbidden):  # another user's courses are private
        rpc.learning.enrolled_courses(tutor_token, [student_user["id"]])
    with pytest.raises(Unauthenticated):
        rpc.learning.enrolled_courses(None, [student_user["id"]])
    mine = rpc.learning.lessons_for_users(student_token, [student_user["id"]], "student")
    assert [(lsn["id"], lsn["status"]) for lsn in mine[student_user["id"]]] == [(lesson["id"], "completed")]

    # a second booking, cancelled by the student with a reason
    later = rpc.learning.book_lesson(student_token, {"course_id": course["id"],
                                                     "scheduled_at": soon(7200).isoformat()})
    rpc.learning.cancel_lesson(student_token, later["id"], {"reason": "exam moved"})
    cancelled = tap.wait_for("lesson_cancelled", id=later["id"])
    assert cancelled["data"]["cancelled_by_role"] == "student"
    assert datetime.fromisoformat(cancelled["data"]["cancelled_at"]) < datetime.fromisoformat(later["scheduled_at"])
    assert cancelled["data"]["cancelled_by_user_id"] == student_user["id"]
    assert cancelled["data"]["cancel_reason"] == "exam moved"

    # and a matching request
    req = rpc.learning.create_matching_request(student_token, {"subject": subject, "budget": 5000,
                                                               "requirements": "Evenings."})
    tap.wait_for("matching_request_created", id=req["id"])


def test_twenty_parallel_bookings_of_one_slot_one_wins(platform, rpc, people, learning_db):
    tutor, course = tutor_with_course(rpc, people)
    students = people.make("student", 20)
    at = soon(3600).isoformat()
    calls = [rpc.learning.book_lesson.call_async(s.token, {"course_id": course["id"], "scheduled_at": at})
             for s in students]
    won, conflicts = [], []
    for call in calls:
        try:
            won.append(call.result())
        except Conflict as exc:
            conflicts.append(exc)
    assert len(won) == 1 and len(conflicts) == 19
    assert all(c.details == {"scheduled_at": ["Already booked."]} for c in conflicts)
    assert learning_db.scalar("SELECT count(*) FROM lessons WHERE course_id = :c", c=course["id"]) == 1

    # an overlapping (not identical) time is refused too; a cancelled lesson frees its slot
    later = (datetime.fromisoformat(at) + timedelta(minutes=30)).isoformat()
    with pytest.raises(Conflict):
        rpc.learning.book_lesson(students[1].token, {"course_id": course["id"], "scheduled_at": later})
    rpc.learning.cancel_lesson(students[0].token if won[0]["student_user_id"] == students[0].user_id
                               else next(s.token for s in students if s.user_id == won[0]["student_user_id"]),
                               won[0]["id"], {"reason": "ill"})
    assert rpc.learning.book_lesson(students[1].token, {"course_id": course["id"], "scheduled_at": at})


def lessons_count(db):
    return db.scalar("SELECT count(*) FROM lessons")


def test_booking_bad_input_writes_nothing(platform, rpc, people, learning_db):
    tutor, course = tutor_with_course(rpc, people)
    student = people.make("student")
    before = lessons_count(learning_db)
    book = rpc.learning.book_lesson
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    # 02:00 in the tutor's own zone, a week ahead: outside the 06:00-22:00 slots
    zone = ZoneInfo(rpc.learning.get_availability(tutor.user_id)["timezone"])
    night = (datetime.now(zone) + timedelta(days=7)).replace(hour=2, minute=0, second=0, microsecond=0).isoformat()
    cases = [
        ({"course_id": course["id"], "scheduled_at": past}, BadInput, "scheduled_at"),
        ({"course_id": course["id"], "scheduled_at": night}, BadInput, "scheduled_at"),
        ({"course_id": course["id"], "scheduled_at": "2030-01-01T12:00:00"}, BadInput, "scheduled_at"),
        ({"course_id": course["id"], "scheduled_at": "tomorrow"}, BadInput, "scheduled_at"),
        ({"course_id": str(uuid.uuid4()), "scheduled_at": soon(3600).isoformat()}, NotFound, "course_id"),
        ({"course_id": "not-a-uuid", "scheduled_at": soon(3600).isoformat()}, BadInput, "course_id"),
        ({"scheduled_at": soon(3600).isoformat()}, BadInput, "course_id"),
        ({"course_id": course["id"], "scheduled_at": soon(3600).isoformat(), "price": 1}, BadInput, "price"),
    ]
    for payload, error, field in cases:
        with pytest.raises(error) as caught:
            book(student.token, payload)
        assert field in caught.value.details, (payload, caught.value.details)
    # a tutor cannot book as a student; no token is no booking
    with pytest.raises(Forbidden):
        book(tutor.token, {"course_id": course["id"], "scheduled_at": soon(3600).isoformat()})
    with pytest.raises(Unauthenticated):
        book("forged.token.value", {"course_id": course["id"], "scheduled_at": soon(3600).isoformat()})
    assert lessons_count(learning_db) == before


def test_course_rules(platform, rpc, people, learning_db):
    tutor, course = tutor_with_course(rpc, people)
    other_tutor = people.make("tutor")
    courses_before = learning_db.scalar("SELECT count(*) FROM courses")
    for payload, field in [({"title": "x", "price": -1, "duration": 60}, "price"),
                           ({"title": "x", "price": 10 ** 9, "duration": 60}, "price"),
                           ({"title": "x", "price": 1.5, "duration": 60}, "price"),
                           ({"title": "x", "price": 100, "duration": 5}, "duration"),
                           ({"title": "", "price": 100, "duration": 60}, "title"),
                           ({"title": "x" * 201, "price": 100, "duration": 60}, "title"),
                           ({"title": "nul\x00", "price": 100, "duration": 60}, "title"),
                           ({"title": "x" * (1024 * 1024), "price": 100, "duration": 60}, "title"),
                           ({"title": "x", "price": 100, "duration": 60, "currency": "euro"}, "currency")]:
        with pytest.raises(BadInput) as caught:
            rpc.learning.create_course(tutor.token, payload)
        assert field in caught.value.details
    assert learning_db.scalar("SELECT count(*) FROM courses") == courses_before
    with pytest.raises(Forbidden):
        rpc.learning.update_course(other_tutor.token, course["id"], {"price": 1})
    with pytest.raises(BadInput):
        rpc.learning.update_course(tutor.token, course["id"], {})
    assert rpc.learning.update_course(tutor.token, course["id"], {"price": 5000})["price"] == 5000
    assert rpc.learning.archive_course(tutor.token, course["id"])["status"] == "archived"
    student = people.make("student")
    with pytest.raises(Conflict):
        rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": soon(3600).isoformat()})


def test_status_rules(platform, rpc, people):
    tutor, course = tutor_with_course(rpc, people)
    other_tutor, _ = tutor_with_course(rpc, people)
    student, stranger = people.make("student"), people.make("student")
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": soon(2).isoformat()})
    with pytest.raises(Conflict) as caught:  # not paid yet
        rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    assert "awaiting_payment" in caught.value.message and "awaits" in caught.value.message
    mark_lesson_paid(people.amqp_uri, people.db, lesson)
    start_shortly(people.db, lesson["id"], 2)
    with pytest.raises(Forbidden):
        rpc.learning.confirm_lesson(other_tutor.token, lesson["id"])
    with pytest.raises(Forbidden):
        rpc.learning.confirm_lesson(student.token, lesson["id"])
    with pytest.raises(Forbidden):
        rpc.learning.cancel_lesson(stranger.token, lesson["id"])
    with pytest.raises(Conflict):
        rpc.learning.complete_lesson(tutor.token, lesson["id"])  # requested, not confirmed
    rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    with pytest.raises(Conflict):
        rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    with pytest.raises(Conflict):
        rpc.learning.complete_lesson(tutor.token, lesson["id"])  # not started yet
    time.sleep(2.5)
    with pytest.raises(Conflict):
        rpc.learning.cancel_lesson(student.token, lesson["id"])  # already started
    rpc.learning.complete_lesson(tutor.token, lesson["id"])
    with pytest.raises(Conflict) as caught:
        rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    assert "completed" in caught.value.message
    with pytest.raises(NotFound):
        rpc.learning.confirm_lesson(tutor.token, str(uuid.uuid4()))
    with pytest.raises(Forbidden):
        rpc.learning.lessons_for_users(stranger.token, [student.user_id], "student")


def test_availability_rules(platform, rpc, people, learning_db):
    tutor = people.make("tutor")
    rpc.learning.set_availability(tutor.token, {"slots": [{"day_of_week": 0, "start_time": "09:00",
                                                           "end_time": "12:00"}]})
    for slots, field in [([{"day_of_week": 1, "start_time": "10:00", "end_time": "09:00"}], "end_time"),
                         ([{"day_of_week": 1, "start_time": "09:00", "end_time": "11:00"},
                           {"day_of_week": 1, "start_time": "10:30", "end_time": "12:00"}], "1"),
                         ([{"day_of_week": 7, "start_time": "09:00", "end_time": "11:00"}], "day_of_week"),
                         ([{"day_of_week": 1, "start_time": "9am", "end_time": "11:00"}], "start_time")]:
        with pytest.raises(BadInput) as caught:
            rpc.learning.set_availability(tutor.token, {"slots": slots})
        assert field in str(caught.value.details)
    # nothing was replaced by the refused calls
    assert rpc.learning.get_availability(tutor.user_id)["slots"] == [
        {"day_of_week": 0, "start_time": "09:00", "end_time": "12:00"}]
    with pytest.raises(BadInput) as caught:
        rpc.learning.set_tutor_profile(tutor.token, {"hourly_rate": 4000, "subjects": ["x"], "languages": ["en"],
                                                     "timezone": "Mars/Olympus"})
    assert "timezone" in caught.value.details


def test_availability_is_read_in_the_tutors_zone(platform, rpc, people):
    """09:00-10:00 on Mondays in New York is 14:00 UTC in winter, 13:00 in summer."""
    tutor = people.make("tutor")
    rpc.learning.set_tutor_profile(tutor.token, {"hourly_rate": 3000, "subjects": ["tz"], "languages": ["en"],
                                                 "timezone": "America/New_York"})
    rpc.learning.set_availability(tutor.token, {"slots": [{"day_of_week": 0, "start_time": "09:00",
                                                           "end_time": "10:00"}]})
    course = rpc.learning.create_course(tutor.token, {"title": "TZ", "price": 100, "duration": 60})
    student = people.make("student")
    # the next January and July Mondays: within a year, as booking requires
    january, july = next_monday_in(1), next_monday_in(7)
    with pytest.raises(BadInput):  # 09:00 UTC is 04:00 in New York
        rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                 "scheduled_at": "{}T09:00:00Z".format(january)})
    assert rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                    "scheduled_at": "{}T14:00:00Z".format(january)})
    assert rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                    "scheduled_at": "{}T13:00:00Z".format(july)})


def next_monday_in(month):
    day = datetime.now(timezone.utc).date() + timedelta(days=1)
    while day.month != month or day.weekday() != 0:
        day += timedelta(days=1)
    return day.isoformat()


def test_bookable_slots_and_the_booking_grid(platform, rpc, people):
    tutor, course = tutor_with_course(rpc, people, duration=60)
    student = people.make("student")
    ask = {"course_id": course["id"], "days": 2, "timezone": "Asia/Kathmandu"}
    before = rpc.learning.bookable_slots(student.token, ask)
    assert before and len(before) <= 500
    starts = [datetime.fromisoformat(s["starts_at"]) for s in before]
    assert all(s.utcoffset() == timedelta(hours=5, minutes=45) and s > datetime.now(timezone.utc) for s in starts)
    assert all(s.astimezone(timezone.utc).minute % 15 == 0 and s.second == 0 for s in starts)
    assert all(datetime.fromisoformat(s["ends_at"]) - datetime.fromisoformat(s["starts_at"]) == timedelta(hours=1)
               for s in before)

    at = starts[8]
    rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": at.isoformat()})
    after = [datetime.fromisoformat(s["starts_at"]) for s in rpc.learning.bookable_slots(student.token, ask)]
    assert at not in after and at - timedelta(minutes=45) not in after and at + timedelta(minutes=45) not in after
    assert at - timedelta(minutes=60) in after and at + timedelta(minutes=60) in after
    assert rpc.learning.bookable_slots(student.token, {"course_id": course["id"]})[0]["starts_at"].endswith("+00:00")

    for payload, field in [({"course_id": course["id"], "days": 61}, "days"),
                           ({"course_id": course["id"], "timezone": "Mars/Olympus"}, "timezone"),
                           ({"course_id": "nope"}, "course_id")]:
        with pytest.raises(BadInput) as caught:
            rpc.learning.bookable_slots(student.token, payload)
        assert list(caught.value.details) == [field]
    with pytest.raises(Unauthenticated):
        rpc.learning.bookable_slots(None, {"course_id": course["id"]})

    off_grid = (at + timedelta(hours=2, minutes=7, seconds=13)).isoformat()
    too_far = (soon(3600) + timedelta(days=366)).isoformat()
    for when in (off_grid, too_far):
        with pytest.raises(BadInput) as caught:
            rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": when})
        assert list(caught.value.details) == ["scheduled_at"]


def test_search_pages_through_500_tutors_without_gaps_or_repeats(platform, rpc, people):
    subject = "paging-" + uuid.uuid4().hex[:6]
    tutors = people.make("tutor", 500)
    calls = [rpc.learning.set_tutor_profile.call_async(t.token, {
        "hourly_rate": 1000 + (i % 17) * 100, "subjects": [subject], "languages": ["en"]})
        for i, t in enumerate(tutors)]
    for call in calls:
        call.result()
    seen, cursor, pages = [], None, 0
    while True:
        page = rpc.learning.search_tutors({"subject": subject, "limit": 37, "cursor": cursor})
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [t["user_id"] for t in seen]
    assert len(ids) == len(set(ids)) == 500 and pages == 14
    assert set(ids) == {t.user_id for t in tutors}
    keys = [(t["hourly_rate"], t["id"]) for t in seen]
    assert keys == sorted(keys)
    assert all(t["hourly_rate"] <= 1500 for t in rpc.learning.search_tutors(
        {"subject": subject, "max_rate": 1500, "limit": 100})["items"])
    with pytest.raises(BadInput) as caught:
        rpc.learning.search_tutors({"subject": subject, "cursor": "garbage"})
    assert "cursor" in caught.value.details
    with pytest.raises(BadInput):
        rpc.learning.search_tutors({"limit": 1000})


def test_verification_is_admin_only(platform, rpc, people):
    tutor, _ = tutor_with_course(rpc, people, subject="verify-" + uuid.uuid4().hex[:6])
    admin = people.make("admin")
    with pytest.raises(Forbidden):
        rpc.learning.verify_tutor(tutor.token, tutor.user_id, {"is_verified": True})
    assert rpc.learning.verify_tutor(admin.token, tutor.user_id, {"is_verified": True})["is_verified"] is True
    profiles = rpc.learning.get_tutor_profiles([tutor.user_id, str(uuid.uuid4())])
    assert profiles[0]["is_verified"] is True and profiles[1] is None


def test_matching_requests_are_the_students_own(platform, rpc, people):
    student, other = people.make("student"), people.make("student")
    req = rpc.learning.create_matching_request(student.token, {"subject": "chemistry", "budget": 3000})
    with pytest.raises(BadInput):
        rpc.learning.create_matching_request(student.token, {"subject": "chemistry", "budget": -5})
    assert [r["id"] for r in rpc.learning.list_matching_requests(student.token)] == [req["id"]]
    assert rpc.learning.list_matching_requests(other.token) == []
    with pytest.raises(Forbidden):
        rpc.learning.close_matching_request(other.token, req["id"])
    assert rpc.learning.close_matching_request(student.token, req["id"])["status"] == "closed"
    with pytest.raises(Conflict):
        rpc.learning.close_matching_request(student.token, req["id"])
    assert rpc.learning.list_matching_requests(student.token, "open") == []


def test_set_tutor_profile_is_a_partial_update(platform, rpc, people):
    tutor = people.make("tutor")
    with pytest.raises(BadInput) as caught:  # no profile yet: rate, subjects and languages are needed
        rpc.learning.set_tutor_profile(tutor.token, {"bio": "Hi."})
    assert set(caught.value.details) == {"hourly_rate", "subjects", "languages"}
    rpc.learning.set_tutor_profile(tutor.token, {"hourly_rate": 4000, "currency": "EUR", "subjects": ["maths"],
                                                 "languages": ["en"], "bio": "Patient.",
                                                 "timezone": "Europe/Berlin"})
    after = rpc.learning.set_tutor_profile(tutor.token, {"hourly_rate": 4500, "subjects": ["physics"],
                                                         "languages": ["de"]})
    assert (after["hourly_rate"], after["subjects"], after["languages"]) == (4500, ["physics"], ["de"])
    assert (after["bio"], after["timezone"], after["currency"]) == ("Patient.", "Europe/Berlin", "EUR")
    assert rpc.learning.set_tutor_profile(tutor.token, {"bio": ""})["hourly_rate"] == 4500
    with pytest.raises(BadInput):  # an update must name something
        rpc.learning.set_tutor_profile(tutor.token, {})
    with pytest.raises(BadInput) as caught:  # still strict
        rpc.learning.set_tutor_profile(tutor.token, {"hourly_rte": 10})
    assert "hourly_rte" in caught.value.details
    assert rpc.learning.get_tutor_profiles([tutor.user_id])[0]["timezone"] == "Europe/Berlin"


def test_profile_currency_must_match_active_courses(platform, rpc, people):
    tutor, course = tutor_with_course(rpc, people)  # EUR profile, EUR course
    with pytest.raises(Conflict) as caught:
        rpc.learning.set_tutor_profile(tutor.token, {"currency": "USD"})
    assert "currency" in caught.value.details and "EUR" in caught.value.message
    assert rpc.learning.get_tutor_profiles([tutor.user_id])[0]["currency"] == "EUR"
    assert rpc.learning.set_tutor_profile(tutor.token, {"currency": "EUR", "bio": "Same."})["bio"] == "Same."
    rpc.learning.archive_course(tutor.token, course["id"])
    assert rpc.learning.set_tutor_profile(tutor.token, {"currency": "USD"})["currency"] == "USD"


def test_update_course_changes_only_what_it_names(platform, rpc, people):
    tutor, course = tutor_with_course(rpc, people)
    rpc.learning.update_course(tutor.token, course["id"], {"description": "Long form."})
    changed = rpc.learning.update_course(tutor.token, course["id"], {"price": 5000})
    assert (changed["price"], changed["description"], changed["currency"], changed["title"], changed["duration"]) == \
        (5000, "Long form.", "EUR", "Algebra", 60)


def test_course_update_and_archive(platform, rpc, people, tap):
    tutor, course = tutor_with_course(rpc, people)
    other_tutor, student, admin = people.make("tutor"), people.make("student"), people.make("admin")
    with pytest.raises(NotFound) as caught:
        rpc.learning.update_course(tutor.token, str(uuid.uuid4()), {"price": 1})
    assert "course_id" in caught.value.details
    with pytest.raises(BadInput) as caught:
        rpc.learning.update_course(tutor.token, course["id"], {"duration": 5, "owner": "me"})
    assert {"duration", "owner"} <= set(caught.value.details)
    with pytest.raises(Forbidden):
        rpc.learning.archive_course(other_tutor.token, course["id"])
    with pytest.raises(Forbidden):
        rpc.learning.update_course(student.token, course["id"], {"price": 1})

    # a partial update: only the named fields change
    updated = rpc.learning.update_course(tutor.token, course["id"], {"title": "Algebra II", "price": 5100})
    assert (updated["title"], updated["price"]) == ("Algebra II", 5100)
    assert {k: updated[k] for k in ("description", "currency", "duration", "status")} == \
        {k: course[k] for k in ("description", "currency", "duration", "status")}
    event = tap.wait_for("course_updated", id=course["id"])
    assert event["version"] == 1 and event["data"]["changes"] == ["price", "title"]
    assert rpc.learning.update_course(admin.token, course["id"], {"duration": 90})["duration"] == 90

    # a lesson booked before archiving stays; new bookings are refused
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                      "scheduled_at": soon(3600).isoformat()})
    archived = rpc.learning.archive_course(tutor.token, course["id"])
    assert archived["status"] == "archived" and archived["title"] == "Algebra II"
    tap.wait_for("course_archived", id=course["id"])
    assert rpc.learning.archive_course(tutor.token, course["id"]) == archived  # again: a no-op
    assert rpc.learning.get_lesson(student.token, lesson["id"])["status"] == "awaiting_payment"
    assert rpc.learning.courses_for_tutors([tutor.user_id])[tutor.user_id] == []
    with pytest.raises(Conflict) as caught:
        rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": soon(7200).isoformat()})
    assert "course_id" in caught.value.details
    with pytest.raises(Conflict):
        rpc.learning.update_course(tutor.token, course["id"], {"price": 1})
    assert len([e for e in tap.events if e["event_type"] == "course_archived"
                and e["data"]["id"] == course["id"]]) == 1


def test_tutors_see_open_matching_requests_that_fit(platform, rpc, people):
    subject = "Fit-" + uuid.uuid4().hex[:6]
    tutor, _ = tutor_with_course(rpc, people, subject=subject)  # 4000 EUR an hour
    students = people.make("student", 2)

    def ask(student, **payload):
        return rpc.learning.create_matching_request(student.token, dict({"subject": subject.upper(), "budget": 4000,
                                                                         "currency": "EUR"}, **payload))
    fitting = [ask(students[0]), ask(students[1], budget=9000, subject=subject.lower()), ask(students[0])]
    ask(students[0], budget=3999)
    ask(students[1], currency="USD", budget=9000)
    ask(students[1], subject="other-" + subject)
    closed = ask(students[1])
    rpc.learning.close_matching_request(students[1].token, closed["id"])

    seen, after = [], None
    while True:
        page = rpc.learning.open_matching_requests(tutor.token, {"first": 2, "after": after})
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == [r["id"] for r in fitting]  # oldest first, no gaps or repeats
    assert rpc.learning.open_matching_requests(people.make("tutor").token)["items"] == []  # no rate yet
    with pytest.raises(Forbidden):
        rpc.learning.open_matching_requests(students[0].token)
    for payload, field in [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "junk"}, "after")]:
        with pytest.raises(BadInput) as caught:
            rpc.learning.open_matching_requests(tutor.token, payload)
        assert field in caught.value.details, payload


def test_search_is_case_insensitive_and_tolerates_near_misses(platform, rpc, people):
    tag = uuid.uuid4().hex[:6]
    tutor = people.make("tutor")
    profile = rpc.learning.set_tutor_profile(tutor.token, {"hourly_rate": 100, "subjects": ["  Maths  ", "Tag" + tag],
                                                           "languages": ["EN", "pt_br"]})
    assert profile["subjects"] == ["maths", "tag" + tag] and profile["languages"] == ["en", "pt-BR"]

    def found(**query):
        return tutor.user_id in [t["user_id"] for t in rpc.learning.search_tutors(
            dict(query, max_rate=100, limit=100))["items"]]
    assert found(subject="maths") and found(subject=" MATHS ") and found(subject="mathz")
    assert found(language="EN") and found(language="pt-BR") and found(subject="TAG" + tag, language="en")
    assert not found(subject="chemistry") and not found(language="fr")
    with pytest.raises(BadInput) as caught:
        rpc.learning.search_tutors({"language": "english"})
    assert "language" in caught.value.details
    names = {lang["code"]: lang["name"] for lang in rpc.learning.list_languages()}
    assert len(names) == 183 and names["pt"] == "Portuguese"
    assert "maths" in rpc.learning.list_subjects()


# Booking and payment: learning's half of the saga, driven by payment's events.

def lesson_events(db, event_type, lesson_id):
    """How many ``event_type`` events learning staged for the lesson (its outbox)."""
    return db.scalar("SELECT count(*) FROM outbox WHERE event_type = :t AND envelope->'data'->>'id' = :id",
                     t=event_type, id=lesson_id)


def handled(db, event_id):
    """True once learning's inbox has taken the event (in the same transaction as its effect)."""
    return db.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=event_id) == 1


def test_a_priced_booking_awaits_payment_and_a_free_one_does_not(platform, rpc, people, tap, learning_db):
    tutor, course = tutor_with_course(rpc, people, price=4500)
    student = people.make("student")
    before = datetime.now(timezone.utc)
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                      "scheduled_at": soon(3600).isoformat()})
    due = datetime.fromisoformat(lesson["payment_due_at"])
    assert lesson["status"] == "awaiting_payment"
    assert before + timedelta(minutes=15) <= due <= datetime.now(timezone.utc) + timedelta(minutes=15)
    assert rpc.learning.get_lesson(student.token, lesson["id"])["payment_due_at"] == lesson["payment_due_at"]
    assert rpc.learning.lessons_for_users(tutor.token, [tutor.user_id], "tutor")[tutor.user_id][0][
        "payment_due_at"] == lesson["payment_due_at"]

    booked = tap.wait_for("lesson_booked", id=lesson["id"])["data"]
    student_copy = learning_db.all("SELECT name, email FROM students WHERE user_id = :u", u=student.user_id)[0]
    tutor_name = learning_db.scalar("SELECT name FROM tutors WHERE user_id = :u", u=tutor.user_id)
    assert (booked["status"], booked["payment_due_at"]) == ("awaiting_payment", lesson["payment_due_at"])
    assert (booked["course_title"], booked["student_name"], booked["student_email"], booked["tutor_name"]) == \
        ("Algebra", student_copy.name, student_copy.email, tutor_name)
    assert (booked["price"], booked["currency"]) == (4500, "EUR")

    # an unpaid lesson holds its slot: another student cannot book over it
    other = people.make("student")
    with pytest.raises(Conflict):
        rpc.learning.book_lesson(other.token, {"course_id": course["id"], "scheduled_at": lesson["scheduled_at"]})
    # either party may cancel it before payment; the slot is free again
    cancelled = rpc.learning.cancel_lesson(tutor.token, lesson["id"], {"reason": "away"})
    assert cancelled["status"] == "cancelled"
    event = tap.wait_for("lesson_cancelled", id=lesson["id"])["data"]
    assert event["cancelled_by_role"] == "tutor" and datetime.fromisoformat(event["cancelled_at"]) <= \
        datetime.now(timezone.utc)
    assert rpc.learning.book_lesson(other.token, {"course_id": course["id"],
                                                  "scheduled_at": lesson["scheduled_at"]})["status"] == \
        "awaiting_payment"

    # a free course needs no payment: its lesson goes to the tutor at once
    free = rpc.learning.create_course(tutor.token, {"title": "Taster", "price": 0, "currency": "EUR",
                                                    "duration": 30})
    taster = rpc.learning.book_lesson(student.token, {"course_id": free["id"], "scheduled_at": soon(7200).isoformat()})
    assert (taster["status"], taster["payment_due_at"]) == ("requested", None)
    event = tap.wait_for("lesson_booked", id=taster["id"])["data"]
    assert (event["status"], event["payment_due_at"], event["price"], event["course_title"]) == \
        ("requested", None, 0, "Taster")
    assert rpc.learning.confirm_lesson(tutor.token, taster["id"])["status"] == "confirmed"


def test_payment_succeeded_moves_the_lesson_to_the_tutor_once(platform, rpc, people, tap, learning_db, amqp_uri):
    tutor, course = tutor_with_course(rpc, people)
    student = people.make("student")
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                      "scheduled_at": soon(3600).isoformat()})
    with pytest.raises(Conflict) as caught:
        rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    assert caught.value.details == {"status": ["Awaiting payment."]}

    envelope = mark_lesson_paid(amqp_uri, learning_db, lesson)
    paid = tap.wait_for("lesson_paid", id=lesson["id"])
    assert paid["version"] == 1 and paid["data"]["status"] == "requested"
    assert paid["data"]["payment_due_at"] == lesson["payment_due_at"]

    # the same event again (a redelivery) is applied once; so is another
    # payment for a lesson that is no longer awaiting one
    publish(amqp_uri, "payment", envelope)
    again = payment_succeeded(lesson["id"], student.user_id, tutor.user_id)
    publish(amqp_uri, "payment", again)
    wait_for(lambda: handled(learning_db, again["event_id"]), message="second payment handled")
    wait_for(lambda: messages_in(amqp_uri, PAYMENT_QUEUE) == 0, message="the duplicate consumed")
    assert learning_db.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=envelope["event_id"]) == 1
    assert lesson_events(learning_db, "lesson_paid", lesson["id"]) == 1
    assert rpc.learning.get_lesson(student.token, lesson["id"])["status"] == "requested"
    assert rpc.learning.confirm_lesson(tutor.token, lesson["id"])["status"] == "confirmed"

    # a payment naming another student is a dead letter, and changes nothing
    other = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                     "scheduled_at": soon(7200).isoformat()})
    forged = payment_succeeded(other["id"], uuid.uuid4(), tutor.user_id)
    publish(amqp_uri, "payment", forged)
    wait_for(lambda: learning_db.scalar("SELECT status FROM failed_events WHERE event_id = :e",
                                        e=forged["event_id"]) == "dead", message="dead letter")
    assert rpc.learning.get_lesson(student.token, other["id"])["status"] == "awaiting_payment"


PAYMENT_QUEUE = "evt-payment-payment_succeeded--learning.on_payment_succeeded"


def test_an_unpaid_lesson_expires_and_frees_its_slot(platform, rpc, people, tap, learning_db, amqp_uri):
    tutor, course = tutor_with_course(rpc, people)
    student, other = people.make("student"), people.make("student")
    at = soon(3600).isoformat()
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"], "scheduled_at": at})
    ask = {"course_id": course["id"], "days": 1}
    assert lesson["scheduled_at"] not in [s["starts_at"] for s in rpc.learning.bookable_slots(other.token, ask)]

    # its time to pay runs out (moved into the past here, as start_shortly moves a start)
    learning_db.execute("UPDATE lessons SET payment_due_at = now() - interval '1 second' WHERE id = :id",
                        id=lesson["id"])
    expired = tap.wait_for("lesson_expired", id=lesson["id"])  # the timer ticks every 5 s
    assert expired["version"] == 1 and expired["data"]["status"] == "expired"
    assert rpc.learning.get_lesson(student.token, lesson["id"])["status"] == "expired"
    assert lesson["scheduled_at"] in [s["starts_at"] for s in rpc.learning.bookable_slots(other.token, ask)]
    assert rpc.learning.book_lesson(other.token, {"course_id": course["id"], "scheduled_at": at})["status"] == \
        "awaiting_payment"
    # nothing moves an expired lesson
    for move, token in ((rpc.learning.confirm_lesson, tutor.token), (rpc.learning.cancel_lesson, student.token)):
        with pytest.raises(Conflict):
            move(token, lesson["id"])

    # a payment that arrives too late leaves it expired (payment refunds it)
    late = payment_succeeded(lesson["id"], student.user_id, tutor.user_id)
    publish(amqp_uri, "payment", late)
    wait_for(lambda: handled(learning_db, late["event_id"]), message="late payment handled")
    assert rpc.learning.get_lesson(student.token, lesson["id"])["status"] == "expired"
    assert lesson_events(learning_db, "lesson_paid", lesson["id"]) == 0
    assert lesson_events(learning_db, "lesson_expired", lesson["id"]) == 1


def test_two_claimers_never_expire_one_lesson_twice(platform, rpc, people, learning_db):
    """Two instances' timers at once: each claims with FOR UPDATE SKIP
    LOCKED, so a lesson the one holds is passed over by the other."""
    from services.common.uow import script_units
    from services.learning import lessons
    from services.learning.events import PUBLISHED
    from services.learning.models import Base

    later = datetime.now(timezone.utc) + timedelta(days=1)  # past every payment_due_at booked today
    with script_units("learning", Base, PUBLISHED) as units:
        # Earlier tests' unpaid lessons first, so the claims below see only this test's.
        with units() as uow:
            while lessons.expire_overdue(uow, later, limit=1000):
                pass
            uow.commit()
        tutor, course = tutor_with_course(rpc, people, duration=15)
        student = people.make("student")
        start = soon(3600)
        mine = [rpc.learning.book_lesson(student.token, {
            "course_id": course["id"], "scheduled_at": (start + timedelta(minutes=15 * i)).isoformat()})["id"]
            for i in range(12)]

        first, second = units(), units()
        claimed_first = [v["id"] for v in lessons.expire_overdue(first, later, limit=5)]
        # the first claim is not committed yet: its rows stay locked
        claimed_second = [v["id"] for v in lessons.expire_overdue(second, later, limit=5)]
        second.commit()
        first.commit()
        with units() as third:
            claimed_third = [v["id"] for v in lessons.expire_overdue(third, later, limit=1000)]
            third.commit()
            assert lessons.expire_overdue(third, later) == []
    assert len(claimed_first) == len(claimed_second) == 5 and len(claimed_third) == 2
    assert not set(claimed_first) & set(claimed_second)
    assert sorted(claimed_first + claimed_second + claimed_third) == sorted(mine)
    for lesson_id in mine:
        assert lesson_events(learning_db, "lesson_expired", lesson_id) == 1
    assert learning_db.scalar("SELECT count(*) FROM lessons WHERE id::text = ANY(:ids) AND status = 'expired'",
                              ids=mine) == 12
