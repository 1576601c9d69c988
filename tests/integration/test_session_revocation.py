"""A token does not outlive its session (docs/architecture.md, "Identity on
RPC"). Identity refuses the access token of an ended session at once, from
its own user_sessions; learning refuses it as soon as identity's
``session_revoked`` has reached its revoked_sessions table, which the tests
wait for with a deadline. A token of another, live session goes on working."""
import time
import uuid
from datetime import datetime, timedelta

import jwt
import pytest

import services.common.errors  # noqa: F401  (typed errors across RPC)
from services.common.auth import ACCESS_TOKEN_TTL, SESSION_ENDED
from services.common.errors import Unauthenticated
from tests.integration.helpers import RESET, Db, mail_to, new_user, token_from, verify_by_mail, wait_for
from tests.integration.test_identity_rpc import ADMIN_PASSWORD, create_admin_with_cli


@pytest.fixture(scope="module")
def dbs(databases):
    return {name: Db(databases[name].url) for name in ("identity", "learning")}


@pytest.fixture(scope="module")
def admin_token(platform, rpc_module):
    email = "revoker-{}@example.com".format(uuid.uuid4().hex[:8])
    done = create_admin_with_cli(email)
    assert done.returncode == 0, done.stderr
    return rpc_module.identity.login({"email": email, "password": ADMIN_PASSWORD})["access_token"]


@pytest.fixture(scope="module")
def rpc_module(platform, amqp_uri):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=20) as proxy:
        yield proxy


def student(rpc):
    """(user id, payload, first login) of a new student."""
    payload = new_user()
    rpc.identity.register(payload)
    verify_by_mail(rpc, payload["email"])
    session = rpc.identity.login({"email": payload["email"], "password": payload["password"]})
    return session["user"]["id"], payload, session


def login(rpc, payload):
    return rpc.identity.login({"email": payload["email"], "password": payload["password"]})


def sid(token):
    """The session an access token names."""
    return jwt.decode(token, options={"verify_signature": False})["sid"]


def identity_accepts(rpc, token, user_id):
    return rpc.identity.get_user(token, user_id)["id"] == user_id


def learning_accepts(rpc, token, user_id):
    return rpc.learning.lessons_for_users(token, [user_id], "student") == {user_id: []}


def refused(call, *args):
    """True if ``call`` refuses the token as one of an ended session."""
    try:
        call(*args)
    except Unauthenticated as exc:
        assert exc.message == SESSION_ENDED
        return True
    return False


def learning_refuses_soon(rpc, token, user_id):
    """Learning refuses the token once the event has arrived: poll, with a
    deadline, instead of sleeping a fixed time. Returns the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: refused(learning_accepts, rpc, token, user_id), timeout=15, interval=0.05,
             message="learning to refuse the token of an ended session")
    return time.monotonic() - started


def revocation_events(db, user_id):
    return [r.envelope for r in db.all(
        "SELECT envelope FROM outbox WHERE event_type = 'session_revoked' AND envelope->'data'->>'user_id' = :u "
        "ORDER BY id", u=user_id)]


def test_after_logout_the_access_token_is_refused_everywhere(platform, rpc, dbs):
    user_id, payload, ended = student(rpc)
    other = login(rpc, payload)
    token = ended["access_token"]
    assert identity_accepts(rpc, token, user_id) and learning_accepts(rpc, token, user_id)

    rpc.identity.logout(token)
    assert refused(rpc.identity.get_user, token, user_id)  # identity: at once, from its own table
    learning_refuses_soon(rpc, token, user_id)

    # the event, committed with the logout
    (event,) = revocation_events(dbs["identity"], user_id)
    data = event["data"]
    assert data["user_id"] == user_id and data["session_ids"] == [sid(token)]
    revoked_at = dbs["identity"].scalar("SELECT revoked_at FROM user_sessions WHERE session_id = :s",
                                        s=sid(token))
    assert datetime.fromisoformat(data["revoked_at"]) == revoked_at
    assert datetime.fromisoformat(data["until"]) - revoked_at == timedelta(seconds=ACCESS_TOKEN_TTL)
    row = dbs["learning"].all("SELECT user_id, until - revoked_at AS lasts FROM revoked_sessions "
                              "WHERE session_id = :s", s=data["session_ids"][0])[0]
    assert str(row.user_id) == user_id and row.lasts == timedelta(seconds=ACCESS_TOKEN_TTL)

    # the user's other session is untouched, here and there
    assert identity_accepts(rpc, other["access_token"], user_id)
    assert learning_accepts(rpc, other["access_token"], user_id)
    with pytest.raises(Unauthenticated):  # and logging out twice finds no session to end
        rpc.identity.logout(token)


def test_a_reused_refresh_token_ends_the_access_tokens_of_its_session(platform, rpc, dbs):
    user_id, payload, first = student(rpc)
    other = login(rpc, payload)
    second = rpc.identity.refresh({"refresh_token": first["refresh_token"]})
    assert learning_accepts(rpc, second["access_token"], user_id)

    with pytest.raises(Unauthenticated, match="already used"):
        rpc.identity.refresh({"refresh_token": first["refresh_token"]})
    for token in (first["access_token"], second["access_token"]):  # one session, both tokens
        assert refused(rpc.identity.get_user, token, user_id)
        learning_refuses_soon(rpc, token, user_id)
    assert identity_accepts(rpc, other["access_token"], user_id)
    assert learning_accepts(rpc, other["access_token"], user_id)


def test_suspension_ends_every_session_of_the_user(platform, rpc, dbs, admin_token):
    user_id, payload, first = student(rpc)
    second = login(rpc, payload)
    bystander_id, _, bystander = student(rpc)
    for session in (first, second):
        assert learning_accepts(rpc, session["access_token"], user_id)

    rpc.identity.set_status(admin_token, user_id, {"status": "suspended"})
    for session in (first, second):
        assert refused(rpc.identity.get_user, session["access_token"], user_id)
        learning_refuses_soon(rpc, session["access_token"], user_id)
    (event,) = revocation_events(dbs["identity"], user_id)  # one event for both sessions
    assert sorted(event["data"]["session_ids"]) == sorted(
        sid(s["access_token"]) for s in (first, second))

    # the admin who did it and another user are not affected
    assert identity_accepts(rpc, admin_token, user_id)
    assert identity_accepts(rpc, bystander["access_token"], bystander_id)
    assert learning_accepts(rpc, bystander["access_token"], bystander_id)
    # reactivation does not bring the ended sessions back
    rpc.identity.set_status(admin_token, user_id, {"status": "active"})
    assert refused(rpc.identity.get_user, first["access_token"], user_id)
    assert len(revocation_events(dbs["identity"], user_id)) == 1


def test_a_password_reset_ends_every_session(platform, rpc, dbs):
    user_id, payload, session = student(rpc)
    rpc.identity.request_password_reset({"email": payload["email"]})
    reset = token_from(mail_to(payload["email"], RESET))
    rpc.identity.reset_password({"token": reset, "new_password": "a brand new passphrase"})
    assert refused(rpc.identity.get_user, session["access_token"], user_id)
    learning_refuses_soon(rpc, session["access_token"], user_id)


def test_rows_no_token_can_use_are_forgotten_on_the_next_insert(platform, rpc, dbs):
    stale, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    dbs["learning"].execute(
        "INSERT INTO revoked_sessions (session_id, user_id, revoked_at, until) VALUES "
        "(:stale, :u, now() - interval '20 minutes', now() - interval '5 minutes'), "
        "(:fresh, :u, now(), now() + interval '15 minutes')", stale=stale, fresh=fresh, u=str(uuid.uuid4()))
    user_id, _, session = student(rpc)
    rpc.identity.logout(session["access_token"])
    learning_refuses_soon(rpc, session["access_token"], user_id)
    left = {str(r[0]) for r in dbs["learning"].all(
        "SELECT session_id FROM revoked_sessions WHERE session_id IN (:stale, :fresh)", stale=stale, fresh=fresh)}
    assert left == {fresh}
