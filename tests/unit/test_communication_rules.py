"""Communication's pure parts: the recording callback's signature, the
activity range, and the payloads of sending and marking read."""
import time

import pytest

from services.common.errors import BadInput
from services.common.validation import load
from services.communication import activity, video
from services.communication.schemas import MarkNotificationsReadSchema, SendMessageSchema

SECRET = "whsec_video_test"
BODY = b'{"room": "edtech-abcdefgh", "recording_url": "https://rec.example/1.mp4"}'
CONVERSATION = "5f0b1c1e-9a6a-4a43-8f0e-6a3c1b2d3e4f"


def signed(body=BODY, secret=SECRET, at=None):
    at = int(at or time.time())
    return "t={},v1={}".format(at, video.signature(secret, at, body))


def test_a_recording_callback_signed_with_the_secret_passes():
    video.check_signature(signed(), BODY, SECRET)


# Headers are made when each test runs, not when the module is collected:
# the whole suite runs in between, and a timestamp must be "now" to mean anything.
@pytest.mark.parametrize("make_header", [
    lambda: signed(secret="another"),
    lambda: signed(at=time.time() - 301),
    lambda: signed(at=time.time() + 301),
    lambda: signed(body=BODY + b" "),
    lambda: "", lambda: "t=abc,v1=00", lambda: "v1=00", lambda: None,
])
def test_a_recording_callback_not_signed_so_is_refused(make_header):
    with pytest.raises(video.Refused) as refused:
        video.check_signature(make_header(), BODY, SECRET)
    assert refused.value.status == 400


def test_without_a_secret_no_callback_is_taken():
    with pytest.raises(video.Refused) as refused:
        video.check_signature(signed(), BODY, "")
    assert refused.value.status == 503


@pytest.mark.parametrize("after,limit,field", [(-1, 10, "after"), ("5", 10, "after"), (True, 10, "after"),
                                               (0, 0, "limit"), (0, 101, "limit"), (0, 2.5, "limit")])
def test_the_activity_range_names_what_is_wrong(after, limit, field):
    with pytest.raises(BadInput) as error:
        activity.check_range(after, limit)
    assert field in error.value.details


@pytest.mark.parametrize("payload,field", [
    ({"conversationId": CONVERSATION, "content": ""}, "content"),
    ({"conversationId": CONVERSATION, "content": "   \n"}, "content"),
    ({"conversationId": CONVERSATION, "content": "x" * 4001}, "content"),
    ({"conversationId": "nope", "content": "hi"}, "conversationId"),
    ({"conversationId": CONVERSATION, "content": "hi", "clientMessageId": ""}, "clientMessageId"),
    ({"content": "hi"}, "conversationId"),
])
def test_sending_names_the_bad_field(payload, field):
    with pytest.raises(BadInput) as error:
        load(SendMessageSchema(), payload)
    assert field in error.value.details


def test_a_message_of_4000_characters_is_taken_as_written():
    text = "  é" * 1333 + "x"
    assert load(SendMessageSchema(), {"conversationId": CONVERSATION, "content": text})["content"] == text


@pytest.mark.parametrize("payload", [{}, {"all": False}, {"ids": [CONVERSATION], "all": True}, {"ids": []}])
def test_marking_read_takes_ids_or_all(payload):
    with pytest.raises(BadInput):
        load(MarkNotificationsReadSchema(), payload)
