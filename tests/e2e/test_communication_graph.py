"""Communication's part of the graph end to end: HTTP in, RPC to the real
communication service, out; and GET /stream, live through the broker and
two gateway processes. The stream's framing and catch-up merge alone:
tests/unit/test_live_stream.py."""
import codecs
import json
import queue
import socket
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import Gateway, start_gateway
from tests.e2e.test_gateway import error_codes, signed_up, tutor_with_course
from tests.e2e.test_payment_graph import admin  # noqa: F401 (a fixture: an admin's access token)
from tests.integration.helpers import Db, mark_lesson_paid, wait_for
from tests.integration.learning_fixtures import soon

START = """mutation($t: ID!) { startConversation(tutorUserId: $t)
  { id lessonId participantIds studentUserId tutorUserId status unreadCount } }"""
SEND = """mutation($c: ID!, $m: String!, $k: String) { sendMessage(conversationId: $c, content: $m, clientMessageId: $k)
  { id conversationId senderUserId content type clientMessageId sentAt } }"""
READ = """mutation($c: ID!) { markConversationRead(conversationId: $c) { id unreadCount } }"""
MARK = """mutation($i: [ID!], $a: Boolean) { markNotificationsRead(ids: $i, all: $a) { marked } }"""
PREFS = """mutation($p: [NotificationPreferenceInput!]!) { setNotificationPreferences(preferences: $p)
  { type label inApp email } }"""
JOIN = """mutation($l: ID!) { joinVideoSession(lessonId: $l) { meetingUrl startedAt } }"""
END = """mutation($l: ID!) { endVideoSession(lessonId: $l) { meetingUrl endedAt } }"""
CONVERSATIONS = """{ conversations(first: 10) {
  edges { cursor node { id lessonId participantIds lastMessageAt unreadCount
                        messages(first: 10) { edges { node { content senderUserId type } } } } }
  pageInfo { hasNextPage endCursor } } }"""
CONVERSATION_PAGE = """query($f: Int, $a: String) { conversations(first: $f, after: $a) {
  edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
CONVERSATION = """query($id: ID!, $r: String) { conversation(id: $id, reason: $r) {
  id participantIds messages(first: 10) { edges { node { content } } pageInfo { hasNextPage } } } }"""
NOTIFICATIONS = """query($f: Int, $u: Boolean) { notifications(first: $f, unreadOnly: $u) {
  edges { node { id type title isRead createdAt } } pageInfo { hasNextPage } } }"""
UNREAD = """{ unreadCount { messages notifications } }"""
PREFERENCES = """{ notificationPreferences { type label inApp email } }"""


@pytest.fixture(scope="module")
def learning_db(databases):
    return Db(databases["learning"].url)


@pytest.fixture(scope="module")
def communication_db(databases):
    return Db(databases["communication"].url)


@pytest.fixture(scope="module")
def people(gateway, learning_db):
    """A student, a tutor and another student, signed in: {name: (user, token)}."""
    made = {name: signed_up(gateway, learning_db, role)[:2]
            for name, role in (("student", "student"), ("tutor", "tutor"), ("other", "student"))}
    return made


def start_conversation(gateway, student_token, tutor_id):
    """The student's conversation with the tutor, once communication has its copy of the tutor."""
    def attempt():
        body = gateway.gql(START, {"t": tutor_id}, student_token)
        if error_codes(body) == ["NOT_FOUND"]:  # identity's user_created has not reached communication yet
            return None
        assert "errors" not in body, body
        return body["data"]["startConversation"]
    return wait_for(attempt, message="communication's copy of the tutor")


@pytest.fixture(scope="module")
def conversation(gateway, people):
    (student, student_token), (tutor, _) = people["student"], people["tutor"]
    return start_conversation(gateway, student_token, tutor["id"])


def refused(body, code="BAD_USER_INPUT"):
    """The one field error's code and the arguments it names."""
    assert error_codes(body) == [code], body
    return set(body["errors"][0]["extensions"].get("fields", {}))


def test_two_users_exchange_messages_and_a_third_is_refused(gateway, people, conversation):
    (student, s_token), (tutor, t_token), (other, o_token) = people["student"], people["tutor"], people["other"]
    assert set(conversation["participantIds"]) == {student["id"], tutor["id"]}
    assert conversation["lessonId"] is None and conversation["status"] == "ACTIVE"
    again = gateway.data(START, {"t": tutor["id"]}, s_token)["startConversation"]
    assert again["id"] == conversation["id"]  # one open conversation per pair

    key = str(uuid.uuid4())
    sent = gateway.data(SEND, {"c": conversation["id"], "m": "Hello, can you help with limits?", "k": key},
                        s_token)["sendMessage"]
    assert sent["type"] == "TEXT" and sent["senderUserId"] == student["id"] and sent["clientMessageId"] == key
    retried = gateway.data(SEND, {"c": conversation["id"], "m": "Hello, can you help with limits?", "k": key},
                           s_token)["sendMessage"]
    assert retried["id"] == sent["id"]  # a retried send is stored once

    page = gateway.data(CONVERSATIONS, token=t_token)["conversations"]
    [node] = [e["node"] for e in page["edges"] if e["node"]["id"] == conversation["id"]]
    assert node["unreadCount"] == 1 and node["lastMessageAt"]
    assert [m["node"]["content"] for m in node["messages"]["edges"]] == ["Hello, can you help with limits?"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    assert gateway.data(UNREAD, token=t_token)["unreadCount"]["messages"] == 1

    gateway.data(SEND, {"c": conversation["id"], "m": "Yes, gladly."}, t_token)
    mine = gateway.data(CONVERSATION, {"id": conversation["id"]}, s_token)["conversation"]
    assert [e["node"]["content"] for e in mine["messages"]["edges"]] == [
        "Yes, gladly.", "Hello, can you help with limits?"]  # newest first

    assert gateway.data(READ, {"c": conversation["id"]}, t_token)["markConversationRead"]["unreadCount"] == 0
    assert gateway.data(UNREAD, token=t_token)["unreadCount"]["messages"] == 0

    # someone else: the conversation does not exist for them
    body = gateway.gql(CONVERSATION, {"id": conversation["id"]}, o_token)
    assert refused(body, "NOT_FOUND") == {"id"} and body["data"]["conversation"] is None
    body = gateway.gql(SEND, {"c": conversation["id"], "m": "let me in"}, o_token)
    assert refused(body, "NOT_FOUND") == {"conversationId"}
    body = gateway.gql(READ, {"c": conversation["id"]}, o_token)
    assert refused(body, "NOT_FOUND") == {"conversationId"}
    assert conversation["id"] not in [e["node"]["id"] for e in
                                      gateway.data(CONVERSATION_PAGE, {"f": 50}, o_token)["conversations"]["edges"]]
    # a tutor does not start conversations; anonymous callers nothing at all
    assert error_codes(gateway.gql(START, {"t": tutor["id"]}, t_token)) == ["FORBIDDEN"]
    assert error_codes(gateway.gql(CONVERSATION_PAGE, {"f": 5})) == ["UNAUTHENTICATED"]


def written(communication_db):
    return {table: communication_db.scalar("SELECT count(*) FROM {}".format(table))
            for table in ("conversations", "messages", "conversation_reads", "notification_preferences",
                          "video_sessions", "admin_reads")}


def test_bad_input_names_the_argument_and_writes_nothing(gateway, people, conversation, communication_db):
    s_token = people["student"][1]
    before = written(communication_db)
    c = conversation["id"]
    cases = [
        (START, {"t": "x"}, {"tutorUserId"}),
        (SEND, {"c": "x", "m": "hi"}, {"conversationId"}),
        (SEND, {"c": c, "m": ""}, {"content"}),
        (SEND, {"c": c, "m": "   "}, {"content"}),
        (SEND, {"c": c, "m": "x" * 4001}, {"content"}),
        (SEND, {"c": c, "m": "hi", "k": ""}, {"clientMessageId"}),
        (READ, {"c": "x"}, {"conversationId"}),
        (MARK, {}, {"ids"}),
        (MARK, {"i": ["x"]}, {"ids"}),
        (MARK, {"i": [str(uuid.uuid4())], "a": True}, {"ids"}),
        (PREFS, {"p": []}, {"preferences"}),
        (JOIN, {"l": "x"}, {"lessonId"}),
        (END, {"l": "x"}, {"lessonId"}),
        (CONVERSATION_PAGE, {"f": 0}, {"first"}),
        (CONVERSATION_PAGE, {"f": 5, "a": "garbage"}, {"after"}),
        (NOTIFICATIONS, {"f": 101}, {"first"}),
    ]
    for query, variables, fields in cases:
        body = gateway.gql(query, variables, s_token)
        assert refused(body) == fields, (query, variables, body)
        assert list(body["data"].values()) == [None] if body.get("data") else True
    assert written(communication_db) == before


def test_unknown_ids_are_not_found_naming_the_argument(gateway, people):
    s_token = people["student"][1]
    assert refused(gateway.gql(START, {"t": str(uuid.uuid4())}, s_token), "NOT_FOUND") == {"tutorUserId"}
    body = gateway.gql(CONVERSATION, {"id": str(uuid.uuid4())}, s_token)
    assert refused(body, "NOT_FOUND") == {"id"} and body["data"]["conversation"] is None
    assert refused(gateway.gql(SEND, {"c": str(uuid.uuid4()), "m": "hi"}, s_token), "NOT_FOUND") == {
        "conversationId"}
    assert refused(gateway.gql(JOIN, {"l": str(uuid.uuid4())}, s_token), "NOT_FOUND") == {"lessonId"}


def test_an_admin_reads_a_conversation_only_with_a_reason(gateway, people, conversation, admin,  # noqa: F811
                                                          communication_db):
    reads = communication_db.scalar("SELECT count(*) FROM admin_reads")
    body = gateway.gql(CONVERSATION, {"id": conversation["id"]}, admin)
    assert refused(body) == {"reason"} and body["data"]["conversation"] is None
    assert communication_db.scalar("SELECT count(*) FROM admin_reads") == reads
    seen = gateway.data(CONVERSATION, {"id": conversation["id"], "r": "abuse report #12 by the tutor"},
                        admin)["conversation"]
    assert seen["id"] == conversation["id"] and seen["messages"]["edges"]
    assert communication_db.scalar("SELECT count(*) FROM admin_reads") > reads  # the reason is kept


def test_notification_preferences_change_only_what_is_given(gateway, people):
    token = people["other"][1]
    every = gateway.data(PREFERENCES, token=token)["notificationPreferences"]
    assert {p["type"] for p in every} >= {"LESSON_BOOKED", "NEW_MESSAGE", "PAYMENT_FAILED"}
    assert all(p["label"] for p in every)
    before = {p["type"]: p for p in every}
    after = gateway.data(PREFS, {"p": [{"type": "NEW_MESSAGE", "email": not before["NEW_MESSAGE"]["email"]}]},
                         token)["setNotificationPreferences"]
    changed = {p["type"]: p for p in after}
    assert changed["NEW_MESSAGE"]["email"] is not before["NEW_MESSAGE"]["email"]
    assert changed["NEW_MESSAGE"]["inApp"] is before["NEW_MESSAGE"]["inApp"]
    assert {k: v for k, v in changed.items() if k != "NEW_MESSAGE"} == {
        k: v for k, v in before.items() if k != "NEW_MESSAGE"}


def test_notifications_page_and_mark_read(gateway, people):
    token = people["other"][1]
    page = gateway.data(NOTIFICATIONS, {"f": 5}, token)["notifications"]
    assert isinstance(page["edges"], list)
    assert gateway.data(MARK, {"a": True}, token)["markNotificationsRead"]["marked"] >= 0
    assert gateway.data(UNREAD, token=token)["unreadCount"]["notifications"] == 0
    assert gateway.data(NOTIFICATIONS, {"f": 5, "u": True}, token)["notifications"]["edges"] == []


# Live updates: GET /stream --------------------------------------------------------

class Stream:
    """A client of GET /stream as docs/graphql.md shows one: requests with
    stream=True, the events parsed as they come, each with its arrival time."""

    def __init__(self, url, token, last_event_id=None, after=None):
        headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.resp = requests.get(url + "/stream", headers=headers, stream=True, timeout=(5, 60),
                                 params={"after": after} if after is not None else None)
        self.events = queue.Queue()
        self.done = threading.Event()
        if self.resp.status_code != 200:
            self.done.set()
        else:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        decoder, buf = codecs.getincrementaldecoder("utf-8")(), ""
        try:
            for chunk in self.resp.iter_content(chunk_size=None):
                buf += decoder.decode(chunk)
                while "\n\n" in buf:
                    block, buf = buf.split("\n\n", 1)
                    event = {}
                    for line in block.split("\n"):
                        name, _, value = line.partition(":")
                        event[name or "comment"] = value[1:] if value.startswith(" ") else value
                    self.events.put((time.monotonic(), event))
        except Exception:
            pass
        self.events.put((time.monotonic(), None))
        self.done.set()

    def next(self, timeout=10, until=lambda e: True):
        deadline = time.monotonic() + timeout
        while True:
            at, event = self.events.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert event is not None, "the stream ended"
            if until(event):
                return at, event

    def until_ready(self, timeout=15):
        """Every item before the ready event, and the ready event."""
        items = []
        while True:
            _, event = self.next(timeout)
            if event.get("event") == "ready":
                return items, event
            if event.get("event") in ("message", "notification"):
                items.append(event)

    def close(self):
        """Hang up. The reader thread is inside a read of the response: end
        it from below (shutting the socket down), then close the response."""
        try:
            self.resp.raw._connection.sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        self.done.wait(5)
        self.resp.close()


def is_item(event):
    return event.get("event") in ("message", "notification")


@pytest.fixture(scope="module")
def second_gateway(platform):
    """Another gateway process, with its own broker queue; it holds one stream at most."""
    return Gateway(start_gateway(platform, "gateway-live", GATEWAY_MAX_STREAMS="1", GATEWAY_STREAM_HEARTBEAT="1"))


def test_a_live_client_gets_a_message_sent_through_another_gateway_within_a_second(
        gateway, second_gateway, people, conversation):
    s_token, t_token = people["student"][1], people["tutor"][1]
    stream = Stream(gateway.url, t_token)  # the tutor listens on gateway 1
    try:
        assert stream.resp.status_code == 200, stream.resp.text
        assert stream.resp.headers["Content-Type"].startswith("text/event-stream")
        stream.until_ready()
        text = "live {}".format(uuid.uuid4())
        started = time.monotonic()
        sent = second_gateway.data(SEND, {"c": conversation["id"], "m": text}, s_token)["sendMessage"]  # gateway 2
        at, event = stream.next(timeout=5, until=lambda e: is_item(e) and text in e.get("data", ""))
        assert at - started < 1.0, "arrived after {:.3f}s".format(at - started)
        data = json.loads(event["data"])
        assert event["event"] == "message" and int(event["id"]) == data["id"]
        assert data["kind"] == "message" and data["message"]["id"] == sent["id"]
        assert data["message"]["content"] == text
    finally:
        stream.close()


def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(gateway, people, conversation):
    s_token, t_token = people["student"][1], people["tutor"][1]
    first = Stream(gateway.url, t_token)
    try:
        _, ready = first.until_ready()
        text = "before {}".format(uuid.uuid4())
        gateway.data(SEND, {"c": conversation["id"], "m": text}, s_token)
        _, seen = first.next(timeout=5, until=lambda e: is_item(e) and text in e.get("data", ""))
    finally:
        first.close()
    last = int(seen["id"])
    missed = ["missed {} {}".format(n, uuid.uuid4()) for n in range(3)]
    sent_ids = [gateway.data(SEND, {"c": conversation["id"], "m": m}, s_token)["sendMessage"]["id"] for m in missed]
    for resume in (dict(last_event_id=last), dict(after=last)):
        again = Stream(gateway.url, t_token, **resume)
        try:
            items, ready = again.until_ready()
        finally:
            again.close()
        ids = [int(e["id"]) for e in items]
        assert ids == sorted(set(ids)) and all(i > last for i in ids), ids  # no repeat, in order
        messages = [json.loads(e["data"])["message"] for e in items if e["event"] == "message"]
        assert [m["id"] for m in messages] == sent_ids and [m["content"] for m in messages] == missed
        assert int(ready["id"]) == ids[-1]


def test_stream_refusals_are_json(gateway, second_gateway, people):
    resp = requests.get(gateway.url + "/stream", timeout=10)
    assert resp.status_code == 401 and resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    resp = requests.get(gateway.url + "/stream", headers={"Authorization": "Bearer nonsense"}, timeout=10)
    assert resp.status_code == 401 and resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    token = people["other"][1]
    resp = requests.get(gateway.url + "/stream", headers={"Authorization": "Bearer " + token,
                                                          "Last-Event-ID": "-3"}, timeout=10)
    assert resp.status_code == 400 and resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # the second gateway holds one stream: the next is 503 until the first is gone
    held = Stream(second_gateway.url, token)
    try:
        assert held.resp.status_code == 200
        held.until_ready()
        over = requests.get(second_gateway.url + "/stream", headers={"Authorization": "Bearer " + token},
                            timeout=10)
        assert over.status_code == 503 and over.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        held.close()

    def another():  # the place is given back once the server notices (its next heartbeat, 1 s)
        resp = requests.get(second_gateway.url + "/stream", headers={"Authorization": "Bearer " + token},
                            stream=True, timeout=10)
        resp.close()
        return resp.status_code == 200
    wait_for(another, timeout=10, interval=0.5, message="the closed stream's place")


# Video sessions: Lesson.videoSession, joinVideoSession, endVideoSession ----------------

BOOK = """mutation($c: ID!, $t: String!) { bookLesson(courseId: $c, scheduledAt: $t) { id status } }"""
CONFIRM = """mutation($l: ID!) { confirmLesson(lessonId: $l) { status } }"""
LESSON_VIDEO = """query($id: ID!) { lesson(id: $id) {
  id videoSession { meetingUrl startedAt endedAt recordingUrl } } }"""
MY_LESSONS = """{ me { lessons(first: 10) { edges { node { id videoSession { meetingUrl } } } } } }"""


def test_a_confirmed_lessons_video_session(gateway, learning_db, people, amqp_uri):
    tutor, tutor_token, course = tutor_with_course(gateway, learning_db, "video-maths", "Video theory")
    student, student_token, _ = signed_up(gateway, learning_db)
    other_token = people["other"][1]
    lessons = [gateway.data(BOOK, {"c": course["id"], "t": soon(seconds).isoformat()}, student_token)["bookLesson"]
               for seconds in (3600, 7200)]
    assert gateway.data(LESSON_VIDEO, {"id": lessons[0]["id"]}, student_token)["lesson"]["videoSession"] is None
    for lesson in lessons:
        mark_lesson_paid(amqp_uri, learning_db, {"id": lesson["id"], "student_user_id": student["id"],
                                                 "tutor_user_id": tutor["id"]})
        assert gateway.data(CONFIRM, {"l": lesson["id"]}, tutor_token)["confirmLesson"]["status"] == "CONFIRMED"
    lesson_id = lessons[0]["id"]
    room = wait_for(lambda: gateway.data(LESSON_VIDEO, {"id": lesson_id}, student_token)["lesson"]["videoSession"],
                    message="the lesson's video room")
    assert room["meetingUrl"] and room["startedAt"] is None and room["endedAt"] is None

    # one RPC for the video sessions of a whole page of lessons
    wait_for(lambda: all(e["node"]["videoSession"] for e in
                         gateway.data(MY_LESSONS, token=student_token)["me"]["lessons"]["edges"]),
             message="both rooms")
    resp = gateway.post(MY_LESSONS, token=student_token)
    assert json.loads(resp.headers["X-RPC-Calls"])["communication.video_sessions_for_lessons"] == 1

    joined = gateway.data(JOIN, {"l": lesson_id}, student_token)["joinVideoSession"]
    assert joined["meetingUrl"] == room["meetingUrl"] and joined["startedAt"]
    assert refused(gateway.gql(JOIN, {"l": lesson_id}, other_token), "NOT_FOUND") == {"lessonId"}
    assert refused(gateway.gql(END, {"l": lesson_id}, other_token), "NOT_FOUND") == {"lessonId"}
    assert gateway.data(LESSON_VIDEO, {"id": lesson_id}, tutor_token)["lesson"]["videoSession"]["startedAt"]
    ended = gateway.data(END, {"l": lesson_id}, tutor_token)["endVideoSession"]
    assert ended["endedAt"]

    # the lesson's conversation: made at booking, with the platform's line on confirmation
    page = gateway.data(CONVERSATIONS, token=student_token)["conversations"]
    [mine] = [e["node"] for e in page["edges"] if e["node"]["lessonId"] == lesson_id]
    assert tutor["id"] in mine["participantIds"]
    assert "SYSTEM" in [m["node"]["type"] for m in mine["messages"]["edges"]]
