"""An outside consumer written with kombu, as in docs/events.md, binds its own
durable queue and reads identity's events. It runs as the operator, whose
broker user may watch events on ``operator.`` queues (services/common/broker.py)."""
import socket
import uuid

from kombu import Connection, Exchange, Queue, binding

from tests.integration.helpers import new_user, registered

ROUTING_KEYS = ("user_created", "user_updated", "user_deactivated")


def test_kombu_consumer_reads_user_created(platform, rpc, amqp_uri):
    # passive: only checked; no broker user may declare (or delete) an exchange
    exchange = Exchange("identity.events", type="topic", durable=True, passive=True)
    # Topic wildcards match whole dot-separated words, so bind each type.
    queue = Queue("operator.identity-users-" + uuid.uuid4().hex[:8], durable=True,
                  bindings=[binding(exchange, routing_key=k) for k in ROUTING_KEYS])
    received = []
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
        try:
            (user,) = registered(rpc, new_user())
            with conn.Consumer(queue, callbacks=[lambda body, msg: (received.append((body, msg.headers)), msg.ack())],
                               accept=["json"]):
                for _ in range(50):
                    if any(b["data"]["user_id"] == user["id"] for b, _ in received):
                        break
                    try:
                        conn.drain_events(timeout=0.5)
                    except socket.timeout:
                        pass
        finally:
            queue(conn.default_channel).delete()
    mine = [(b, h) for b, h in received if b["data"]["user_id"] == user["id"]]
    assert len(mine) == 1
    body, headers = mine[0]
    assert body["event_type"] == "user_created" and body["version"] == 1 and body["producer"] == "identity"
    assert headers["event_id"] == body["event_id"]
    uuid.UUID(body["event_id"])
    assert body["occurred_at"].endswith("+00:00")
    assert body["data"]["email"] == user["email"] and body["data"]["version"] == 1
