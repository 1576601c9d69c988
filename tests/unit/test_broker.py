"""The broker's users and their permission table (services/common/broker.py)
and the broker settings (services/common/config.py), without a broker.

RabbitMQ matches permissions with Erlang's re (PCRE); the expressions here
use only what Python's re reads the same way (anchors, groups,
alternation, classes, counted repeats), so they are checked with it."""
import base64
import hashlib
import os
import re
import stat
import types
import uuid

import pytest

from services.common import broker
from services.common.config import (PRINCIPALS, SERVICES, MissingSetting, amqp_uri, broker_settings,
                                    mask_uri)

TABLE = broker.grants(environ={})
EXCHANGES = broker.exchanges()


def matches(pattern, name):
    return re.fullmatch(pattern, name) is not None  # RabbitMQ's are anchored ^...$ already


def reply(principal):
    return broker.reply_key("edtech_" + principal, uuid.uuid4())


def may_publish(principal, exchange, key):
    g = TABLE[principal]
    topic = g.topic(exchange)
    return matches(g.write, exchange) and topic is not None and matches(topic[0], key)


def may_bind(principal, exchange, key):
    g = TABLE[principal]
    topic = g.topic(exchange)
    return matches(g.read, exchange) and topic is not None and matches(topic[1], key)


# settings --------------------------------------------------------------------

def test_mask_uri_hides_every_password_of_a_failover_uri():
    uri = "pyamqp://a:one@h1:5672/v;pyamqp://b:two@h2:5672/v;amqps://c:th%40ree@h3//"
    masked = mask_uri(uri)
    assert masked == "pyamqp://a:********@h1:5672/v;pyamqp://b:********@h2:5672/v;amqps://c:********@h3//"
    assert mask_uri("pyamqp://a:p@ss@h/") == "pyamqp://a:********@h/"  # a raw @ is masked whole
    assert mask_uri("pyamqp://h1//;memory://") == "pyamqp://h1//;memory://"
    assert mask_uri(None) is None


def test_each_principal_has_its_own_login():
    env = {"{}_AMQP_PASSWORD".format(p.upper()): "pw-" + p for p in PRINCIPALS}
    users = {broker_settings(p, env).user for p in PRINCIPALS}
    assert users == {"edtech_" + p for p in PRINCIPALS}
    st = broker_settings("learning", dict(env, AMQP_HOST="r1,r2:5673", AMQP_VHOST="edtech-x",
                                          LEARNING_AMQP_PASSWORD="p@ss/w;rd"))
    assert st.uri == ("pyamqp://edtech_learning:p%40ss%2Fw%3Brd@r1:5672/edtech-x;"
                      "pyamqp://edtech_learning:p%40ss%2Fw%3Brd@r2:5673/edtech-x")
    assert "p@ss" not in repr(st)


def test_a_missing_password_is_named():
    with pytest.raises(MissingSetting, match="GATEWAY_AMQP_PASSWORD"):
        broker_settings("gateway", {})


def test_a_user_name_must_stay_one_routing_key_word():
    with pytest.raises(ValueError, match="OPERATOR_AMQP_USER"):
        broker_settings("operator", {"OPERATOR_AMQP_PASSWORD": "x", "OPERATOR_AMQP_USER": "ops.team"})


def test_tools_connect_as_the_operator_unless_told_otherwise():
    assert amqp_uri({"OPERATOR_AMQP_PASSWORD": "x"}) == "pyamqp://edtech_operator:x@127.0.0.1:5672/"
    assert amqp_uri({"OPERATOR_AMQP_PASSWORD": "x", "AMQP_URI": "pyamqp://me:y@h/"}) == "pyamqp://me:y@h/"


# the table -------------------------------------------------------------------

def test_no_one_may_configure_an_exchange_or_use_the_default_one():
    for g in TABLE.values():
        for exchange in EXCHANGES + ["amq.default", "amq.topic", "amq.direct"]:
            assert not matches(g.configure, exchange), (g.principal, exchange)
        assert not matches(g.write, "amq.default") and not matches(g.read, "amq.default")


def test_every_exchange_a_user_reaches_has_topic_permissions():
    """Without a topic permission RabbitMQ allows every routing key."""
    for g in TABLE.values():
        for exchange in EXCHANGES:
            if matches(g.write, exchange) or matches(g.read, exchange):
                assert g.topic(exchange) is not None, (g.principal, exchange)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_events_are_published_by_their_producer_only(principal):
    for service in SERVICES:
        assert may_publish(principal, service + ".events", "user_updated") == (principal == service)


def test_a_subscriber_binds_only_the_events_it_follows():
    assert may_bind("learning", "identity.events", "user_updated")
    assert may_bind("communication", "identity.events", "user_created")
    assert may_bind("communication", "identity.events", "user_updated")
    assert not may_bind("communication", "identity.events", "user_token_issued")
    assert not may_bind("analytics", "communication.events", "video_session_created")  # the room's URL: learning's only
    assert may_bind("learning", "communication.events", "video_session_created")
    assert not may_bind("learning", "identity.events", "#")
    assert not may_bind("payment", "identity.events", "user_created")
    assert not may_bind("gateway", "identity.events", "user_created")
    assert not may_bind("learning", "payment.events", "payment_completed")
    assert may_bind("operator", "identity.events", "#")  # operators watch events


def test_the_gateway_binds_only_activity_added_on_live_queues_of_its_own():
    """The gateway's live streams (api_gateway/live.py) learn that a user has
    something new, never what: no other communication event, no other source."""
    assert may_bind("gateway", "communication.events", "activity_added")
    for key in ("message_sent", "video_session_created", "#", "*", "activity_added.x"):
        assert not may_bind("gateway", "communication.events", key), key
    assert not may_bind("gateway", "identity.events", "activity_added")
    assert not may_publish("gateway", "communication.events", "activity_added")
    live = broker.LIVE_QUEUES + str(uuid.uuid4())
    gateway = TABLE["gateway"]
    assert matches(gateway.configure, live) and matches(gateway.read, live)
    for other in PRINCIPALS:
        if other != "gateway":
            assert not matches(TABLE[other].configure, live), other
            assert not may_bind(other, "communication.events", "activity_added") or other == "operator", other
    assert not matches(gateway.configure, broker.LIVE_QUEUES + "anything")


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_only_a_service_binds_its_rpc_keys(principal):
    for service in SERVICES:
        for key in (service + ".*", service + ".login", service + ".#", "*.login", "#", "*.*"):
            assert may_bind(principal, "nameko-rpc", key) == (principal == service and key == service + ".*"), key


def test_requests_come_only_from_callers():
    assert may_publish("gateway", "nameko-rpc", "identity.login")
    assert may_publish("operator", "nameko-rpc", "payment.health")
    assert may_publish("learning", "nameko-rpc", "identity.list_users")
    assert may_publish("learning", "nameko-rpc", "identity.get_users")
    assert not may_publish("learning", "nameko-rpc", "identity.login")
    assert not may_publish("learning", "nameko-rpc", "payment.ping")
    assert not may_publish("analytics", "nameko-rpc", "identity.list_users")
    assert not may_publish("gateway", "nameko-rpc", "identity.login.x")  # one method word


def test_replies_go_only_to_the_services_callers_and_only_they_bind_them():
    assert may_publish("identity", "nameko-rpc", reply("learning"))
    assert may_publish("identity", "nameko-rpc", reply("gateway"))
    assert not may_publish("learning", "nameko-rpc", reply("learning"))  # no one asks learning as learning
    assert not may_publish("identity", "nameko-rpc", str(uuid.uuid4()))  # nameko's bare uuid key
    for caller in ("gateway", "operator", "learning"):
        for other in PRINCIPALS:
            assert may_bind(other, "nameko-rpc", reply(caller)) == (other == caller), (caller, other)


def test_each_principal_owns_its_queues_only():
    uid = uuid.uuid4()
    own = {"identity": ["rpc-identity"],
           "learning": ["rpc-learning", "evt-identity-user_updated--learning.on_user_updated",
                        broker.reply_queue("edtech_learning", uid)],
           "communication": ["evt-identity-user_created--communication.on_user_created"],
           "gateway": [broker.reply_queue("edtech_gateway", uid)],
           "operator": [broker.reply_queue("edtech_operator", uid), "operator.watch"]}
    everyone = [q for qs in own.values() for q in qs]
    for principal, queues in own.items():
        g = TABLE[principal]
        for queue in everyone:
            mine = queue in queues
            assert matches(g.configure, queue) == matches(g.read, queue) == mine, (principal, queue)
    # a subscriber's queue names only the events it follows
    assert not matches(TABLE["communication"].configure, "evt-identity-session_started--communication.x")


def test_definitions_carry_hashes_not_passwords():
    env = {"{}_AMQP_PASSWORD".format(p.upper()): "secret-" + p for p in PRINCIPALS}
    doc = broker.definitions(env)
    text = repr(doc)
    assert not any("secret-" + p in text for p in PRINCIPALS)
    assert {u["name"] for u in doc["users"]} == {"edtech_" + p for p in PRINCIPALS}
    assert all(u["tags"] == "" for u in doc["users"])
    assert sorted(e["name"] for e in doc["exchanges"]) == sorted(EXCHANGES)
    # rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))
    raw = base64.b64decode(doc["users"][0]["password_hash"])
    assert raw[4:] == hashlib.sha256(raw[:4] + b"secret-identity").digest()


def test_secrets_are_made_once_and_kept_private(tmp_path):
    path = str(tmp_path / "broker.env")
    assert len(broker.ensure_secrets(path)) == len(PRINCIPALS)
    first = broker.read_secrets(path)
    assert broker.ensure_secrets(path) == []
    assert broker.read_secrets(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(set(first.values())) == len(PRINCIPALS)


# nameko ----------------------------------------------------------------------

def test_reply_queues_and_keys_carry_the_broker_user():
    broker.adapt_nameko()
    import nameko.rpc
    registered = []
    listener = types.SimpleNamespace(
        container=types.SimpleNamespace(config={"AMQP_URI": "pyamqp://edtech_gateway:pw@h//"},
                                        service_name="standalone_rpc_proxy"),
        queue_consumer=types.SimpleNamespace(register_provider=registered.append))
    nameko.rpc.ReplyListener.setup(listener)
    assert re.fullmatch(r"reply-edtech_gateway-" + broker.UUID, listener.routing_key)
    assert listener.queue.name == "rpc." + listener.routing_key
    assert listener.queue.exchange.passive and registered == [listener]
    assert matches(TABLE["gateway"].configure, listener.queue.name)


def test_nameko_checks_exchanges_instead_of_declaring_them():
    broker.adapt_nameko()
    import nameko.events
    import nameko.rpc
    assert nameko.rpc.get_rpc_exchange({}).passive
    assert nameko.events.get_event_exchange("identity", {}).passive
    # and the copy kombu binds to a channel keeps it
    assert nameko.rpc.get_rpc_exchange({}).bind(None).passive


def test_nameko_logs_no_password_of_a_failover_uri():
    broker.adapt_nameko()
    import nameko.messaging
    assert "two" not in nameko.messaging.sanitize_url("pyamqp://a:one@h1//;pyamqp://b:two@h2//")


def test_the_shell_banner_hides_every_password():
    from services.common.nameko_cli import mask_shell_banner
    mask_shell_banner()
    import nameko.cli.shell
    banner = "Nameko shell\nBroker: pyamqp://a:one@h1//;pyamqp://b:two@h2// (from --config)"
    runner = nameko.cli.shell.ShellRunner(banner, {})
    assert runner.banner == "Nameko shell\nBroker: pyamqp://a:********@h1//;pyamqp://b:********@h2// (from --config)"


def test_platform_gives_each_process_only_its_own_broker_login(tmp_path):
    from scripts.platformctl import Platform
    env = {"{}_AMQP_PASSWORD".format(p.upper()): "pw-" + p for p in PRINCIPALS}
    env.update(AMQP_URI="pyamqp://edtech_operator:pw-operator@127.0.0.1:5672/", AMQP_VHOST="edtech-x")
    platform = Platform(run_dir=str(tmp_path / "run"), env=env)
    assert not [k for k in platform.env if k == "AMQP_URI" or k.endswith("_AMQP_PASSWORD")]
    learning = platform.broker_env("learning")
    assert learning == {"AMQP_URI": "pyamqp://edtech_learning:pw-learning@127.0.0.1:5672/edtech-x"}
    assert platform.broker_env("gateway")["AMQP_URI"].startswith("pyamqp://edtech_gateway:pw-gateway@")
