"""Communication's notifications through the running platform: every event
that tells someone something makes exactly one notification for the right
person, however often it is delivered; preferences switch a type off and
on; the notification list, its unread count and marking read; reminders
before a lesson; notices of messages left unread (tests/conftest.py sets
UNREAD_NOTICE_MINUTES to 0.05 and the timer to one second)."""
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from services.common.auth import issue_access_token
from tests.integration.helpers import Db, mail_to, mails_to, make_envelope, publish, text_of, user_snapshot, wait_for

SETTLE = 1.5  # seconds for a second delivery of an event to be (not) applied


class User:
    def __init__(self, snap):
        self.user_id, self.email = snap["user_id"], snap["email"]
        self.name = "{} {}".format(snap["first_name"], snap["last_name"])
        self.token = issue_access_token(snap["user_id"], snap["role"], uuid.uuid4())


@pytest.fixture(scope="module")
def db(databases):
    return Db(databases["communication"].url)


def make_user(amqp_uri, db, role, first_name):
    snap = user_snapshot(role=role, first_name=first_name, last_name=uuid.uuid4().hex[:8].title())
    publish(amqp_uri, "identity", make_envelope("user_created", snap))
    wait_for(lambda: db.scalar("SELECT count(*) FROM people WHERE user_id = :u", u=snap["user_id"]),
             message="communication's copy of {}".format(first_name))
    return User(snap)


@pytest.fixture
def pair(platform, amqp_uri, db):
    """A student and a tutor of their own for each test."""
    return make_user(amqp_uri, db, "student", "Ada"), make_user(amqp_uri, db, "tutor", "Alan")


def notifications_of(db, event_id):
    return db.all("SELECT user_id::text AS user_id, type, title, content, data FROM notifications "
                  "WHERE source_event_id = :e ORDER BY user_id", e=str(event_id))


def consumed(db, event_id):
    return db.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=str(event_id))


def publish_twice(amqp_uri, db, source, envelope, expected):
    """Publish ``envelope`` twice as ``source``; wait for ``expected``
    notifications of it, give the second delivery time, and return them."""
    publish(amqp_uri, source, envelope)
    publish(amqp_uri, source, envelope)
    wait_for(lambda: len(notifications_of(db, envelope["event_id"])) >= expected, timeout=30,
             message="{} notification(s) of {}".format(expected, envelope["event_type"]))
    eventlet.sleep(SETTLE)
    rows = notifications_of(db, envelope["event_id"])
    assert len(rows) == expected, rows
    assert db.scalar("SELECT count(*) FROM failed_events WHERE event_id = :e", e=envelope["event_id"]) == 0
    return rows


def start_in(minutes):
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).replace(microsecond=0)


def lesson_data(student, tutor, status="confirmed", start=None, lesson_id=None, **extra):
    start = start or start_in(3 * 24 * 60)
    data = {"id": str(lesson_id or uuid.uuid4()), "course_id": str(uuid.uuid4()), "tutor_id": str(uuid.uuid4()),
            "student_id": str(uuid.uuid4()), "tutor_user_id": tutor.user_id, "student_user_id": student.user_id,
            "scheduled_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "status": status, "meeting_url": None, "cancelled_by_user_id": None, "cancel_reason": None,
            "payment_due_at": None}
    data.update(extra)
    return data


def booking(student, tutor, price=4500, start=None, lesson_id=None):
    """A ``lesson_booked`` as learning publishes it: priced (awaiting payment) or free (requested)."""
    due = (datetime.now(timezone.utc) + timedelta(minutes=15)).replace(second=0, microsecond=0)
    return make_envelope("lesson_booked", lesson_data(
        student, tutor, status="awaiting_payment" if price else "requested", start=start, lesson_id=lesson_id,
        payment_due_at=due.isoformat() if price else None, price=price, currency="EUR",
        course_title="Algebra I", student_name=student.name, student_email=student.email,
        tutor_name=tutor.name), producer="learning")


def booked(amqp_uri, db, student, tutor, price=4500, start=None):
    """A lesson communication knows of (its lesson_booked consumed): its data."""
    env = booking(student, tutor, price, start)
    publish(amqp_uri, "learning", env)
    wait_for(lambda: db.scalar("SELECT count(*) FROM lesson_schedule WHERE lesson_id = :l", l=env["data"]["id"]),
             message="lesson_schedule row")
    wait_for(lambda: consumed(db, env["event_id"]), message="lesson_booked consumed")
    return env["data"]


def lesson_event(event_type, lesson, status, **extra):
    data = dict(lesson, status=status, **extra)
    for key in ("price", "currency", "course_title", "student_name", "student_email", "tutor_name"):
        data.pop(key, None)  # lesson_booked only
    return make_envelope(event_type, data, producer="learning")


def payment_data(lesson, **extra):
    data = {"payment_id": str(uuid.uuid4()), "lesson_id": lesson["id"], "student_user_id": lesson["student_user_id"],
            "tutor_user_id": lesson["tutor_user_id"], "amount": 4500, "platform_fee": 675, "currency": "EUR",
            "stripe_payment_intent_id": "pi_test_" + uuid.uuid4().hex[:24]}
    data.update(extra)
    return data


# Each event, delivered twice, tells the right person once ---------------------------------

def test_a_new_user_is_welcomed_once(platform, amqp_uri, db):
    snap = user_snapshot(first_name="Grace")
    (row,) = publish_twice(amqp_uri, db, "identity", make_envelope("user_created", snap), 1)
    assert (row.user_id, row.type, row.title) == (snap["user_id"], "welcome", "Welcome to the tutoring marketplace")
    assert row.content.startswith("Hi Grace,")


def test_a_priced_booking_tells_the_student_to_pay(amqp_uri, db, pair):
    student, tutor = pair
    env = booking(student, tutor, price=4500)
    (row,) = publish_twice(amqp_uri, db, "learning", env, 1)
    assert (row.user_id, row.type, row.title) == (student.user_id, "lesson_booked", "Lesson booked")
    assert "pay EUR 45.00 by" in row.content and "with {}".format(tutor.name) in row.content
    assert row.data == {"lesson_id": env["data"]["id"]}


def test_a_free_booking_asks_the_tutor(amqp_uri, db, pair):
    student, tutor = pair
    rows = {r.user_id: r for r in publish_twice(amqp_uri, db, "learning", booking(student, tutor, price=0), 2)}
    assert rows[student.user_id].content.endswith("waiting for the tutor to confirm.")
    assert rows[tutor.user_id].title == "New booking request"
    assert student.name in rows[tutor.user_id].content


def test_a_paid_lesson_goes_to_the_tutor_to_confirm(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor)
    rows = {r.user_id: r for r in publish_twice(amqp_uri, db, "learning",
                                                lesson_event("lesson_paid", lesson, "requested"), 2)}
    assert rows[tutor.user_id].title == "New booking to confirm"
    assert rows[student.user_id].title == "Payment received, waiting for the tutor"


def test_a_confirmation_names_the_time(amqp_uri, db, pair):
    student, tutor = pair
    start = start_in(3 * 24 * 60)
    lesson = booked(amqp_uri, db, student, tutor, price=0, start=start)
    (row,) = publish_twice(amqp_uri, db, "learning", lesson_event("lesson_confirmed", lesson, "confirmed"), 1)
    assert row.user_id == student.user_id
    assert row.title == "Lesson confirmed for {:%a} {} {:%b}, {:%H:%M} UTC".format(start, start.day, start, start)


@pytest.mark.parametrize("by", ["student", "tutor"])
def test_a_cancellation_tells_the_other_party_who_and_why(amqp_uri, db, pair, by):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor)
    canceller, other = (student, tutor) if by == "student" else (tutor, student)
    env = lesson_event("lesson_cancelled", lesson, "cancelled", cancelled_by_role=by,
                       cancelled_by_user_id=canceller.user_id, cancel_reason="Something came up",
                       cancelled_at=datetime.now(timezone.utc).isoformat())
    (row,) = publish_twice(amqp_uri, db, "learning", env, 1)
    assert (row.user_id, row.type, row.title) == (other.user_id, "lesson_cancelled",
                                                  "Lesson cancelled by " + canceller.name)
    assert row.content.startswith("Lesson cancelled by {}: Something came up.".format(canceller.name))


def test_a_completed_lesson_asks_the_student_for_a_review(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor, price=0)
    (row,) = publish_twice(amqp_uri, db, "learning", lesson_event("lesson_completed", lesson, "completed"), 1)
    assert row.user_id == student.user_id and row.type == "lesson_completed" and "review" in row.content


def test_an_expired_lesson_tells_the_student_the_slot_is_free(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor)
    (row,) = publish_twice(amqp_uri, db, "learning", lesson_event("lesson_expired", lesson, "expired"), 1)
    assert (row.user_id, row.title) == (student.user_id, "Lesson not paid in time")
    # Mailed by default, to the address identity's event gave: it arrives at the SMTP server, once.
    mail = mail_to(student.email, "Lesson not paid in time")
    assert "slot was released" in text_of(mail)
    assert "<html" in text_of(mail, "html").lower()
    wait_for(lambda: db.scalar("SELECT status FROM mail_outbox WHERE to_address = :a AND kind = 'lesson_expired'",
                               a=student.email) == "sent", message="the expiry mail marked sent")
    assert len(mails_to(student.email, "Lesson not paid in time")) == 1


def test_payments_tell_the_student(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor)
    paid = make_envelope("payment_succeeded", payment_data(
        lesson, succeeded_at=datetime.now(timezone.utc).isoformat()), producer="payment")
    (row,) = publish_twice(amqp_uri, db, "payment", paid, 1)
    assert (row.user_id, row.title) == (student.user_id, "Payment succeeded") and "EUR 45.00" in row.content
    failed = make_envelope("payment_failed", payment_data(
        lesson, failure_code="card_declined", decline_code="insufficient_funds",
        message="Your card has insufficient funds."), producer="payment")
    (row,) = publish_twice(amqp_uri, db, "payment", failed, 1)
    assert (row.user_id, row.title) == (student.user_id, "Payment failed")
    assert "Your card has insufficient funds." in row.content


def test_a_refund_tells_the_student_how_much_and_why(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor)
    env = make_envelope("refund_succeeded", {
        "refund_id": str(uuid.uuid4()), "payment_id": str(uuid.uuid4()), "lesson_id": lesson["id"],
        "student_user_id": student.user_id, "tutor_user_id": tutor.user_id, "amount": 2250, "currency": "EUR",
        "kind": "policy", "reason": "cancelled 12 hours before the start: half refunded",
        "amount_refunded": 2250}, producer="payment")
    (row,) = publish_twice(amqp_uri, db, "payment", env, 1)
    assert (row.user_id, row.title) == (student.user_id, "Refund of EUR 22.50")
    assert "half refunded" in row.content


def test_a_payout_tells_the_tutor_how_much_for_which_week(amqp_uri, db, pair):
    _, tutor = pair
    env = make_envelope("payout_paid", {
        "payout_id": str(uuid.uuid4()), "tutor_user_id": tutor.user_id, "amount": 382500, "currency": "EUR",
        "period_start": "2026-11-23", "period_end": "2026-11-29", "status": "paid", "failure_code": None},
        producer="payment")
    (row,) = publish_twice(amqp_uri, db, "payment", env, 1)
    assert (row.user_id, row.title) == (tutor.user_id, "Payout of EUR 3,825.00 sent")
    assert "23 Nov – 29 Nov 2026" in row.content


# Preferences ----------------------------------------------------------------------------

def test_a_type_switched_off_makes_no_notification_until_switched_on(rpc, amqp_uri, db, pair):
    student, tutor = pair
    view = rpc.communication.set_notification_preferences(
        student.token, {"preferences": [{"type": "lesson_expired", "inApp": False}]})
    choice = next(p for p in view if p["type"] == "lesson_expired")
    assert (choice["in_app"], choice["email"]) == (False, True)  # email untouched: its default
    assert len(view) == len(rpc.communication.notification_preferences(student.token))

    off = lesson_event("lesson_expired", booked(amqp_uri, db, student, tutor), "expired")
    publish(amqp_uri, "learning", off)
    wait_for(lambda: consumed(db, off["event_id"]), message="lesson_expired consumed")
    assert notifications_of(db, off["event_id"]) == []

    rpc.communication.set_notification_preferences(
        student.token, {"preferences": [{"type": "lesson_expired", "inApp": True, "email": False}]})
    on = lesson_event("lesson_expired", booked(amqp_uri, db, student, tutor), "expired")
    (row,) = publish_twice(amqp_uri, db, "learning", on, 1)
    assert row.user_id == student.user_id
    choice = next(p for p in rpc.communication.notification_preferences(student.token)
                  if p["type"] == "lesson_expired")
    assert (choice["in_app"], choice["email"]) == (True, False)


def test_a_bad_preference_is_refused_naming_its_place(rpc, pair):
    from services.common.errors import BadInput
    student, _ = pair
    with pytest.raises(BadInput) as caught:
        rpc.communication.set_notification_preferences(
            student.token, {"preferences": [{"type": "welcome", "email": True}, {"type": "spam", "inApp": True}]})
    assert "1" in caught.value.details["preferences"]


# Reading and marking read -----------------------------------------------------------------

def test_the_list_pages_newest_first_and_marks_read(rpc, amqp_uri, db, pair):
    student, tutor = pair
    envs = [lesson_event("lesson_expired", booked(amqp_uri, db, student, tutor), "expired") for _ in range(3)]
    for env in envs:
        publish(amqp_uri, "learning", env)
        wait_for(lambda: notifications_of(db, env["event_id"]), message="an expiry notification")
    # Each booking (3) and expiry (3), and the welcome: 7, all unread.
    assert rpc.communication.unread_counts(student.token)["notifications"] == 7

    first = rpc.communication.notification_page(student.token, {"first": 4})
    second = rpc.communication.notification_page(student.token, {"first": 4, "after": first["next_cursor"]})
    items = first["items"] + second["items"]
    assert len(first["items"]) == 4 and len(items) == 7 and second["next_cursor"] is None
    assert len({n["id"] for n in items}) == 7
    assert [n["created_at"] for n in items] == sorted((n["created_at"] for n in items), reverse=True)
    assert items[-1]["type"] == "welcome" and items[0]["type"] == "lesson_expired"
    assert set(items[0]) == {"id", "type", "title", "content", "data", "is_read", "created_at", "cursor"}

    # One read; one not the caller's is ignored, not an error.
    theirs = rpc.communication.notification_page(tutor.token)["items"][0]["id"]
    assert rpc.communication.mark_notifications_read(student.token, {"ids": [items[0]["id"], theirs]}) == \
        {"marked": 1}
    assert rpc.communication.unread_counts(student.token)["notifications"] == 6
    assert rpc.communication.unread_counts(tutor.token)["notifications"] >= 1
    unread = rpc.communication.notification_page(student.token, {"unreadOnly": True, "first": 100})["items"]
    assert items[0]["id"] not in {n["id"] for n in unread} and len(unread) == 6

    assert rpc.communication.mark_notifications_read(student.token, {"all": True}) == {"marked": 6}
    assert rpc.communication.unread_counts(student.token)["notifications"] == 0
    assert rpc.communication.notification_page(student.token, {"unreadOnly": True})["items"] == []


# Timers ----------------------------------------------------------------------------------

def test_a_confirmed_lesson_starting_soon_is_reminded_once(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor, price=0, start=start_in(10))
    publish(amqp_uri, "learning", lesson_event("lesson_confirmed", lesson, "confirmed"))
    source = str(uuid.uuid5(uuid.UUID(lesson["id"]), "reminder"))
    rows = wait_for(lambda: len(r := notifications_of(db, source)) == 2 and r, timeout=20, message="reminders")
    assert {r.user_id for r in rows} == {student.user_id, tutor.user_id}
    assert {r.type for r in rows} == {"lesson_reminder"}
    assert rows[0].title in ("Your lesson starts in 10 minutes", "Your lesson starts in 9 minutes")
    eventlet.sleep(2.5)  # more ticks of the one-second timer
    assert db.scalar("SELECT count(*) FROM notifications WHERE type = 'lesson_reminder' AND data->>'lesson_id' = :l",
                     l=lesson["id"]) == 2
    assert db.scalar("SELECT reminded_at IS NOT NULL FROM lesson_schedule WHERE lesson_id = :l", l=lesson["id"])


def test_a_lesson_not_confirmed_is_not_reminded(amqp_uri, db, pair):
    student, tutor = pair
    lesson = booked(amqp_uri, db, student, tutor, price=0, start=start_in(10))  # requested, not confirmed
    eventlet.sleep(2.5)
    assert notifications_of(db, uuid.uuid5(uuid.UUID(lesson["id"]), "reminder")) == []


def test_an_unread_message_is_announced_once_and_a_read_one_not(rpc, amqp_uri, db, platform):
    student, tutor = make_user(amqp_uri, db, "student", "Ada"), make_user(amqp_uri, db, "tutor", "Alan")
    other_tutor = make_user(amqp_uri, db, "tutor", "Emmy")
    unread = rpc.communication.start_conversation(student.token, {"tutorUserId": tutor.user_id})
    read = rpc.communication.start_conversation(student.token, {"tutorUserId": other_tutor.user_id})
    for text in ("Hello!", "Are you free on Tuesday?"):
        rpc.communication.send_message(student.token, {"conversationId": unread["id"], "content": text})
    rpc.communication.send_message(student.token, {"conversationId": read["id"], "content": "Hi Emmy"})
    rpc.communication.mark_conversation_read(other_tutor.token, read["id"])

    def notices(user):
        return db.all("SELECT title, content, data FROM notifications WHERE user_id = :u AND type = 'new_message'",
                      u=user.user_id)
    (notice,) = wait_for(lambda: notices(tutor), timeout=40, message="the unread notice")
    assert notice.title == "2 new messages from " + student.name
    assert notice.content == "Are you free on Tuesday?" and notice.data == {"conversation_id": unread["id"]}
    eventlet.sleep(2.5)
    assert len(notices(tutor)) == 1
    assert notices(other_tutor) == [] and notices(student) == []
    assert db.scalar("SELECT count(*) FROM messages WHERE conversation_id = :c AND notified_at IS NULL",
                     c=unread["id"]) == 0
    # The tutor's reply, left unread by the student, is announced to the student.
    rpc.communication.send_message(tutor.token, {"conversationId": unread["id"], "content": "Yes, 3pm?"})
    (back,) = wait_for(lambda: notices(student), timeout=40, message="the reply's notice")
    assert back.title == "1 new message from " + tutor.name
