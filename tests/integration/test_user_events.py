"""Identity's user events reach learning, analytics and communication, and
are not lost, duplicated or reordered under real faults."""
import re
import uuid

import eventlet
import pytest

import services.common.errors  # noqa: F401  (typed errors across RPC)
from tests.integration.helpers import Db, make_envelope, new_user, publish, registered, user_snapshot, wait_for


@pytest.fixture(scope="module")
def dbs(databases):
    return {name: Db(settings.url) for name, settings in databases.items()}


def student_copy(dbs, user_id):
    rows = dbs["learning"].all("SELECT email, name, source_version, user_status FROM students WHERE user_id = :u",
                               u=str(user_id))
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_registration_reaches_every_follower(platform, rpc, dbs):
    (user,) = registered(rpc, new_user())
    uid = user["id"]
    copy = wait_for(lambda: student_copy(dbs, uid), message="learning's student copy")
    assert copy.email == user["email"] and copy.name == "Ada " + user["last_name"]
    wait_for(lambda: dbs["analytics"].scalar("SELECT count(*) FROM user_metrics WHERE user_id = :u", u=uid),
             message="analytics user_metrics row")
    wait_for(lambda: dbs["analytics"].scalar(
        "SELECT count(*) FROM analytics_events WHERE user_id = :u AND event_type = 'user_created'", u=uid),
        message="analytics event log")
    wait_for(lambda: dbs["communication"].scalar(
        "SELECT count(*) FROM notifications WHERE user_id = :u AND type = 'welcome'", u=uid),
        message="welcome notification")
    assert dbs["learning"].scalar("SELECT count(*) FROM tutors WHERE user_id = :u", u=uid) == 0


def test_tutor_gets_a_tutor_copy(platform, rpc, dbs):
    (user,) = registered(rpc, new_user(role="tutor"))
    wait_for(lambda: dbs["learning"].scalar("SELECT count(*) FROM tutors WHERE user_id = :u", u=user["id"]),
             message="tutor copy")
    assert dbs["learning"].scalar("SELECT count(*) FROM students WHERE user_id = :u", u=user["id"]) == 0


def test_email_and_name_changes_reach_the_copy(platform, rpc, dbs):
    payload = new_user()
    rpc.identity.register(payload)
    session = rpc.identity.login({"email": payload["email"], "password": payload["password"]})
    user, token = session["user"], session["access_token"]
    wait_for(lambda: student_copy(dbs, user["id"]), message="copy")
    new_email = "renamed-{}@example.com".format(uuid.uuid4().hex[:8])
    rpc.identity.update_user(token, user["id"], {"email": new_email.upper(), "first_name": "Grace"})
    copy = wait_for(lambda: (c := student_copy(dbs, user["id"])) and c.source_version == 2 and c,
                    message="updated copy")
    assert copy.email == new_email and copy.name.startswith("Grace ")


def test_same_event_twice_is_applied_once(platform, amqp_uri, dbs):
    env = make_envelope("user_created", user_snapshot())
    uid = env["data"]["user_id"]
    publish(amqp_uri, "identity", env)
    publish(amqp_uri, "identity", env)
    wait_for(lambda: dbs["analytics"].scalar("SELECT count(*) FROM analytics_events WHERE user_id = :u", u=uid),
             message="analytics saw it")
    wait_for(lambda: student_copy(dbs, uid), message="copy")
    wait_for(lambda: dbs["communication"].scalar("SELECT count(*) FROM notifications WHERE user_id = :u", u=uid),
             message="welcome notification")
    eventlet.sleep(1.0)  # give the second delivery time to be (not) applied
    consumer = dbs["learning"].scalar("SELECT consumer FROM inbox WHERE event_id = :e", e=env["event_id"])
    assert re.fullmatch(r".+:\d+", consumer)  # host:pid of the instance that applied it
    # A second apply would run the handler again; communication's would then
    # hit the unique source_event_id and be recorded as a failure.
    for name in ("learning", "analytics", "communication"):
        assert dbs[name].scalar("SELECT count(*) FROM failed_events WHERE event_id = :e", e=env["event_id"]) == 0


def test_older_update_after_newer_leaves_newer_data(platform, amqp_uri, dbs):
    uid = str(uuid.uuid4())
    publish(amqp_uri, "identity", make_envelope("user_created", user_snapshot(uid, 1, email="v1@example.com")))
    newer = user_snapshot(uid, 3, email="v3@example.com", changes=["email"])
    older = user_snapshot(uid, 2, email="v2@example.com", changes=["email"])
    publish(amqp_uri, "identity", make_envelope("user_updated", newer))
    wait_for(lambda: (c := student_copy(dbs, uid)) and c.source_version == 3, message="v3 applied")
    stale = make_envelope("user_updated", older)
    publish(amqp_uri, "identity", stale)
    wait_for(lambda: dbs["learning"].scalar("SELECT count(*) FROM inbox WHERE event_id = :e",
                                            e=stale["event_id"]), message="stale event consumed")
    copy = student_copy(dbs, uid)
    assert (copy.email, copy.source_version) == ("v3@example.com", 3)


def test_deactivation_reaches_the_copy(platform, amqp_uri, dbs):
    uid = str(uuid.uuid4())
    publish(amqp_uri, "identity", make_envelope("user_created", user_snapshot(uid, 1)))
    publish(amqp_uri, "identity", make_envelope("user_deactivated", user_snapshot(uid, 2, status="deactivated")))
    wait_for(lambda: (c := student_copy(dbs, uid)) and c.user_status == "deactivated", message="deactivated")


def test_consumer_down_then_up_gets_every_user_once(platform, rpc, dbs):
    platform.stop("learning")
    try:
        ids = [user["id"] for user in registered(rpc, *[new_user(i) for i in range(300)])]
        assert dbs["learning"].scalar("SELECT count(*) FROM students WHERE user_id::text = ANY(:ids)", ids=ids) == 0
    finally:
        platform.start("learning")
    wait_for(lambda: dbs["learning"].scalar(
        "SELECT count(*) FROM students WHERE user_id::text = ANY(:ids)", ids=ids) == 300,
        timeout=90, message="300 student copies")
    # Each of the 300 events was applied by the handler (an inbox row each)
    # and none failed or was applied again on top.
    events = dbs["identity"].all("SELECT event_id FROM outbox WHERE event_type = 'user_created' "
                                 "AND envelope->'data'->>'user_id' = ANY(:ids)", ids=ids)
    event_ids = [str(e.event_id) for e in events]
    assert len(event_ids) == 300
    assert dbs["learning"].scalar("SELECT count(*) FROM inbox WHERE event_id::text = ANY(:e)", e=event_ids) == 300
    assert dbs["learning"].scalar("SELECT count(*) FROM failed_events WHERE event_id::text = ANY(:e)",
                                  e=event_ids) == 0


def test_poison_event_is_dead_lettered_and_others_keep_flowing(platform, rpc, amqp_uri, dbs):
    # A fault the handler cannot get past: the learning database refuses
    # this one email (a stand-in for a bug), so every retry fails.
    dbs["learning"].execute("ALTER TABLE students ADD CONSTRAINT ck_test_poison CHECK (email NOT LIKE 'poison-%')")
    try:
        poison = make_envelope("user_created", user_snapshot(email="poison-{}@example.com".format(uuid.uuid4().hex[:6])))
        publish(amqp_uri, "identity", poison)
        good = [make_envelope("user_created", user_snapshot()) for _ in range(5)]
        for env in good:
            publish(amqp_uri, "identity", env)
        for env in good:
            wait_for(lambda: student_copy(dbs, env["data"]["user_id"]), message="good events applied")
        dead = wait_for(lambda: [d for d in rpc.learning.dead_letters()
                                 if d["event_id"] == poison["event_id"]], timeout=30, message="dead letter")
        assert dead[0]["attempts"] == 3  # EVENT_MAX_ATTEMPTS in tests/conftest.py
        assert dead[0]["handler"] == "identity.user_created"
        detail = rpc.learning.dead_letter(dead[0]["id"])
        assert detail["envelope"]["event_id"] == poison["event_id"]
        assert "ck_test_poison" in detail["last_error"]
        assert student_copy(dbs, poison["data"]["user_id"]) is None
    finally:
        dbs["learning"].execute("ALTER TABLE students DROP CONSTRAINT IF EXISTS ck_test_poison")
    replayed = rpc.learning.replay_dead_letter(dead[0]["id"])
    assert replayed["outcome"] == "applied" and replayed["status"] == "resolved"
    assert student_copy(dbs, poison["data"]["user_id"]).email == poison["data"]["email"]
    assert not [d for d in rpc.learning.dead_letters() if d["event_id"] == poison["event_id"]]


def test_unreadable_event_is_dead_lettered_at_once(platform, rpc, amqp_uri, dbs):
    bad = make_envelope("user_created", user_snapshot(role="wizard"))
    future = make_envelope("user_created", user_snapshot(), version=99)
    publish(amqp_uri, "identity", bad)
    publish(amqp_uri, "identity", future)
    for env in (bad, future):
        dead = wait_for(lambda: [d for d in rpc.learning.dead_letters() if d["event_id"] == env["event_id"]],
                        message="dead letter")
        assert dead[0]["attempts"] == 1
    with pytest.raises(services.common.errors.NotFound):
        rpc.learning.dead_letter(10 ** 9)


def test_resync_repairs_missing_and_corrupted_copies(platform, rpc, dbs):
    a, b = registered(rpc, new_user(), new_user())
    for u in (a, b):
        wait_for(lambda: student_copy(dbs, u["id"]), message="copies")
    dbs["learning"].execute("DELETE FROM students WHERE user_id = :u", u=a["id"])
    dbs["learning"].execute("UPDATE students SET email = 'wrong@example.com' WHERE user_id = :u", u=b["id"])
    report = rpc.learning.resync_users()
    assert report["created"] >= 1 and report["updated"] >= 1
    assert student_copy(dbs, a["id"]).email == a["email"]
    assert student_copy(dbs, b["id"]).email == b["email"]
    again = rpc.learning.resync_users()
    assert again["created"] == again["updated"] == 0

