"""Conversations, messages, the activity stream and video sessions through
the running services (docs/communication.md)."""
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest

from services.common.auth import issue_access_token
from services.common.errors import BadInput, Conflict, NotFound
from services.communication import video
from tests.integration.helpers import Db, wait_for
from tests.integration.learning_fixtures import people, soon, tutor_with_course  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def comm_db(databases):
    return Db(databases["communication"].url)


def known(comm_db, *persons):
    """Wait until communication has its copy of each person (from identity's user_created)."""
    ids = [p.user_id for p in persons]
    wait_for(lambda: comm_db.scalar("SELECT count(*) FROM people WHERE user_id::text = ANY(:ids)", ids=ids)
             == len(ids), message="communication's copies of people")
    return persons


def lesson_conversation(rpc, comm_db, people):
    """A free lesson booked (so no payment): its conversation, its tutor and student."""
    tutor, course = tutor_with_course(rpc, people, price=0)
    student = people.make("student")
    known(comm_db, tutor, student)
    lesson = rpc.learning.book_lesson(student.token, {"course_id": course["id"],
                                                      "scheduled_at": soon(3600).isoformat()})
    conversation_id = wait_for(lambda: comm_db.scalar("SELECT id::text FROM conversations WHERE lesson_id = :id",
                                                      id=lesson["id"]), message="the lesson's conversation")
    return conversation_id, tutor, student, lesson


def send(rpc, who, conversation_id, content, client_id=None):
    payload = {"conversationId": conversation_id, "content": content}
    if client_id:
        payload["clientMessageId"] = client_id
    return rpc.communication.send_message(who.token, payload)


def test_two_participants_talk_and_a_third_is_refused(rpc, people, comm_db):
    conversation_id, tutor, student, lesson = lesson_conversation(rpc, comm_db, people)
    send(rpc, student, conversation_id, "Hello! Can we start with fractions?")
    send(rpc, tutor, conversation_id, "Of course, see you then.")
    page = rpc.communication.message_page(student.token, conversation_id)
    assert [m["content"] for m in page["items"]] == ["Of course, see you then.", "Hello! Can we start with fractions?"]
    inbox = rpc.communication.conversation_page(tutor.token)["items"]
    assert inbox[0]["id"] == conversation_id and inbox[0]["lesson_id"] == lesson["id"]
    assert inbox[0]["unread_count"] == 1

    stranger = people.make("student")
    with pytest.raises(NotFound):
        rpc.communication.message_page(stranger.token, conversation_id)
    with pytest.raises(NotFound):
        send(rpc, stranger, conversation_id, "let me in")
    assert rpc.communication.get_conversations(stranger.token, [conversation_id]) == {conversation_id: None}
    assert comm_db.scalar("SELECT count(*) FROM messages WHERE conversation_id = :c AND message_type = 'text'",
                          c=conversation_id) == 2


def test_unread_counts_and_read_markers(rpc, people, comm_db):
    conversation_id, tutor, student, _ = lesson_conversation(rpc, comm_db, people)
    for text in ("one", "two", "three"):
        send(rpc, student, conversation_id, text)
    assert rpc.communication.unread_counts(tutor.token)["messages"] >= 3
    [mine] = rpc.communication.get_conversations(tutor.token, [conversation_id]).values()
    assert mine["unread_count"] == 3
    assert rpc.communication.mark_conversation_read(tutor.token, conversation_id)["unread_count"] == 0
    assert rpc.communication.get_conversations(tutor.token, [conversation_id])[conversation_id]["unread_count"] == 0
    send(rpc, student, conversation_id, "four")
    assert rpc.communication.get_conversations(tutor.token, [conversation_id])[conversation_id]["unread_count"] == 1
    # One's own messages are never unread to oneself.
    assert rpc.communication.get_conversations(student.token, [conversation_id])[conversation_id]["unread_count"] == 0


def test_paging_stays_stable_while_messages_arrive(rpc, people, comm_db):
    conversation_id, tutor, student, _ = lesson_conversation(rpc, comm_db, people)
    sent = [send(rpc, student if i % 2 else tutor, conversation_id, "message {}".format(i))["id"]
            for i in range(25)]
    first = rpc.communication.message_page(student.token, conversation_id, {"first": 10})
    for i in range(5):   # new ones arrive while the client pages back
        send(rpc, tutor, conversation_id, "late {}".format(i))
    second = rpc.communication.message_page(student.token, conversation_id,
                                            {"first": 10, "after": first["next_cursor"]})
    third = rpc.communication.message_page(student.token, conversation_id,
                                           {"first": 10, "after": second["next_cursor"]})
    seen = [m["id"] for page in (first, second, third) for m in page["items"]]
    assert seen == list(reversed(sent)) and third["next_cursor"] is None


def test_a_retried_send_is_stored_once(rpc, people, comm_db):
    conversation_id, _, student, _ = lesson_conversation(rpc, comm_db, people)
    client_id = "app-" + uuid.uuid4().hex
    first = send(rpc, student, conversation_id, "Are you free on Tuesday?", client_id)
    again = send(rpc, student, conversation_id, "Are you free on Tuesday?", client_id)
    assert again["id"] == first["id"]
    assert comm_db.scalar("SELECT count(*) FROM messages WHERE client_message_id = :c", c=client_id) == 1


def test_a_student_writes_to_a_tutor_before_booking(rpc, people, comm_db):
    tutor, _ = tutor_with_course(rpc, people, price=0)
    student, other = people.make("student"), people.make("student")
    known(comm_db, tutor, student, other)
    opened = rpc.communication.start_conversation(student.token, {"tutorUserId": tutor.user_id})
    assert opened["lesson_id"] is None and set(opened["participant_ids"]) == {tutor.user_id, student.user_id}
    assert rpc.communication.start_conversation(student.token, {"tutorUserId": tutor.user_id})["id"] == opened["id"]
    send(rpc, student, opened["id"], "Do you teach A-level maths?")
    assert rpc.communication.conversation_page(tutor.token)["items"][0]["id"] == opened["id"]
    with pytest.raises(NotFound) as error:
        rpc.communication.start_conversation(student.token, {"tutorUserId": other.user_id})  # not a tutor
    assert "tutorUserId" in error.value.details
    assert comm_db.scalar("SELECT count(*) FROM conversations WHERE student_user_id = :s AND lesson_id IS NULL",
                          s=student.user_id) == 1


def test_an_admin_reads_only_with_a_reason_which_is_kept(rpc, people, comm_db):
    conversation_id, _, student, _ = lesson_conversation(rpc, comm_db, people)
    send(rpc, student, conversation_id, "private words")
    admin = issue_access_token(str(uuid.uuid4()), "admin", uuid.uuid4())
    with pytest.raises(BadInput) as error:
        rpc.communication.message_page(admin, conversation_id)
    assert "reason" in error.value.details
    page = rpc.communication.message_page(admin, conversation_id, {"reason": "Reported for harassment, ticket 42"})
    assert [m["content"] for m in page["items"]][:1] == ["private words"]
    assert comm_db.scalar("SELECT reason FROM admin_reads WHERE conversation_id = :c",
                          c=conversation_id) == "Reported for harassment, ticket 42"


def test_the_activity_stream_numbers_what_reached_each_user(rpc, people, comm_db):
    conversation_id, tutor, student, _ = lesson_conversation(rpc, comm_db, people)
    start = rpc.communication.activity_since(tutor.token, 0, 100)
    while start["more"]:
        start = rpc.communication.activity_since(tutor.token, start["last_id"], 100)
    sent = send(rpc, student, conversation_id, "ping")
    news = rpc.communication.activity_since(tutor.token, start["last_id"], 100)
    assert [(i["kind"], i["message"]["id"]) for i in news["items"]] == [("message", sent["id"])]
    assert rpc.communication.activity_since(tutor.token, news["last_id"], 100)["items"] == []


def test_bad_input_is_named_and_writes_nothing(rpc, people, comm_db):
    conversation_id, tutor, student, _ = lesson_conversation(rpc, comm_db, people)
    before = comm_db.scalar("SELECT count(*) FROM messages")
    cases = [
        (lambda: rpc.communication.send_message(student.token, {"conversationId": conversation_id, "content": ""}),
         "content"),
        (lambda: rpc.communication.send_message(student.token, {"conversationId": conversation_id,
                                                                "content": "x" * 4001}), "content"),
        (lambda: rpc.communication.send_message(student.token, {"conversationId": "x", "content": "hi"}),
         "conversationId"),
        (lambda: rpc.communication.send_message(student.token, {"conversationId": conversation_id, "content": "hi",
                                                                "sender": tutor.user_id}), "sender"),
        (lambda: rpc.communication.start_conversation(student.token, {"tutorUserId": "x"}), "tutorUserId"),
        (lambda: rpc.communication.message_page(student.token, conversation_id, {"after": "garbage"}), "cursor"),
        (lambda: rpc.communication.message_page(student.token, conversation_id, {"first": 0}), "first"),
        (lambda: rpc.communication.mark_conversation_read(student.token, "x"), "conversation_id"),
        (lambda: rpc.communication.activity_since(student.token, -1, 10), "after"),
        (lambda: rpc.communication.join_video_session(student.token, "x"), "lesson_id"),
    ]
    for call, field in cases:
        with pytest.raises(BadInput) as error:
            call()
        assert field in error.value.details, (field, error.value.details)
    assert comm_db.scalar("SELECT count(*) FROM messages") == before


def _post_recording(body, header):
    request = urllib.request.Request("http://{}/video/recordings".format(os.environ["COMMUNICATION_HTTP_ADDRESS"]),
                                     data=body, method="POST", headers={"Content-Type": "application/json",
                                                                        "X-Video-Signature": header})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_confirmed_lesson_gets_a_room_that_learning_shows_to_its_parties(rpc, people, comm_db, databases):
    conversation_id, tutor, student, lesson = lesson_conversation(rpc, comm_db, people)
    rpc.learning.confirm_lesson(tutor.token, lesson["id"])
    url = wait_for(lambda: rpc.learning.get_lesson(student.token, lesson["id"])["meeting_url"],
                   message="learning shows the meeting URL")
    room = url.rsplit("/", 1)[1]
    assert url.startswith("https://meet.jit.si/edtech-") and len(room) >= 30
    sessions = rpc.communication.video_sessions_for_lessons(tutor.token, [lesson["id"]])
    assert sessions[lesson["id"]]["meeting_url"] == url and sessions[lesson["id"]]["started_at"] is None
    stranger = people.make("student")
    assert rpc.communication.video_sessions_for_lessons(stranger.token, [lesson["id"]]) == {lesson["id"]: None}
    with pytest.raises(NotFound):
        rpc.communication.join_video_session(stranger.token, lesson["id"])
    # The platform's own line in the conversation.
    lines = [m for m in rpc.communication.message_page(student.token, conversation_id)["items"]
             if m["message_type"] == "system"]
    assert lines and lines[0]["content"].startswith("Lesson confirmed for ")

    joined = rpc.communication.join_video_session(student.token, lesson["id"])
    assert joined["started_at"] is not None
    assert rpc.communication.join_video_session(tutor.token, lesson["id"])["started_at"] == joined["started_at"]
    ended = rpc.communication.end_video_session(tutor.token, lesson["id"])
    assert ended["ended_at"] >= ended["started_at"]
    with pytest.raises(Conflict):
        rpc.communication.join_video_session(student.token, lesson["id"])

    secret = os.environ["VIDEO_CALLBACK_SECRET"]
    body = json.dumps({"room": room, "recording_url": "https://recordings.example/{}.mp4".format(room)}).encode()
    now = int(time.time())
    for header in ("", "t={},v1={}".format(now, video.signature("wrong", now, body)),
                   "t={},v1={}".format(now - 400, video.signature(secret, now - 400, body))):
        status, _ = _post_recording(body, header)
        assert status == 400
    assert rpc.communication.video_sessions_for_lessons(student.token, [lesson["id"]])[lesson["id"]][
        "recording_url"] is None
    status, answer = _post_recording(body, "t={},v1={}".format(now, video.signature(secret, now, body)))
    assert status == 200 and answer["lesson_id"] == lesson["id"]
    assert rpc.communication.video_sessions_for_lessons(student.token, [lesson["id"]])[lesson["id"]][
        "recording_url"].endswith(room + ".mp4")
