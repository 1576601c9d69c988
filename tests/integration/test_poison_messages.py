"""A malformed message never kills a service (docs/architecture.md,
"Malformed messages"; services/common/consumers.py and rpc.py).

Each poison message is published straight to a running service's queue, as
anyone with publish rights on the exchange could. Then: the service still
answers, supervisord did not restart it, the message is gone from the
queue (neither requeued nor held unacked), and the service's log has
exactly one line for it, without the body. A caller that gave a reply_to is
answered with BadInput instead of waiting for its timeout."""
import json
import os
import pickle
import time
import uuid
from urllib.parse import unquote, urlsplit

import amqp
import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import deserialize

import services.common.errors  # noqa: F401  registers the typed errors with nameko
from services.common.broker import reply_key, reply_queue
from services.common.errors import BadInput
from tests.integration.helpers import Db, as_principal, messages_in, new_user, wait_for

RPC_EXCHANGE = "nameko-rpc"
# Words a sender might have put in the body; none may reach the log.
SECRET = "hunter2-secret"
REQUEST = json.dumps({"args": [], "kwargs": {"password": SECRET}}).encode()

# name: (routing key's method, body, content type, with a reply_to[, headers])
RPC_POISON = {
    "no reply_to": ("ping", json.dumps({"args": [], "kwargs": {}}).encode(), "application/json", False),
    "no reply_to, unknown method": ("no_such_method", REQUEST, "application/json", False),
    "not JSON": ("ping", b'{"password": "' + SECRET.encode() + b'", ', "application/json", False),
    "not JSON, answered": ("ping", b'{"password": "' + SECRET.encode() + b'", ', "application/json", True),
    "not UTF-8": ("ping", b"\xff\xfe" + SECRET.encode(), "application/json", False),
    "no args or kwargs": ("ping", json.dumps({"password": SECRET}).encode(), "application/json", False),
    "no kwargs, answered": ("ping", json.dumps({"args": [SECRET]}).encode(), "application/json", True),
    "an array": ("ping", json.dumps([SECRET]).encode(), "application/json", False),
    "a string, answered": ("ping", json.dumps(SECRET).encode(), "application/json", True),
    "args not a list": ("ping", json.dumps({"args": SECRET, "kwargs": {}}).encode(), "application/json", False),
    "pickle": ("ping", pickle.dumps({"args": [], "kwargs": {"password": SECRET}}), "application/x-python-serialize",
               False),
    "pickle, answered": ("ping", pickle.dumps({"args": [], "kwargs": {}}), "application/x-python-serialize", True),
    "text": ("ping", SECRET.encode(), "text/plain", False),
    "no content type": ("ping", REQUEST, None, False),
    "no content type, answered": ("ping", REQUEST, None, True),
    # nameko joins the caller's call stack before a worker's error handling
    "call stack not a list": ("ping", REQUEST, "application/json", False, {"nameko.call_id_stack": 5}),
    "call stack not strings, answered": ("ping", REQUEST, "application/json", True,
                                         {"nameko.call_id_stack": [1, {"x": 2}]}),
    "unprefixed call stack": ("ping", REQUEST, "application/json", False, {"call_id_stack": None}),
}

# An event only learning follows, so one service gets the message.
EVENT_SOURCE, EVENT_TYPE = "identity", "session_revoked"
EVENT_QUEUE = "evt-identity-session_revoked--learning.on_session_revoked"
EVENT_POISON = {
    "not JSON": (b'{"data": {"password": "' + SECRET.encode() + b'"', "application/json"),
    "pickle": (pickle.dumps({"password": SECRET}), "application/x-python-serialize"),
    "text": (SECRET.encode(), "text/plain"),
    "no content type": (json.dumps({"password": SECRET}).encode(), None),
    "call stack not a list": (json.dumps({"password": SECRET}).encode(), "application/json",
                              {"nameko.call_id_stack": 5}),
}


def publish_raw(amqp_uri, exchange, routing_key, body, content_type, marker, reply_to=None, headers=None):
    """A message as it comes, bypassing kombu's serializers; the marker is
    in a header, which the log line names."""
    properties = {"application_headers": dict(headers or {}, **{"x-poison-test": marker}), "delivery_mode": 2}
    if content_type is not None:
        properties["content_type"] = content_type
    if reply_to is not None:
        properties.update(reply_to=reply_to, correlation_id=marker)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.default_channel.basic_publish(amqp.Message(body, **properties), exchange=exchange,
                                           routing_key=routing_key, mandatory=True)


def read_from(path, offset):
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def assert_refused_once(platform, service, queue, marker, offset, pid, amqp_uri, answer):
    """The service lives on, the message is gone, one line says so."""
    log = platform.log_path(service)
    wait_for(lambda: marker in read_from(log, offset), message="the refusal in {}'s log".format(service))
    wait_for(lambda: messages_in(amqp_uri, queue) == 0, message="{} empty".format(queue))
    assert answer() == "pong"  # still answering
    time.sleep(0.5)  # a second line or a traceback would follow within this
    written = read_from(log, offset)
    lines = [line for line in written.splitlines() if marker in line]
    assert len(lines) == 1, written
    assert " WARNING {} services.common.consumers: refused a message on {} ".format(service, queue) in lines[0]
    assert "Traceback" not in written and SECRET not in written, written
    assert platform.pid(service) == pid, "{} was restarted".format(service)
    return lines[0]


@pytest.fixture
def reply_to(amqp_uri):
    """A reply queue of the fixtures' broker user, named and bound as its
    nameko proxies name and bind theirs (services/common/broker.py)."""
    user, reply_uuid = unquote(urlsplit(amqp_uri).username), uuid.uuid4()
    key = reply_key(user, reply_uuid)
    with Connection(amqp_uri) as conn:
        queue = Queue(reply_queue(user, reply_uuid), routing_key=key, exclusive=True, auto_delete=True,
                      exchange=Exchange(RPC_EXCHANGE, type="topic", durable=True, passive=True))
        queue(conn.default_channel).declare()

        def answer(timeout=10):
            deadline = time.time() + timeout
            while time.time() < deadline:
                message = queue(conn.default_channel).get(no_ack=True)
                if message is not None:
                    return message
                time.sleep(0.05)
            raise AssertionError("no answer on the reply queue")
        yield key, answer


@pytest.mark.parametrize("poison", sorted(RPC_POISON))
def test_a_malformed_rpc_request_is_refused_and_the_service_lives_on(platform, rpc, amqp_uri, reply_to, poison):
    method, body, content_type, answered, *headers = RPC_POISON[poison]
    reply_to, answer = reply_to
    marker, pid = uuid.uuid4().hex, platform.pid("payment")
    offset = os.path.getsize(platform.log_path("payment"))
    publish_raw(amqp_uri, RPC_EXCHANGE, "payment." + method, body, content_type, marker,
                reply_to=reply_to if answered else None, headers=headers[0] if headers else None)
    if answered:
        message = answer()
        assert message.properties["correlation_id"] == marker
        reply = message.decode()
        assert reply["result"] is None
        error = deserialize(reply["error"])
        assert isinstance(error, BadInput) and "malformed RPC request" in str(error), reply
    line = assert_refused_once(platform, "payment", "rpc-payment", marker, offset, pid, amqp_uri, rpc.payment.ping)
    assert "routing key 'payment.{}'".format(method) in line
    assert line.endswith("answered BadInput and rejected" if answered else "rejected"), line


def test_a_mutation_without_reply_to_never_runs(platform, rpc, amqp_uri, databases):
    """nameko ran the method and only then failed to answer it."""
    user, marker, pid = new_user(), uuid.uuid4().hex, platform.pid("identity")
    offset = os.path.getsize(platform.log_path("identity"))
    publish_raw(amqp_uri, RPC_EXCHANGE, "identity.register", json.dumps({"args": [user], "kwargs": {}}).encode(),
                "application/json", marker)
    line = assert_refused_once(platform, "identity", "rpc-identity", marker, offset, pid, amqp_uri,
                               rpc.identity.ping)
    assert "no reply_to, so nobody to answer" in line
    assert Db(databases["identity"].url).scalar("SELECT count(*) FROM users WHERE email = :e",
                                                e=user["email"]) == 0


@pytest.mark.parametrize("poison", sorted(EVENT_POISON))
def test_an_undecodable_event_is_refused_and_the_consumer_lives_on(platform, rpc, amqp_uri, poison):
    body, content_type, *headers = EVENT_POISON[poison]
    marker, pid = uuid.uuid4().hex, platform.pid("learning")
    offset = os.path.getsize(platform.log_path("learning"))
    # Only identity's broker user may publish to identity.events.
    publish_raw(as_principal(amqp_uri, EVENT_SOURCE), "{}.events".format(EVENT_SOURCE), EVENT_TYPE, body,
                content_type, marker, headers=headers[0] if headers else None)
    line = assert_refused_once(platform, "learning", EVENT_QUEUE, marker, offset, pid, amqp_uri,
                               rpc.learning.ping)
    assert line.endswith("; rejected"), line
