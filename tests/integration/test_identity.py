"""Identity's RPC API against real PostgreSQL and RabbitMQ."""
import uuid

import jwt
import pytest

from services.common.auth import issue_access_token
from services.common.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from services.identity.manage import create_admin
from tests.integration.helpers import Db, new_user

MB = "x" * (1024 * 1024)


@pytest.fixture(scope="module")
def identity_db(databases):
    return Db(databases["identity"].url)


@pytest.fixture(scope="module")
def admin(platform, rpc_module):
    email = "admin-{}@example.com".format(uuid.uuid4().hex[:8])
    create_admin(email, "Site", "Admin", "a long admin passphrase")
    return rpc_module.identity.login({"email": email, "password": "a long admin passphrase"})


@pytest.fixture(scope="module")
def rpc_module(amqp_uri):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as proxy:
        yield proxy


def register_and_login(rpc, **overrides):
    payload = dict(new_user(), **overrides)
    user = rpc.identity.register(payload)
    session = rpc.identity.login({"email": payload["email"], "password": payload["password"]})
    return user, session, payload


def counts(db):
    return (db.scalar("SELECT count(*) FROM users"), db.scalar("SELECT count(*) FROM outbox"),
            db.scalar("SELECT count(*) FROM auth_tokens"))


BAD_REGISTRATIONS = [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@" + "b" * 260 + ".com"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "p" * 129}, "password"),
    ({"role": "wizard"}, "role"),
    ({"role": "admin"}, "role"),
    ({"first_name": "x" * 101}, "first_name"),
    ({"last_name": "   "}, "last_name"),
    ({"first_name": 42}, "first_name"),
    ({"password": ["list"]}, "password"),
    ({"email": None}, "email"),
    ({"first_name": MB}, "first_name"),
    ({"password": MB}, "password"),
    ({"nickname": "extra"}, "nickname"),
]


@pytest.mark.parametrize("change,field", BAD_REGISTRATIONS, ids=[f for _, f in BAD_REGISTRATIONS])
def test_bad_registration_names_the_field_and_writes_nothing(platform, rpc, identity_db, change, field):
    before = counts(identity_db)
    with pytest.raises(BadInput) as caught:
        rpc.identity.register(dict(new_user(), **change))
    assert field in caught.value.details
    assert counts(identity_db) == before


@pytest.mark.parametrize("missing", ["email", "password", "first_name", "last_name", "role"])
def test_missing_field_is_named(platform, rpc, identity_db, missing):
    before = counts(identity_db)
    payload = new_user()
    del payload[missing]
    with pytest.raises(BadInput) as caught:
        rpc.identity.register(payload)
    assert caught.value.details[missing] == ["Missing data for required field."]
    assert counts(identity_db) == before


def test_payload_that_is_not_an_object_is_refused(platform, rpc):
    with pytest.raises(BadInput):
        rpc.identity.register(["not", "an", "object"])


def test_email_is_normalised_and_unique(platform, rpc, identity_db):
    payload = new_user()
    user = rpc.identity.register(dict(payload, email="  " + payload["email"].upper() + " "))
    assert user["email"] == payload["email"]
    before = counts(identity_db)
    with pytest.raises(Conflict) as caught:
        rpc.identity.register(dict(payload, email=payload["email"].title()))
    assert "email" in caught.value.details
    assert counts(identity_db) == before


def test_concurrent_registrations_of_one_email_make_one_user(platform, rpc, identity_db):
    payload = new_user()
    calls = [rpc.identity.register.call_async(payload) for _ in range(5)]
    outcomes = []
    for call in calls:
        try:
            outcomes.append(call.result()["id"])
        except Conflict:
            outcomes.append("conflict")
    assert outcomes.count("conflict") == 4
    assert identity_db.scalar("SELECT count(*) FROM users WHERE email = :e", e=payload["email"]) == 1
    assert identity_db.scalar("SELECT count(*) FROM outbox WHERE envelope->'data'->>'email' = :e",
                              e=payload["email"]) == 1


def test_password_is_hashed_with_argon2id(platform, rpc, identity_db):
    user, _, payload = register_and_login(rpc)
    stored = identity_db.scalar("SELECT password_hash FROM users WHERE id = :u", u=user["id"])
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert payload["password"] not in stored


def test_login_refresh_rotation_and_logout(platform, rpc, identity_db):
    user, session, payload = register_and_login(rpc)
    assert session["token_type"] == "Bearer" and session["user"]["id"] == user["id"]
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"] and claims["exp"] - claims["iat"] == session["expires_in"] <= 900
    stored = identity_db.all("SELECT token_hash FROM auth_tokens WHERE user_id = :u AND type = 'refresh'",
                             u=user["id"])
    assert stored and all(row.token_hash != session["refresh_token"] for row in stored)

    rotated = rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    assert rotated["refresh_token"] != session["refresh_token"]
    # the spent token used again: theft; the whole session is revoked
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": rotated["refresh_token"]})

    other = rpc.identity.login({"email": payload["email"], "password": payload["password"]})
    assert rpc.identity.logout(other["access_token"]) == {"ok": True}
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": other["refresh_token"]})


def test_wrong_password_and_unknown_email_look_the_same(platform, rpc):
    _, _, payload = register_and_login(rpc)
    with pytest.raises(Unauthenticated) as wrong:
        rpc.identity.login({"email": payload["email"], "password": "not the password"})
    with pytest.raises(Unauthenticated) as unknown:
        rpc.identity.login({"email": "nobody-" + payload["email"], "password": "not the password"})
    assert wrong.value.message == unknown.value.message


def test_email_verification_and_password_reset_are_single_use(platform, rpc):
    user, session, payload = register_and_login(rpc)
    rpc.identity.verify_email({"token": user["verification_token"]})
    assert rpc.identity.get_user(session["access_token"], user["id"])["email_verified"] is True
    with pytest.raises(Unauthenticated):
        rpc.identity.verify_email({"token": user["verification_token"]})

    reset = rpc.identity.request_password_reset({"email": payload["email"]})
    assert rpc.identity.request_password_reset({"email": "nobody@example.com"}) == {"ok": True}
    rpc.identity.reset_password({"token": reset["reset_token"], "new_password": "a brand new passphrase"})
    with pytest.raises(Unauthenticated):
        rpc.identity.reset_password({"token": reset["reset_token"], "new_password": "yet another passphrase"})
    with pytest.raises(Unauthenticated):  # the reset revoked every session
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    with pytest.raises(Unauthenticated):
        rpc.identity.login({"email": payload["email"], "password": payload["password"]})
    assert rpc.identity.login({"email": payload["email"], "password": "a brand new passphrase"})


def test_one_user_cannot_update_another(platform, rpc, identity_db):
    alice, alice_session, _ = register_and_login(rpc)
    bob, _, _ = register_and_login(rpc)
    version = identity_db.scalar("SELECT version FROM users WHERE id = :u", u=bob["id"])
    with pytest.raises(Forbidden):
        rpc.identity.update_user(alice_session["access_token"], bob["id"], {"first_name": "Mallory"})
    assert identity_db.scalar("SELECT version FROM users WHERE id = :u", u=bob["id"]) == version
    assert identity_db.scalar("SELECT first_name FROM users WHERE id = :u", u=bob["id"]) == "Ada"


def test_expired_and_forged_tokens_are_refused(platform, rpc):
    user, session, _ = register_and_login(rpc)
    expired = issue_access_token(user["id"], "student", uuid.uuid4(), ttl=-10)
    forged = jwt.encode({"sub": user["id"], "role": "admin", "iss": "edtech-identity", "iat": 0,
                         "exp": 4102444800, "typ": "access"}, "an attacker's secret of enough length!!",
                        algorithm="HS256")
    unsigned = jwt.encode({"sub": user["id"], "role": "admin", "iss": "edtech-identity", "iat": 0,
                           "exp": 4102444800, "typ": "access"}, None, algorithm="none")
    for bad, message in [(expired, "expired"), (forged, "invalid"), (unsigned, "invalid"), ("", "required"),
                         (None, "required")]:
        with pytest.raises(Unauthenticated) as caught:
            rpc.identity.update_user(bad, user["id"], {"first_name": "Eve"})
        assert message in caught.value.message


def test_updates_change_the_version_and_report_changes(platform, rpc, identity_db):
    user, session, _ = register_and_login(rpc)
    token = session["access_token"]
    same = rpc.identity.update_user(token, user["id"], {"first_name": "Ada"})
    assert same["version"] == 1  # nothing changed, nothing emitted
    updated = rpc.identity.update_user(token, user["id"], {"last_name": "King", "bio": "Counting engines.",
                                                           "preferences": {"theme": "dark"}})
    assert updated["version"] == 2 and updated["profile"]["bio"] == "Counting engines."
    event = identity_db.all("SELECT envelope FROM outbox WHERE event_type = 'user_updated' "
                            "AND envelope->'data'->>'user_id' = :u", u=user["id"])
    assert [e.envelope["data"]["changes"] for e in event] == [["bio", "last_name", "preferences"]]
    for payload, field in [({}, "_schema"), ({"email": "bad"}, "email"), ({"preferences": "x"}, "preferences"),
                           ({"settings": {str(i): i for i in range(51)}}, "settings"), ({"role": "admin"}, "role")]:
        with pytest.raises(BadInput) as caught:
            rpc.identity.update_user(token, user["id"], payload)
        assert field in caught.value.details
    taken, _, _ = register_and_login(rpc)
    with pytest.raises(Conflict):
        rpc.identity.update_user(token, user["id"], {"email": taken["email"]})


def test_reading_users_and_email_visibility(platform, rpc, admin):
    alice, alice_session, _ = register_and_login(rpc)
    bob, _, _ = register_and_login(rpc)
    token = alice_session["access_token"]
    assert rpc.identity.get_user(token, alice["id"])["email"] == alice["email"]
    assert rpc.identity.get_user(token, bob["id"])["email"] is None
    assert rpc.identity.get_user(admin["access_token"], bob["id"])["email"] == bob["email"]
    unknown = str(uuid.uuid4())
    assert [u and u["id"] for u in rpc.identity.get_users(token, [bob["id"], unknown, alice["id"]])] == \
        [bob["id"], None, alice["id"]]
    with pytest.raises(NotFound):
        rpc.identity.get_user(token, unknown)
    with pytest.raises(BadInput) as caught:
        rpc.identity.get_users(token, ["nope"])
    assert "user_ids" in caught.value.details
    with pytest.raises(Forbidden):
        rpc.identity.list_users(token)


def test_list_users_pages_without_gaps_or_repeats(platform, rpc, admin):
    made = {rpc.identity.register(new_user(i, role="tutor"))["id"] for i in range(120)}
    seen, cursor = [], None
    while True:
        page = rpc.identity.list_users(admin["access_token"], cursor=cursor, limit=25, role="tutor")
        seen.extend(u["id"] for u in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and made <= set(seen)
    assert seen == sorted(seen, key=uuid.UUID)
    with pytest.raises(BadInput):
        rpc.identity.list_users(admin["access_token"], limit=0)
    with pytest.raises(BadInput):
        rpc.identity.list_users(admin["access_token"], cursor="not a cursor")


def test_set_status_is_admin_only_and_deactivation_ends_sessions(platform, rpc, admin, identity_db):
    user, session, payload = register_and_login(rpc)
    with pytest.raises(Forbidden):
        rpc.identity.set_status(session["access_token"], user["id"], {"status": "suspended"})
    with pytest.raises(BadInput):
        rpc.identity.set_status(admin["access_token"], user["id"], {"status": "banished"})
    done = rpc.identity.set_status(admin["access_token"], user["id"], {"status": "deactivated"})
    assert done["status"] == "deactivated" and done["version"] == 2
    assert identity_db.scalar("SELECT count(*) FROM outbox WHERE event_type = 'user_deactivated' "
                              "AND envelope->'data'->>'user_id' = :u", u=user["id"]) == 1
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    with pytest.raises(Forbidden):
        rpc.identity.login({"email": payload["email"], "password": payload["password"]})
