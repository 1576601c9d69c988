"""TLS settings reach every connection that is made from them
(docs/operations.md, "TLS to the broker and the databases"): the database
URL that the services' engines, Alembic and the scripts share, and the
AMQP options of nameko's config, the relay, the health check, the gateway
and the scripts. No TLS server is involved: what is checked is what each
client would connect with."""
import os
import ssl

import pytest
import yaml
from kombu import Connection
from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor
from sqlalchemy.engine import make_url

from services.common.config import amqp_ssl, db_settings, rpc_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CA = "/etc/edtech/tls/db ca.pem"  # a space, to check the quoting
VERIFY_FULL = {"LEARNING_DB_HOST": "learning-db.internal", "LEARNING_DB_SSLMODE": "verify-full",
               "LEARNING_DB_SSLROOTCERT": CA}
BROKER = "amqps://edtech:secret@broker.internal:5671/edtech"


# Databases -------------------------------------------------------------------

def test_no_tls_settings_leave_the_url_as_it_was():
    assert db_settings("learning", environ={}).url == \
        "postgresql+psycopg2://edtech_learning:edtech_learning_dev@127.0.0.1:5432/edtech_learning_db"


def test_sslmode_and_sslrootcert_reach_psycopg2():
    url = make_url(db_settings("learning", environ=VERIFY_FULL).url)
    assert dict(url.query) == {"sslmode": "verify-full", "sslrootcert": CA}
    from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
    _, connect_kwargs = PGDialect_psycopg2().create_connect_args(url)
    assert (connect_kwargs["sslmode"], connect_kwargs["sslrootcert"]) == ("verify-full", CA)
    assert connect_kwargs["host"] == "learning-db.internal"


def test_another_database_of_the_same_server_keeps_tls():
    settings = db_settings("learning", environ=VERIFY_FULL).with_name("edtech_learning_mig")
    assert dict(make_url(settings.url).query)["sslmode"] == "verify-full"
    assert make_url(settings.url).database == "edtech_learning_mig"


def test_the_services_engines_and_alembic_use_it(monkeypatch):
    for key, value in VERIFY_FULL.items():
        monkeypatch.setenv(key, value)
    from services.common.db import make_engine
    from services.common.migrations import alembic_config
    engine = make_engine("learning")  # makes no connection
    try:
        assert dict(engine.url.query) == {"sslmode": "verify-full", "sslrootcert": CA}
    finally:
        engine.dispose()
    alembic_url = make_url(alembic_config("learning").get_main_option("sqlalchemy.url"))
    assert dict(alembic_url.query) == {"sslmode": "verify-full", "sslrootcert": CA}


def test_a_mistyped_sslmode_is_refused_by_name():
    with pytest.raises(ValueError, match="AI_DB_SSLMODE must be one of .*'verify_full'"):
        db_settings("ai", environ={"AI_DB_SSLMODE": "verify_full"})


@pytest.mark.parametrize("sslmode", [None, "require", "prefer"])
def test_a_ca_file_without_verification_is_refused(sslmode):
    env = {"AI_DB_SSLROOTCERT": CA}
    if sslmode:
        env["AI_DB_SSLMODE"] = sslmode
    with pytest.raises(ValueError, match="AI_DB_SSLMODE must be verify-full"):
        db_settings("ai", environ=env)


# The broker ------------------------------------------------------------------

def test_a_plain_broker_uri_gets_no_tls():
    assert amqp_ssl("pyamqp://guest:guest@127.0.0.1:5672/", environ={}) is None
    assert rpc_config("pyamqp://guest:guest@127.0.0.1:5672/", environ={}) == {
        "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:5672/"}


def test_amqps_verifies_the_certificate_and_the_host_name():
    assert amqp_ssl(BROKER, environ={}) == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "broker.internal"}
    env = {"AMQP_SSL_CA_CERTS": "/etc/edtech/tls/ca.pem", "AMQP_SSL_CERTFILE": "/etc/edtech/tls/client.pem",
           "AMQP_SSL_KEYFILE": "/etc/edtech/tls/client.key"}
    assert amqp_ssl(BROKER, environ=env) == {
        "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "broker.internal", "ca_certs": "/etc/edtech/tls/ca.pem",
        "certfile": "/etc/edtech/tls/client.pem", "keyfile": "/etc/edtech/tls/client.key"}
    assert amqp_ssl(environ=dict(env, AMQP_URI=BROKER))["ca_certs"] == "/etc/edtech/tls/ca.pem"
    assert rpc_config(BROKER, environ=env) == {"AMQP_URI": BROKER, "AMQP_SSL": amqp_ssl(BROKER, environ=env)}


def test_with_failover_hosts_one_name_is_checked():
    failover = "amqps://u:p@rabbit-1.internal:5671/edtech;amqps://u:p@rabbit-2.internal:5671/edtech"
    assert amqp_ssl(failover, environ={})["server_hostname"] == "rabbit-1.internal"
    named = amqp_ssl(failover, environ={"AMQP_SSL_SERVER_HOSTNAME": "rabbit.internal"})
    assert named["server_hostname"] == "rabbit.internal"


def test_an_explicit_amqp_ssl_is_used_as_it_is():
    assert amqp_ssl(BROKER, environ={"AMQP_SSL": '{"ca_certs": "/ca.pem", "cert_reqs": 2}'}) == {
        "ca_certs": "/ca.pem", "cert_reqs": 2}
    with pytest.raises(ValueError, match="AMQP_SSL must be a mapping"):
        amqp_ssl(BROKER, environ={"AMQP_SSL": "yes"})


def nameko_config(service):
    """config/<service>.yaml as ``nameko run`` reads it, environment
    variables substituted, with a loader of its own (nameko's registers its
    constructors on yaml.SafeLoader itself, for every later reader)."""
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("!env_var", env_var_constructor)
    Loader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)
    with open(os.path.join(ROOT, "config", service + ".yaml")) as f:
        return yaml.load(f, Loader=Loader)


@pytest.fixture
def tls_broker(monkeypatch):
    monkeypatch.setenv("AMQP_URI", BROKER)
    monkeypatch.setenv("AMQP_SSL_CA_CERTS", "/etc/edtech/tls/ca.pem")
    monkeypatch.setenv("AMQP_SSL", "")  # restored (unset) afterwards, whatever tls_environment sets
    from services.common.nameko_cli import tls_environment
    tls_environment()
    return amqp_ssl()


@pytest.mark.parametrize("service", ["identity", "learning"])
def test_the_nameko_configs_get_the_options(tls_broker, service):
    config = nameko_config(service)
    assert config["AMQP_URI"] == BROKER
    assert config["AMQP_SSL"] == tls_broker == {"cert_reqs": 2, "server_hostname": "broker.internal",
                                                "ca_certs": "/etc/edtech/tls/ca.pem"}


def test_without_tls_the_nameko_configs_say_null(monkeypatch):
    monkeypatch.delenv("AMQP_URI", raising=False)
    monkeypatch.setenv("AMQP_SSL", "")
    from services.common.nameko_cli import tls_environment
    tls_environment()
    assert nameko_config("payment")["AMQP_SSL"] is None


def test_every_amqp_connection_uses_them(tls_broker, monkeypatch):
    from api_gateway.rpc import RpcPool
    from services.common import health
    from services.common.consumers import QueueConsumer
    from services.common.outbox import Relay
    config = {"AMQP_URI": BROKER, "AMQP_SSL": tls_broker}
    consumer = QueueConsumer()
    consumer.container = type("Container", (), {"config": config})()
    conn = consumer.connection  # what nameko's consumers connect with; not connected yet
    assert conn.transport_cls == "amqps" and conn.ssl == tls_broker
    assert RpcPool(BROKER, size=1, timeout=1).config == config

    made = []

    class Recorded(Connection):
        def ensure_connection(self, *args, **kwargs):
            made.append(self.ssl)
    monkeypatch.setattr(health, "Connection", Recorded)
    assert health.broker_status(BROKER, tls_broker) == "ok"
    assert health.broker_status(BROKER) == "ok"  # outside nameko: from the factory
    assert made == [tls_broker, tls_broker]
    relay = Relay("payment", model=None, uri=BROKER)
    try:
        assert relay.tls == tls_broker
    finally:
        relay.engine.dispose()
