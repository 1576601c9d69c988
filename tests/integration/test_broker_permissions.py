"""Each principal's RabbitMQ user may do what the permission table allows
and nothing more (services/common/broker.py; docs/architecture.md, "The
broker: a user each").

Against the running platform in the test vhost, every forgery and wiretap
is tried with the credentials of each principal that should not manage it,
and RabbitMQ must refuse it with ACCESS_REFUSED: a forged identity event,
a queue bound to another service's RPC keys or to another caller's reply
keys, another service's queue consumed, an RPC request to a service the
caller does not call, a message dropped straight into a queue, an exchange
declared or deleted."""
import json
import os
import subprocess
import sys
import uuid

import amqp
import pytest
from kombu import Connection

from services.common import broker
from services.common.config import PRINCIPALS, SERVICES, broker_settings
from tests.integration.helpers import ROOT, make_envelope, user_snapshot, wait_for

RPC = broker.RPC_EXCHANGE
CALLERS = sorted(p for p in PRINCIPALS if broker.RPC_CALLS.get(p))
# Binding keys that would catch identity.login: the key itself and each wildcard over it.
LOGIN_TAPS = ("identity.login", "identity.*", "identity.#", "*.login", "#", "*.*")


def vhost():
    return broker_settings("operator").vhost


def user(principal):
    return broker_settings(principal).user


def refused(action):
    """``action`` is refused by the broker; returns what it said."""
    with pytest.raises(amqp.exceptions.AccessRefused) as info:
        action()
    assert "ACCESS_REFUSED" in str(info.value), info.value
    return str(info.value)


def channel_of(principal):
    """A fresh connection and channel as ``principal``, with publisher
    confirms, so a refused publish is raised where it is made."""
    conn = Connection(broker_settings(principal).uri, transport_options={"confirm_publish": True})
    return conn, conn.channel()


def publish(principal, exchange, routing_key, body, **properties):
    conn, channel = channel_of(principal)
    with conn:
        channel.basic_publish(amqp.Message(json.dumps(body), content_type="application/json", **properties),
                              exchange=exchange, routing_key=routing_key)


def own_queue(principal, channel):
    """A queue ``principal`` may declare, bind and read: a reply queue of its
    own for a caller, else its service's RPC queue (which already exists)."""
    if principal in CALLERS:
        name = broker.reply_queue(user(principal), uuid.uuid4())
        channel.queue_declare(name, exclusive=True, auto_delete=True)
    else:
        name = "rpc-" + principal
        channel.queue_declare(name, passive=True)
    return name


def bind(principal, routing_key, exchange=RPC):
    """Bind a queue ``principal`` owns to ``exchange`` with ``routing_key``
    (unbound again should the broker allow it)."""
    conn, channel = channel_of(principal)
    with conn:
        queue = own_queue(principal, channel)
        channel.queue_bind(queue, exchange, routing_key)
        conn.channel().queue_unbind(queue, exchange, routing_key)  # only reached if the test fails


@pytest.mark.parametrize("principal", [p for p in PRINCIPALS if p != "identity"])
def test_only_identity_publishes_identity_events(platform, principal):
    """A forged user_updated would change learning's copy of a user."""
    forged = make_envelope("user_updated", user_snapshot(version=99, email="forged@example.com"))
    said = refused(lambda: publish(principal, "identity.events", "user_updated", forged))
    assert "identity.events" in said


@pytest.mark.parametrize("principal", [p for p in PRINCIPALS if p != "identity"])
@pytest.mark.parametrize("key", LOGIN_TAPS)
def test_no_one_but_identity_binds_identitys_rpc_keys(platform, principal, key):
    """A queue bound with identity.login would get a copy of every sign-in
    request, password included."""
    said = refused(lambda: bind(principal, key))
    assert "access to topic '{}' in exchange '{}'".format(key, RPC) in said


def live_bind(principal, routing_key, exchange="communication.events"):
    """Declare a live queue (the gateway's ``gateway.live-<uuid>``) as
    ``principal`` and bind it to ``exchange`` with ``routing_key``."""
    conn, channel = channel_of(principal)
    with conn:
        queue = broker.LIVE_QUEUES + str(uuid.uuid4())
        channel.queue_declare(queue, exclusive=True, auto_delete=True)
        channel.queue_bind(queue, exchange, routing_key)


def test_the_gateway_binds_its_live_queues_with_activity_added_only(platform):
    """GET /stream's wake-ups (api_gateway/live.py): the gateway learns that a
    user has something new, and nothing else communication publishes."""
    live_bind("gateway", "activity_added")
    for key in ("message_sent", "video_session_created", "#", "*"):
        said = refused(lambda: live_bind("gateway", key))
        assert "access to topic '{}' in exchange 'communication.events'".format(key) in said
    refused(lambda: live_bind("gateway", "activity_added", exchange="identity.events"))
    for other in ("learning", "communication", "analytics"):  # the name is the gateway's alone
        refused(lambda: live_bind(other, "activity_added"))


@pytest.mark.parametrize("principal", CALLERS)
def test_a_caller_binds_no_other_callers_reply_keys(platform, principal):
    """learning sees the gateway's reply key as the reply_to of every request
    the gateway sends it; binding it would copy the gateway's replies
    (tokens from identity.login) to learning."""
    for other in CALLERS:
        if other != principal:
            key = broker.reply_key(user(other), uuid.uuid4())
            assert "access to topic '{}'".format(key) in refused(lambda: bind(principal, key))
            legacy = str(uuid.uuid4())  # nameko's own bare-uuid reply key (broker.adapt_nameko)
            assert "access to topic '{}'".format(legacy) in refused(lambda: bind(principal, legacy))


@pytest.mark.parametrize("principal", ["learning", "operator"])
def test_an_exchange_of_ones_own_taps_nothing(platform, principal):
    """A user may name an exchange as it names its queues (configure), and
    bind it to nameko-rpc: the key is checked all the same."""
    name = "rpc-learning" if principal == "learning" else "operator.tap-" + uuid.uuid4().hex[:8]
    conn, channel = channel_of(principal)
    with conn:
        channel.exchange_declare(name, "fanout", auto_delete=True)
        try:
            refused(lambda: channel.exchange_bind(name, RPC, "identity.login"))
        finally:
            conn.channel().exchange_delete(name)


@pytest.mark.parametrize("principal, queue", [
    ("analytics", "evt-identity-user_created--learning.on_user_created"),
    ("communication", "evt-identity-session_revoked--learning.on_session_revoked"),
    ("learning", "rpc-identity"),
    ("gateway", "rpc-identity"),
    ("operator", "rpc-identity"),
    ("identity", "rpc-learning"),
])
def test_no_one_consumes_or_deletes_another_services_queue(platform, principal, queue):
    for action in ("consume", "get", "purge", "delete", "bind"):
        conn, channel = channel_of(principal)
        with conn:
            refused({"consume": lambda: channel.basic_consume(queue, callback=lambda message: None),
                     "get": lambda: channel.basic_get(queue),
                     "purge": lambda: channel.queue_purge(queue),
                     "delete": lambda: channel.queue_delete(queue),
                     "bind": lambda: channel.queue_bind(queue, "identity.events", "user_updated")}[action])


@pytest.mark.parametrize("principal, routing_key", [
    ("learning", "identity.login"),        # learning calls identity's list_users and get_users only
    ("learning", "identity.register"),
    ("learning", "payment.ping"),
    ("analytics", "identity.list_users"),
    ("communication", "learning.resync_users"),
    ("identity", "learning.health"),
    ("payment", "identity.get_users"),
])
def test_rpc_requests_only_from_callers_that_need_them(platform, principal, routing_key):
    key = broker.reply_key(user(principal), uuid.uuid4())
    said = refused(lambda: publish(principal, RPC, routing_key, {"args": [], "kwargs": {}},
                                   reply_to=key, correlation_id=str(uuid.uuid4())))
    assert "access to topic '{}'".format(routing_key) in said


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_one_drops_a_message_straight_into_a_queue(platform, principal):
    """The default exchange delivers to any queue by name; no one may use it."""
    forged = make_envelope("user_updated", user_snapshot(version=99))
    said = refused(lambda: publish(principal, "", "evt-identity-user_updated--learning.on_user_updated", forged))
    assert "amq.default" in said


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_one_declares_or_deletes_an_exchange(platform, principal):
    """Configure on nameko-rpc would let a user delete it and declare it
    again as a direct exchange, where topic permissions do not apply."""
    for action in (lambda ch: ch.exchange_declare(RPC, "topic", durable=True),
                   lambda ch: ch.exchange_declare(RPC, "direct", durable=True),
                   lambda ch: ch.exchange_delete(RPC),
                   lambda ch: ch.exchange_delete("{}.events".format(principal if principal in SERVICES
                                                                    else "identity"))):
        conn, channel = channel_of(principal)
        with conn:
            refused(lambda: action(channel))


def test_a_refused_reply_does_not_stop_the_service(platform, rpc):
    """A caller may name any reply_to; identity's reply to a key it may not
    publish to is refused, logged once, and identity goes on answering,
    without a restart (services/common/broker.py, adapt_nameko)."""
    pid, log = platform.pid("identity"), platform.log_path("identity")
    offset = os.path.getsize(log)
    for reply_to in ("identity.login", "reply-{}-{}".format(user("payment"), uuid.uuid4())):
        publish("gateway", RPC, "identity.ping", {"args": [], "kwargs": {}},
                reply_to=reply_to, correlation_id=str(uuid.uuid4()))
    wait_for(lambda: read_from(log, offset).count("refused reply to") == 2, message="two refused replies")
    for _ in range(20):
        assert rpc.identity.ping() == "pong"
    written = read_from(log, offset)
    assert "Traceback" not in written and "killing" not in written, written
    assert platform.pid("identity") == pid


def read_from(path, offset):
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def test_each_process_connects_as_its_own_user(platform, rpc):
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "vhost", "user"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    connected = {line.split("\t")[1] for line in out.splitlines()[1:] if line.split("\t")[0] == vhost()}
    for service in SERVICES:
        assert user(service) in connected, (service, connected)
    assert user("operator") in connected  # the tests' own client
    assert "guest" not in connected


def test_the_broker_holds_the_table(platform):
    """What provisioning left on the broker is exactly the computed table."""
    table = broker.grants()
    ours = {g.user: g for g in table.values()}

    def listed(*command):
        out = subprocess.run(["rabbitmqctl", "-q", *command, "-p", vhost()], check=True, capture_output=True,
                             text=True, timeout=60).stdout
        return [line.split("\t") for line in out.splitlines()[1:] if line.split("\t")[0] in ours]

    assert sorted(tuple(row) for row in listed("list_permissions")) == sorted(
        (g.user, g.configure, g.write, g.read) for g in table.values())
    assert sorted(tuple(row) for row in listed("list_topic_permissions")) == sorted(
        (g.user, e, w, r) for g in table.values() for e, w, r in g.topics)
    tags = subprocess.run(["rabbitmqctl", "-q", "list_users"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    for line in tags.splitlines():
        name, _, tag = line.partition("\t")
        if name in ours:
            assert tag.strip() == "[]", line  # no management, no administrator


def test_the_allowed_paths_work(platform, rpc, broker_uris, databases):
    """The other side: identity's own events reach learning's copy, a caller
    gets its replies, an operator can watch events on an operator. queue."""
    from tests.integration.helpers import Db, publish as publish_event
    snapshot = user_snapshot()
    conn = Connection(broker_uris["operator"])
    with conn:
        channel = conn.channel()
        watch = "operator.watch-" + uuid.uuid4().hex[:8]
        channel.queue_declare(watch, exclusive=True, auto_delete=True)
        channel.queue_bind(watch, "identity.events", "user_created")
        publish_event(broker_uris["operator"], "identity", make_envelope("user_created", snapshot))
        message = wait_for(lambda: channel.basic_get(watch, no_ack=True), message="the watched event")
        assert json.loads(message.body)["data"]["user_id"] == snapshot["user_id"]
    learning_db = Db(databases["learning"].url)
    wait_for(lambda: learning_db.scalar("SELECT count(*) FROM students WHERE user_id = :u",
                                        u=snapshot["user_id"]), message="learning's copy")
    assert rpc.identity.ping() == "pong"


def test_an_operators_nameko_shell_works_and_hides_its_passwords(amqp_uri):
    """The operator's shell (docs/operations.md) calls services as the
    operator; its banner shows the broker's URI, here a failover one, with
    no password (nameko alone prints the URI as it is)."""
    failover = amqp_uri + ";" + amqp_uri
    password = broker_settings("operator").password
    done = subprocess.run([sys.executable, "-m", "services.common.nameko_cli", "shell", "--broker", failover,
                           "--interface", "plain"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          input="print('reply queue', n.rpc._reply_listener.queue.name)\n",
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert "Broker: " in output and password not in output, output
    assert "reply queue rpc.reply-{}-".format(user("operator")) in output, output
