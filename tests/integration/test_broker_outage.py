"""Broker down between identity's commit and the event's publication: every
committed user still reaches learning once the broker is back, and a
registration that rolled back publishes nothing.

This stops the RabbitMQ application on this machine for a few seconds
(``rabbitmqctl stop_app``), so it runs last in the suite."""
import subprocess
import time

import pytest
from services.common.uow import script_units
from services.identity import users
from services.identity.events import PUBLISHED
from services.identity.models import Base
from tests.integration.helpers import Db, new_user, registered, wait_for

pytestmark = pytest.mark.broker_outage


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def register_in_process(units, payload, commit=True):
    """identity's own registration code, in a unit of work on its database
    (RPC cannot reach identity while the broker is down)."""
    with units() as uow:
        user_id = str(users.create(uow, payload).id)
        if commit:
            uow.commit()
    return user_id


def test_committed_users_arrive_after_the_broker_returns(platform, databases, amqp_uri):
    identity_db, learning_db = Db(databases["identity"].url), Db(databases["learning"].url)
    committed, rolled_back = [], new_user()
    rabbitmqctl("stop_app")
    try:
        with script_units("identity", Base, PUBLISHED) as units:
            committed = [register_in_process(units, new_user(i)) for i in range(5)]
            register_in_process(units, rolled_back, commit=False)  # left without commit: rolled back
        time.sleep(2)  # the relay tries, fails and backs off
        assert identity_db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL "
                                  "AND envelope->'data'->>'user_id' = ANY(:ids)", ids=committed) == 5
        # The relay says why the oldest event is stuck, for operators.
        attempts, error = identity_db.all("SELECT attempts, last_error FROM outbox WHERE published_at IS NULL "
                                          "ORDER BY id LIMIT 1")[0]
        assert attempts >= 1 and error
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
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
        again = new_user()
        assert registered(rpc, again)[0]["id"]   # registers, verifies through the mail, signs in
