"""Broker down between identity's commit and the event's publication: every
committed user still reaches learning once the broker is back, and a
registration that rolled back publishes nothing.

This stops the RabbitMQ application on this machine for a few seconds
(``rabbitmqctl stop_app``), so it runs last in the suite."""
import subprocess
import time

import pytest
from sqlalchemy.orm import sessionmaker

from services.common.db import make_engine
from services.common.outbox import OutboxWriter
from services.identity import users
from services.identity.models import OutboxEvent
from tests.integration.helpers import Db, new_user, wait_for

pytestmark = pytest.mark.broker_outage


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def register_in_process(session, payload):
    """identity's own registration code, committed straight to its database
    (RPC cannot reach identity while the broker is down)."""
    return users.create(session, OutboxWriter("identity", OutboxEvent), payload)


def test_committed_users_arrive_after_the_broker_returns(platform, databases, amqp_uri):
    identity_db, learning_db = Db(databases["identity"].url), Db(databases["learning"].url)
    engine = make_engine("identity", pool_size=1)
    Session = sessionmaker(bind=engine)
    committed, rolled_back = [], new_user()
    rabbitmqctl("stop_app")
    try:
        with Session() as session:
            for i in range(5):
                committed.append(str(register_in_process(session, new_user(i)).id))
            session.commit()
        with Session() as session:
            register_in_process(session, rolled_back)
            session.rollback()
        time.sleep(2)  # the relay tries, fails and backs off
        assert identity_db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL "
                                  "AND envelope->'data'->>'user_id' = ANY(:ids)", ids=committed) == 5
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        engine.dispose()
    wait_for(lambda: learning_db.scalar("SELECT count(*) FROM students WHERE user_id::text = ANY(:ids)",
                                        ids=committed) == 5, timeout=90, message="copies after the outage")
    assert identity_db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL "
                              "AND envelope->'data'->>'user_id' = ANY(:ids)", ids=committed) == 0
    assert identity_db.scalar("SELECT count(*) FROM users WHERE email = :e", e=rolled_back["email"]) == 0
    assert identity_db.scalar("SELECT count(*) FROM outbox WHERE envelope->'data'->>'email' = :e",
                              e=rolled_back["email"]) == 0
    assert learning_db.scalar("SELECT count(*) FROM students WHERE email = :e", e=rolled_back["email"]) == 0
    # and the services answer RPC again
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as rpc:
        wait_for(lambda: rpc.identity.health()["status"] == "ok", timeout=30, message="identity back")
        assert rpc.identity.register(new_user())["id"]
