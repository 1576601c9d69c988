"""services/common/rpc.py without a broker: which requests are refused,
and the TTL each client gives its requests (docs/architecture.md,
"Malformed messages" and "RPC requests expire")."""
import time
from types import SimpleNamespace

import pytest
from eventlet.event import Event
from kombu import Connection, Exchange, Queue
from nameko.containers import WorkerContext
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import StandaloneProxyBase

from services.common import rpc
from services.common.rpc import ClusterRpcProxy, MethodProxy, RpcProxy, malformed_request, request_ttl

NO_REPLY = "no reply_to, so nobody to answer"


def message(**properties):
    return SimpleNamespace(properties=properties)


@pytest.mark.parametrize("body, reason", [
    ({"args": [], "kwargs": {}}, None),
    ({"args": [1], "kwargs": {"a": 1}, "extra": True}, None),
    ({"args": []}, "the body has no kwargs"),
    ({}, "the body has no args or kwargs"),
    ([1, 2], "the body is an array, not an object"),
    ("ping", "the body is a string, not an object"),
    (None, "the body is null, not an object"),
    (b"\x00", "the body is bytes, not an object"),
    ({"args": "ab", "kwargs": {}}, "args is not a list"),
    ({"args": [], "kwargs": []}, "kwargs is not an object"),
])
def test_a_request_is_checked_before_it_runs(body, reason):
    assert malformed_request(body, message(reply_to="r", correlation_id="c")) == reason
    without_reply = malformed_request(body, message(correlation_id="c"))
    assert without_reply == ("{}; {}".format(reason, NO_REPLY) if reason else NO_REPLY)
    assert malformed_request(body, message(reply_to="")).endswith(NO_REPLY)


class Publisher:
    """Stands in for nameko's Publisher: records what each publish would send."""
    sent = []

    def __init__(self, amqp_uri, **options):
        self.expiration = None

    def publish(self, payload, **kwargs):
        Publisher.sent.append(dict(kwargs, expiration=self.expiration))


class Listener:
    """A reply listener, as far as MethodProxy uses one."""

    def __init__(self, timeout=None):
        self.queue_consumer = SimpleNamespace(timeout=timeout)
        self.routing_key = "reply-key"
        self._reply_events = {}

    def get_reply_event(self, correlation_id):
        self._reply_events[correlation_id] = event = Event()
        return event

    forget = rpc.ReplyListener.forget


@pytest.fixture
def worker_ctx(monkeypatch):
    monkeypatch.setattr(MethodProxy, "publisher_cls", Publisher)
    Publisher.sent = []
    container = StandaloneProxyBase.ServiceContainer({"AMQP_URI": "memory://"})
    return WorkerContext(container, service=None, entrypoint=StandaloneProxyBase.Dummy)


def test_a_standalone_request_expires_with_the_reply_timeout_at_the_call(worker_ctx):
    """The gateway changes the reply timeout before each call (api_gateway/rpc.py)."""
    listener = Listener(timeout=2.0)
    MethodProxy(worker_ctx, "identity", "register", listener).call_async({})
    listener.queue_consumer.timeout = 0.25
    MethodProxy(worker_ctx, "identity", "register", listener).call_async({})
    listener.queue_consumer.timeout = None  # no timeout given: none is made up
    MethodProxy(worker_ctx, "identity", "register", listener).call_async({})
    assert [p["expiration"] for p in Publisher.sent] == [2.0, 0.25, None]
    assert all(p["routing_key"] == "identity.register" and p["reply_to"] == "reply-key" for p in Publisher.sent)


def test_a_ttl_never_rounds_down_to_zero():
    assert request_ttl(0.0001) == rpc.MIN_TTL and request_ttl(None) is None and request_ttl(3) == 3.0


def test_an_in_service_call_gives_up_with_its_request(worker_ctx):
    listener = Listener()
    reply = MethodProxy(worker_ctx, "identity", "list_users", listener, timeout=0.05).call_async("token")
    assert Publisher.sent[-1]["expiration"] == 0.05
    started = time.monotonic()
    with pytest.raises(RpcTimeout):
        reply.result()
    assert time.monotonic() - started < 1
    assert listener._reply_events == {}  # a late answer is dropped as unknown


def test_an_in_service_reply_in_time_is_returned(worker_ctx):
    listener = Listener()
    reply = MethodProxy(worker_ctx, "identity", "list_users", listener, timeout=5).call_async("token")
    [event] = listener._reply_events.values()
    event.send({"result": {"items": []}, "error": None})
    assert reply.result() == {"items": []}


def test_rpc_proxy_takes_its_timeout_from_the_config(worker_ctx):
    proxy = RpcProxy("identity")
    proxy.container = SimpleNamespace(config={"RPC_TIMEOUT": "4"})
    assert getattr(proxy.get_dependency(worker_ctx), "list_users").timeout == 4.0
    proxy.container = SimpleNamespace(config={})
    assert getattr(proxy.get_dependency(worker_ctx), "list_users").timeout == rpc.DEFAULT_RPC_TIMEOUT
    fixed = RpcProxy("identity", timeout=1.5)
    fixed.container = SimpleNamespace(config={"RPC_TIMEOUT": "4"})
    assert getattr(fixed.get_dependency(worker_ctx), "list_users").timeout == 1.5


def test_cluster_rpc_proxy_makes_expiring_calls():
    proxy = ClusterRpcProxy({"AMQP_URI": "memory://"}, timeout=2)
    method = proxy._proxy.identity.register  # not started: nothing is sent
    assert isinstance(method, MethodProxy) and method.caller_timeout() == 2
    assert isinstance(proxy._proxy["learning"].resync_users, MethodProxy)


def test_kombu_sends_the_ttl_in_milliseconds():
    with Connection("memory://") as conn:
        queue = Queue("ttl-check", Exchange("ttl-check"), "k")
        producer = conn.Producer()
        producer.publish({}, exchange=queue.exchange, routing_key="k", declare=[queue],
                         expiration=request_ttl(0.25))
        received = queue(conn.default_channel).get(no_ack=True)
    assert received.properties["expiration"] == "250"


def test_a_broker_lost_during_a_gateway_call_is_service_unavailable():
    """kombu reports a lost broker as its own OperationalError, not an
    OSError: the field is SERVICE_UNAVAILABLE, and the client is dropped."""
    import types
    from kombu.exceptions import OperationalError

    from api_gateway.rpc import RequestRpc, ServiceUnavailable

    def refused(*args, **kwargs):
        raise OperationalError("[Errno 111] ECONNREFUSED")
    proxy = types.SimpleNamespace(_reply_listener=types.SimpleNamespace(
        queue_consumer=types.SimpleNamespace(timeout=None)))
    services = types.SimpleNamespace(communication=types.SimpleNamespace(start_conversation=refused))
    released = []
    pool = types.SimpleNamespace(timeout=2, acquire=lambda timeout: (proxy, services),
                                 release=lambda client, broken=False: released.append(broken))
    with pytest.raises(ServiceUnavailable, match="broker unreachable"):
        RequestRpc(pool, 5).call("communication", "start_conversation", "token", {})
    assert released == [True]
