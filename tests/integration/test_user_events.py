"""Identity's user events reach learning, analytics and communication, and
are not lost, duplicated or reordered under real faults."""
import re
import uuid

import eventlet
import pytest

import services.common.errors  # noqa: F401  (typed errors across RPC)
from services.common.errors import BadInput, Forbidden, NotFound, Unauthenticated
from tests.integration.helpers import (Db, make_envelope, new_user, operator_token, publish, registered, verify_by_mail,
                                       user_snapshot, wait_for)

CONSUMERS = ("learning", "analytics", "communication")
MAX_VERSION_JUMP = 1000  # services/learning/user_copies.py


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
    verify_by_mail(rpc, payload["email"])
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
        dead = wait_for(lambda: [d for d in rpc.learning.dead_letters(operator_token())
                                 if d["event_id"] == poison["event_id"]], timeout=30, message="dead letter")
        assert dead[0]["attempts"] == 3  # EVENT_MAX_ATTEMPTS in tests/conftest.py
        assert dead[0]["handler"] == "identity.user_created"
        detail = rpc.learning.dead_letter(operator_token(), dead[0]["id"])
        assert detail["envelope"]["event_id"] == poison["event_id"]
        assert "ck_test_poison" in detail["last_error"]
        assert student_copy(dbs, poison["data"]["user_id"]) is None
    finally:
        dbs["learning"].execute("ALTER TABLE students DROP CONSTRAINT IF EXISTS ck_test_poison")
    replayed = rpc.learning.replay_dead_letter(operator_token(), dead[0]["id"])
    assert replayed["outcome"] == "applied" and replayed["status"] == "resolved"
    assert student_copy(dbs, poison["data"]["user_id"]).email == poison["data"]["email"]
    assert not [d for d in rpc.learning.dead_letters(operator_token()) if d["event_id"] == poison["event_id"]]


def dead_letter_of(rpc, service, event_id, status="dead"):
    letters = getattr(rpc, service).dead_letters(operator_token(), status, 1000)
    return [d for d in letters if d["event_id"] == event_id]


def test_unreadable_event_is_dead_lettered_at_once(platform, rpc, amqp_uri, dbs):
    bad = make_envelope("user_created", user_snapshot(role="wizard"))
    publish(amqp_uri, "identity", bad)
    dead = wait_for(lambda: dead_letter_of(rpc, "learning", bad["event_id"]), message="dead letter")
    assert dead[0]["attempts"] == 1
    with pytest.raises(NotFound):
        rpc.learning.dead_letter(operator_token(), 10 ** 9)


@pytest.mark.parametrize("service", CONSUMERS)
def test_an_envelope_version_a_consumer_does_not_understand_is_refused(platform, rpc, amqp_uri, dbs, service):
    """Every consumer of user_created, analytics included, declares the
    envelope versions it reads ({1}) and dead-letters any other at once,
    without logging or applying it."""
    future = make_envelope("user_created", user_snapshot(), version=2)
    publish(amqp_uri, "identity", future)
    dead = wait_for(lambda: dead_letter_of(rpc, service, future["event_id"]), message="dead letter")
    assert dead[0]["attempts"] == 1 and "unsupported version 2" in dead[0]["error"]
    uid = future["data"]["user_id"]
    assert dbs["analytics"].scalar("SELECT count(*) FROM analytics_events WHERE event_id = :e",
                                   e=future["event_id"]) == 0
    assert dbs["analytics"].scalar("SELECT count(*) FROM user_metrics WHERE user_id = :u", u=uid) == 0
    assert dbs["communication"].scalar("SELECT count(*) FROM notifications WHERE user_id = :u", u=uid) == 0
    assert student_copy(dbs, uid) is None


@pytest.mark.parametrize("service", CONSUMERS)
def test_operator_entrypoints_need_an_admin_or_service_token(platform, rpc, service):
    """A dead letter's envelope holds a user's email: no token, or a
    student's, is refused; an unknown status is refused naming the valid ones."""
    (student,) = registered(rpc, payload := new_user())
    student_token = rpc.identity.login({"email": payload["email"], "password": payload["password"]})["access_token"]
    proxy = getattr(rpc, service)
    for call in (lambda t: proxy.dead_letters(t), lambda t: proxy.dead_letter(t, 1),
                 lambda t: proxy.replay_dead_letter(t, 1)):
        with pytest.raises(Unauthenticated):
            call(None)
        with pytest.raises(Unauthenticated):
            call("dead")  # what an old caller's first argument was: a status
        with pytest.raises(Forbidden):
            call(student_token)
    with pytest.raises(BadInput) as refused:
        proxy.dead_letters(operator_token(), "bogus")
    assert refused.value.details == {"status": ["Must be one of: retrying, dead, replayed, resolved."]}
    assert isinstance(proxy.dead_letters(operator_token()), list)
    if service == "learning":
        with pytest.raises(Unauthenticated):
            rpc.learning.resync_users(None)
        with pytest.raises(Forbidden):
            rpc.learning.resync_users(student_token)


def test_a_version_far_ahead_of_the_copy_is_dead_lettered(platform, rpc, amqp_uri, dbs):
    """A user event may run at most MAX_VERSION_JUMP ahead of learning's
    copy (of 0 without one); further ahead it is a forgery or a sign of lost
    data, refused at once and kept as a dead letter, and the copy is left."""
    uid = str(uuid.uuid4())
    publish(amqp_uri, "identity", make_envelope("user_created", user_snapshot(uid, 1, email="real@example.com")))
    wait_for(lambda: student_copy(dbs, uid), message="copy at v1")
    forged = make_envelope("user_updated", user_snapshot(uid, 2 ** 31 - 1, email="forged@example.com",
                                                         changes=["email"]))
    too_far = make_envelope("user_updated", user_snapshot(uid, 1 + MAX_VERSION_JUMP + 1, email="far@example.com",
                                                          changes=["email"]))
    for env in (forged, too_far):
        publish(amqp_uri, "identity", env)
    for env in (forged, too_far):
        dead = wait_for(lambda: dead_letter_of(rpc, "learning", env["event_id"]), message="dead letter")
        assert dead[0]["attempts"] == 1 and "MAX_VERSION_JUMP" in dead[0]["error"], dead
    copy = student_copy(dbs, uid)
    assert (copy.email, copy.source_version) == ("real@example.com", 1)
    # At the bound it is applied: a real gap is never that wide.
    at_bound = make_envelope("user_updated", user_snapshot(uid, 1 + MAX_VERSION_JUMP, email="near@example.com",
                                                           changes=["email"]))
    publish(amqp_uri, "identity", at_bound)
    wait_for(lambda: student_copy(dbs, uid).source_version == 1 + MAX_VERSION_JUMP, message="applied at the bound")
    # Without a copy the bound counts from 0.
    fresh, far_fresh = str(uuid.uuid4()), str(uuid.uuid4())
    publish(amqp_uri, "identity", make_envelope("user_updated", user_snapshot(fresh, MAX_VERSION_JUMP)))
    no_copy = make_envelope("user_created", user_snapshot(far_fresh, MAX_VERSION_JUMP + 1))
    publish(amqp_uri, "identity", no_copy)
    wait_for(lambda: student_copy(dbs, fresh), message="copy made at the bound")
    wait_for(lambda: dead_letter_of(rpc, "learning", no_copy["event_id"]), message="dead letter without a copy")
    assert student_copy(dbs, far_fresh) is None


def test_resync_repairs_missing_and_corrupted_copies(platform, rpc, dbs):
    a, b = registered(rpc, new_user(), new_user())
    for u in (a, b):
        wait_for(lambda: student_copy(dbs, u["id"]), message="copies")
    dbs["learning"].execute("DELETE FROM students WHERE user_id = :u", u=a["id"])
    dbs["learning"].execute("UPDATE students SET email = 'wrong@example.com' WHERE user_id = :u", u=b["id"])
    report = rpc.learning.resync_users(operator_token())
    assert report["created"] >= 1 and report["updated"] >= 1
    assert student_copy(dbs, a["id"]).email == a["email"]
    assert student_copy(dbs, b["id"]).email == b["email"]
    again = rpc.learning.resync_users(operator_token())
    assert again["created"] == again["updated"] == 0


def test_resync_sets_back_a_copy_ahead_of_identity(platform, rpc, amqp_uri, dbs):
    """A copy holding a version identity never published refuses every real
    event (they all look older); resync_users sets it back to identity's
    data, and real events reach it again."""
    payload_a, payload_b = new_user(), new_user()
    a, b = registered(rpc, payload_a, payload_b)
    for u in (a, b):
        wait_for(lambda: student_copy(dbs, u["id"]), message="copies")
    # a: a forged event within the bound, published as anyone on the broker could.
    forged = make_envelope("user_updated", user_snapshot(a["id"], MAX_VERSION_JUMP, email="forged@example.com",
                                                         changes=["email"]))
    publish(amqp_uri, "identity", forged)
    wait_for(lambda: student_copy(dbs, a["id"]).email == "forged@example.com", message="forged copy")
    # b: pinned at the largest version, as one forged before the bound was.
    dbs["learning"].execute("UPDATE students SET source_version = 2147483647, email = 'pinned@example.com' "
                            "WHERE user_id = :u", u=b["id"])
    token_a = rpc.identity.login({"email": payload_a["email"], "password": payload_a["password"]})["access_token"]
    renamed = rpc.identity.update_user(token_a, a["id"], {"first_name": "Real"})
    assert renamed["version"] == 2
    eventlet.sleep(1.0)  # the real update arrives, and is taken for an older one
    assert student_copy(dbs, a["id"]).email == "forged@example.com"

    report = rpc.learning.resync_users(operator_token())
    assert set(report["rewound"]) >= {a["id"], b["id"]}
    copy_a, copy_b = student_copy(dbs, a["id"]), student_copy(dbs, b["id"])
    assert (copy_a.email, copy_a.name, copy_a.source_version) == (a["email"], "Real " + a["last_name"], 2)
    assert (copy_b.email, copy_b.source_version) == (b["email"], 1)
    rpc.identity.update_user(token_a, a["id"], {"last_name": "Again"})
    wait_for(lambda: student_copy(dbs, a["id"]).source_version == 3, message="real events apply again")
    again = rpc.learning.resync_users(operator_token())
    assert again["rewound"] == [] and again["updated"] == again["created"] == 0

