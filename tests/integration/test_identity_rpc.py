"""Identity's RPC API over a real broker, against the running ``nameko run``
process and its own PostgreSQL database."""
import uuid  # noqa: E402

import jwt  # noqa: E402
import pytest  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

import services.common.errors  # noqa: E402,F401  registers the typed errors with nameko
from services.common.auth import issue_access_token, issue_service_token  # noqa: E402
from services.common.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated  # noqa: E402
from services.common.keys import SigningKey  # noqa: E402
from services.identity.tokens import token_hash  # noqa: E402
from tests.integration.helpers import (RESET, TAKEN, VERIFICATION, Db, mail_to, mails_to, operator_token,  # noqa: E402
                                       token_from, wait_for)
from tests.integration.helpers import create_admin_with_cli as run_create_admin  # noqa: E402
from tests.token_keys import forge, hs256_with, session_key, session_public_pem  # noqa: E402

PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "a long admin passphrase"
MB = "x" * (1024 * 1024)
SNAPSHOT_KEYS = {"user_id", "email", "first_name", "last_name", "role", "status", "version"}


def new_payload(role="student", **changes):
    tag = uuid.uuid4().hex[:12]
    return dict({"email": "rpc-{}@example.com".format(tag), "password": PASSWORD, "first_name": "Ada",
                 "last_name": "Lovelace", "role": role}, **changes)


def register_and_login(rpc, payload):
    """(the mailed verification token, login's session). register answers
    only ``ok``; the token arrives by mail, and login needs the address
    verified with it first."""
    assert rpc.identity.register(payload) == {"ok": True}
    token = token_from(mail_to(payload["email"].strip().lower(), VERIFICATION))
    assert rpc.identity.verify_email({"token": token}) == {"ok": True}
    return token, rpc.identity.login({"email": payload["email"], "password": payload["password"]})


def signup(rpc, role="student", **changes):
    """(user, session, payload) for a fresh registered, logged-in user."""
    payload = new_payload(role, **changes)
    _, session = register_and_login(rpc, payload)
    return session["user"], session, payload


@pytest.fixture(scope="module")
def db(databases):
    return Db(databases["identity"].url)


@pytest.fixture(scope="module")
def module_rpc(platform, amqp_uri):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=20) as proxy:
        yield proxy


def create_admin_with_cli(email):
    return run_create_admin(email, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin(module_rpc):
    email = "admin-{}@example.com".format(uuid.uuid4().hex[:8])
    done = create_admin_with_cli(email)
    assert done.returncode == 0, done.stderr
    return module_rpc.identity.login({"email": email, "password": ADMIN_PASSWORD})


def counts(db):
    return {table: db.scalar("SELECT count(*) FROM " + table)
            for table in ("users", "user_profiles", "outbox", "auth_tokens", "user_sessions")}


def outbox_events(db, user_id, event_type=None):
    rows = db.all("SELECT event_type, envelope FROM outbox WHERE envelope->'data'->>'user_id' = :u ORDER BY id",
                  u=str(user_id))
    return [r.envelope for r in rows if event_type in (None, r.event_type)]


# Registration ---------------------------------------------------------------

def test_register_answers_ok_and_writes_the_user_and_one_event(platform, rpc, db):
    payload = new_payload("tutor", email="  Grace.HOPPER-{}@Example.com ".format(uuid.uuid4().hex[:6]))
    token, session = register_and_login(rpc, payload)  # the answer is only ok (register_and_login checks it)
    email = payload["email"].strip().lower()
    user = session["user"]
    assert set(user) == {"id", "email", "first_name", "last_name", "role", "status", "version", "email_verified",
                         "created_at", "updated_at", "profile"}
    assert (user["email"], user["role"], user["status"], user["version"]) == (email, "tutor", "active", 1)
    assert user["profile"] == {"bio": "", "preferences": {}, "settings": {}} and user["email_verified"] is True
    assert user["created_at"].endswith("+00:00")
    # committed with the user, so it is there the moment register returns
    (event,) = outbox_events(db, user["id"])
    assert event["event_type"] == "user_created" and event["producer"] == "identity" and event["version"] == 1
    assert event["data"] == {"user_id": user["id"], "email": email, "first_name": "Ada", "last_name": "Lovelace",
                             "role": "tutor", "status": "active", "version": 1}
    assert db.scalar("SELECT count(*) FROM user_profiles WHERE user_id = :u", u=user["id"]) == 1
    stored = db.scalar("SELECT token_hash FROM auth_tokens WHERE user_id = :u AND type = 'email_verification'",
                       u=user["id"])
    assert stored == token_hash(token)


def test_password_is_stored_as_argon2id(platform, rpc, db):
    user, _, _ = signup(rpc)
    stored = db.scalar("SELECT password_hash FROM users WHERE id = :u", u=user["id"])
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and PASSWORD not in stored


@pytest.mark.parametrize("variant", [str.upper, str.title, lambda e: "  " + e + "\t"],
                         ids=["upper case", "title case", "padded"])
def test_taken_email_gets_the_same_answer_and_writes_nothing(platform, rpc, db, variant):
    owner, _, payload = signup(rpc)
    before = counts(db)
    intruder = dict(new_payload(), email=variant(payload["email"]), password="an intruder's passphrase",
                    first_name="Eve")
    # The same answer as a new account's; the owner is told by mail.
    assert rpc.identity.register(intruder) == {"ok": True}
    assert counts(db) == before  # no user, token or event
    notice = mail_to(payload["email"], TAKEN)
    assert "forgot-password" in notice.get_body(("plain",)).get_content()
    assert "token=" not in notice.as_string()
    assert len(mails_to(payload["email"], TAKEN)) == 1 and len(mails_to(payload["email"], VERIFICATION)) == 1
    assert db.scalar("SELECT first_name FROM users WHERE id = :u", u=owner["id"]) == "Ada"
    with pytest.raises(Unauthenticated):
        rpc.identity.login({"email": payload["email"], "password": intruder["password"]})
    assert rpc.identity.login({"email": payload["email"], "password": PASSWORD})["user"]["id"] == owner["id"]


def test_taken_email_of_a_deactivated_account_gets_the_same_answer(platform, rpc, db, admin):
    user, _, payload = signup(rpc)
    rpc.identity.set_status(admin["access_token"], user["id"], {"status": "deactivated"})
    before = counts(db)
    assert rpc.identity.register(dict(new_payload(), email=payload["email"])) == {"ok": True}
    assert counts(db) == before


def test_racing_registrations_make_one_user_and_one_event(platform, rpc, db):
    payload = new_payload()
    calls = [rpc.identity.register.call_async(payload) for _ in range(6)]
    answers = [call.result() for call in calls]  # none fails: the losers get the generic answer
    assert answers == [{"ok": True}] * 6
    # One account, one verification link; each loser's attempt is a notice to the owner.
    wait_for(lambda: len(mails_to(payload["email"], TAKEN)) == 5, message="five notices")
    assert len(mails_to(payload["email"], VERIFICATION)) == 1
    assert rpc.identity.verify_email({"token": token_from(mail_to(payload["email"], VERIFICATION))}) == {"ok": True}
    user_id = rpc.identity.login({"email": payload["email"], "password": PASSWORD})["user"]["id"]
    assert db.scalar("SELECT count(*) FROM users WHERE email = :e", e=payload["email"]) == 1
    assert len(outbox_events(db, user_id)) == 1
    assert db.scalar("SELECT count(*) FROM outbox WHERE envelope->'data'->>'email' = :e", e=payload["email"]) == 1


BAD_REGISTRATIONS = [
    ("malformed email", {"email": "not-an-email"}, "email"),
    ("email over 254", {"email": "a@" + "b" * 250 + ".com"}, "email"),
    ("short password", {"password": "short"}, "password"),
    ("common password", {"password": "Password12"}, "password"),
    ("one character repeated", {"password": "aaaaaaaaaaaa"}, "password"),
    ("password is the email's local part", {"email": "ada.lovelace@example.com", "password": "ADA.LOVELACE"},
     "password"),
    ("unknown role", {"role": "wizard"}, "role"),
    ("admin role", {"role": "admin"}, "role"),
    ("over-long name", {"first_name": "x" * 101}, "first_name"),
    ("blank name", {"last_name": "   "}, "last_name"),
    ("NUL in name", {"first_name": "Ada\x00"}, "first_name"),
    ("number as name", {"first_name": 42}, "first_name"),
    ("list as password", {"password": [PASSWORD]}, "password"),
    ("null email", {"email": None}, "email"),
    ("1 MB name", {"last_name": MB}, "last_name"),
    ("1 MB password", {"password": MB}, "password"),
    ("unknown field", {"is_admin": True}, "is_admin"),
]


@pytest.mark.parametrize("change,field", [c[1:] for c in BAD_REGISTRATIONS], ids=[c[0] for c in BAD_REGISTRATIONS])
def test_bad_registration_names_the_field_and_writes_nothing(platform, rpc, db, change, field):
    before = counts(db)
    with pytest.raises(BadInput) as caught:
        rpc.identity.register(new_payload(**change))
    assert field in caught.value.details
    assert counts(db) == before


@pytest.mark.parametrize("missing", ["email", "password", "first_name", "last_name", "role"])
def test_missing_registration_field_writes_nothing(platform, rpc, db, missing):
    payload = new_payload()
    del payload[missing]
    before = counts(db)
    with pytest.raises(BadInput) as caught:
        rpc.identity.register(payload)
    assert missing in caught.value.details
    assert counts(db) == before


def test_payload_that_is_not_an_object_is_bad_input(platform, rpc, db):
    before = counts(db)
    for payload in (None, ["a", "list"], "text"):
        with pytest.raises(BadInput):
            rpc.identity.register(payload)
    assert counts(db) == before


# Sessions -------------------------------------------------------------------

def test_login_refresh_rotation_reuse_detection_and_logout(platform, rpc, db):
    user, first, payload = signup(rpc)
    assert first["token_type"] == "Bearer" and first["user"]["id"] == user["id"]
    assert first["user"]["email"] == payload["email"]
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"] and claims["role"] == "student"
    assert claims["exp"] - claims["iat"] == first["expires_in"] == 900
    # only the hash is stored, linked to the session the access token names
    row = db.all("SELECT token_hash, session_id FROM auth_tokens WHERE user_id = :u AND type = 'refresh'",
                 u=user["id"])[0]
    assert row.token_hash == token_hash(first["refresh_token"]) and str(row.session_id) == claims["sid"]
    assert db.scalar("SELECT expires_at - created_at FROM user_sessions WHERE session_id = :s",
                     s=claims["sid"]).days == 30

    second = rpc.identity.refresh({"refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"] == first["user"]  # the full view, as login gives it
    assert jwt.decode(second["access_token"], options={"verify_signature": False})["sid"] == claims["sid"]
    third = rpc.identity.refresh({"refresh_token": second["refresh_token"]})

    # a spent token presented again: someone else holds it; the session ends
    with pytest.raises(Unauthenticated, match="already used"):
        rpc.identity.refresh({"refresh_token": first["refresh_token"]})
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": third["refresh_token"]})
    assert db.scalar("SELECT revoked_at IS NOT NULL FROM user_sessions WHERE session_id = :s", s=claims["sid"])

    other = rpc.identity.login({"email": payload["email"], "password": PASSWORD})
    assert rpc.identity.logout(other["access_token"]) == {"ok": True}
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": other["refresh_token"]})
    # its access token ends with it (tests/integration/test_session_revocation.py for the other services)
    with pytest.raises(Unauthenticated, match="the session has ended"):
        rpc.identity.get_user(other["access_token"], user["id"])


def test_expired_refresh_token_is_refused(platform, rpc, db):
    _, session, _ = signup(rpc)
    db.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :h",
               h=token_hash(session["refresh_token"]))
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})


def test_unknown_and_malformed_refresh_tokens(platform, rpc):
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": "never issued"})
    with pytest.raises(BadInput) as caught:
        rpc.identity.refresh({"refresh_token": MB})
    assert "refresh_token" in caught.value.details


def test_wrong_password_and_unknown_email_look_the_same(platform, rpc):
    _, _, payload = signup(rpc)
    with pytest.raises(Unauthenticated) as wrong:
        rpc.identity.login({"email": payload["email"], "password": "not the password"})
    with pytest.raises(Unauthenticated) as unknown:
        rpc.identity.login({"email": "nobody-" + payload["email"], "password": "not the password"})
    assert wrong.value.message == unknown.value.message


def test_login_upgrades_a_weaker_password_hash(platform, rpc, db):
    user, _, payload = signup(rpc)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    db.execute("UPDATE users SET password_hash = :h WHERE id = :u", h=weak, u=user["id"])
    rpc.identity.login({"email": payload["email"], "password": PASSWORD})
    stored = db.scalar("SELECT password_hash FROM users WHERE id = :u", u=user["id"])
    assert stored != weak and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_logout_with_a_service_token_is_forbidden(platform, rpc):
    with pytest.raises(Forbidden):
        rpc.identity.logout(issue_service_token("learning", key=session_key("learning")))


# Verification and password reset ---------------------------------------------

def test_email_verification_is_single_use(platform, rpc):
    token, session = register_and_login(rpc, new_payload())
    user_id = session["user"]["id"]
    assert rpc.identity.get_user(session["access_token"], user_id)["email_verified"] is True
    with pytest.raises(Unauthenticated):
        rpc.identity.verify_email({"token": token})


def test_expired_verification_token_is_refused(platform, rpc, db):
    payload = new_payload()
    assert rpc.identity.register(payload) == {"ok": True}
    token = token_from(mail_to(payload["email"], VERIFICATION))
    db.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :h",
               h=token_hash(token))
    with pytest.raises(Unauthenticated):
        rpc.identity.verify_email({"token": token})


def test_unverified_login_is_refused_like_a_wrong_password(platform, rpc):
    payload = new_payload()
    assert rpc.identity.register(payload) == {"ok": True}
    with pytest.raises(Unauthenticated) as unverified:
        rpc.identity.login({"email": payload["email"], "password": PASSWORD})
    with pytest.raises(Unauthenticated) as wrong:
        rpc.identity.login({"email": payload["email"], "password": "not the password"})
    assert str(unverified.value) == str(wrong.value)
    rpc.identity.verify_email({"token": token_from(mail_to(payload["email"], VERIFICATION))})
    assert rpc.identity.login({"email": payload["email"], "password": PASSWORD})["user"]["email_verified"] is True


def test_email_change_mails_the_new_address_and_voids_the_old_link(platform, rpc):
    _, session = register_and_login(rpc, new_payload())
    second, third = new_payload()["email"], new_payload()["email"]
    changed = rpc.identity.update_user(session["access_token"], session["user"]["id"], {"email": second})
    assert changed["email_verified"] is False
    pending = token_from(mail_to(second, VERIFICATION))  # mailed to the new address
    rpc.identity.update_user(session["access_token"], session["user"]["id"], {"email": third})
    with pytest.raises(Unauthenticated):  # a link mailed to an address the account left
        rpc.identity.verify_email({"token": pending})
    assert rpc.identity.verify_email({"token": token_from(mail_to(third, VERIFICATION))}) == {"ok": True}
    assert rpc.identity.get_user(session["access_token"], session["user"]["id"])["email_verified"] is True


def test_password_reset_is_single_use_and_ends_every_session(platform, rpc, db):
    user, session, payload = signup(rpc)
    assert rpc.identity.request_password_reset({"email": "nobody-{}@example.com".format(uuid.uuid4().hex)}) == \
        {"ok": True}
    assert rpc.identity.request_password_reset({"email": payload["email"].upper()}) == {"ok": True}
    older = token_from(mail_to(payload["email"], RESET))
    assert rpc.identity.request_password_reset({"email": payload["email"]}) == {"ok": True}
    reset = token_from(mail_to(payload["email"], RESET, count=2))
    assert rpc.identity.reset_password({"token": reset, "new_password": "a brand new passphrase"}) == {"ok": True}
    for token in (reset, older):  # used, and spent by the reset
        with pytest.raises(Unauthenticated):
            rpc.identity.reset_password({"token": token, "new_password": "yet another passphrase"})
    with pytest.raises(Unauthenticated):
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    assert db.scalar("SELECT count(*) FROM user_sessions WHERE user_id = :u AND revoked_at IS NULL",
                     u=user["id"]) == 0
    with pytest.raises(Unauthenticated):
        rpc.identity.login({"email": payload["email"], "password": PASSWORD})
    assert rpc.identity.login({"email": payload["email"], "password": "a brand new passphrase"})["user"]["id"] == \
        user["id"]


def test_expired_reset_token_and_weak_new_password(platform, rpc, db):
    _, _, payload = signup(rpc)
    assert rpc.identity.request_password_reset({"email": payload["email"]}) == {"ok": True}
    reset = token_from(mail_to(payload["email"], RESET))
    for weak in ("short", "qwertyuiop", "1234567890", "x" * 12,
                 payload["email"].split("@")[0].upper() + "!"):  # the email's local part
        with pytest.raises(BadInput) as caught:
            rpc.identity.reset_password({"token": reset, "new_password": weak})
        assert "new_password" in caught.value.details, weak
    # refused after the link was looked up, yet the link is not spent
    assert db.scalar("SELECT used_at IS NULL FROM auth_tokens WHERE token_hash = :h", h=token_hash(reset))
    db.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :h",
               h=token_hash(reset))
    with pytest.raises(Unauthenticated):
        rpc.identity.reset_password({"token": reset, "new_password": "a brand new passphrase"})


# Tokens and access --------------------------------------------------------------

def test_expired_and_forged_tokens_are_unauthenticated(platform, rpc, db):
    """Each forgery names the user's live session, so only its signature
    or key is wrong; the same claims properly signed are an admin's."""
    user, session, _ = signup(rpc)
    sid = jwt.decode(session["access_token"], options={"verify_signature": False})["sid"]
    expired = issue_access_token(user["id"], "student", sid, ttl=-10)
    admin = issue_access_token(user["id"], "admin", sid)  # what the test process may sign, as identity
    assert rpc.identity.list_users(admin, limit=1)["items"]
    admin_claims = jwt.decode(admin, options={"verify_signature": False})
    identity_kid = session_key("identity").kid
    # an attacker's own key, under identity's kid
    impostor = SigningKey(identity_kid, "identity", Ed25519PrivateKey.generate())
    forged = issue_access_token(user["id"], "admin", sid, key=impostor)
    # what anyone can read: identity's public key, as an HMAC secret (algorithm confusion)
    confused = forge({"alg": "HS256", "typ": "JWT", "kid": identity_kid}, admin_claims,
                     hs256_with(session_public_pem("identity")))
    unsigned = forge({"alg": "none", "typ": "JWT", "kid": identity_kid}, admin_claims)
    # learning's real key, speaking for a user, and for another service
    learning = session_key("learning")
    as_user = jwt.encode(dict(admin_claims, iss="edtech-learning"), learning.key, algorithm="EdDSA",
                         headers={"kid": learning.kid})
    as_analytics = jwt.encode(dict(jwt.decode(issue_service_token("learning", key=learning),
                                              options={"verify_signature": False}), svc="analytics"),
                              learning.key, algorithm="EdDSA", headers={"kid": learning.kid})
    before = counts(db)
    for bad in (expired, forged, confused, unsigned, as_user, as_analytics):
        with pytest.raises(Unauthenticated):
            rpc.identity.get_user(bad, user["id"])
        with pytest.raises(Unauthenticated):
            rpc.identity.update_user(bad, user["id"], {"first_name": "Eve"})
        with pytest.raises(Unauthenticated):
            rpc.identity.list_users(bad)
        with pytest.raises(Unauthenticated):
            rpc.identity.set_status(bad, user["id"], {"status": "suspended"})
    assert counts(db) == before


def test_update_by_another_user_is_forbidden_and_changes_nothing(platform, rpc, db):
    _, mallory, _ = signup(rpc)
    victim, _, _ = signup(rpc)
    before = counts(db)
    with pytest.raises(Forbidden):
        rpc.identity.update_user(mallory["access_token"], victim["id"], {"first_name": "Mallory"})
    assert db.scalar("SELECT first_name || version FROM users WHERE id = :u", u=victim["id"]) == "Ada1"
    assert counts(db) == before


def test_admin_may_update_another_user(platform, rpc, admin):
    user, _, _ = signup(rpc)
    changed = rpc.identity.update_user(admin["access_token"], user["id"], {"last_name": "Byron"})
    assert changed["last_name"] == "Byron" and changed["version"] == 2 and changed["email"] == user["email"]


def test_unknown_user_is_not_found_and_bad_ids_are_bad_input(platform, rpc, admin):
    token = admin["access_token"]
    with pytest.raises(NotFound):
        rpc.identity.get_user(token, str(uuid.uuid4()))
    with pytest.raises(NotFound):
        rpc.identity.update_user(token, str(uuid.uuid4()), {"first_name": "Nobody"})
    with pytest.raises(NotFound):
        rpc.identity.set_status(token, str(uuid.uuid4()), {"status": "suspended"})
    with pytest.raises(BadInput) as caught:
        rpc.identity.get_user(token, "not-a-uuid")
    assert "user_id" in caught.value.details


# Updates and their events -------------------------------------------------------

def test_update_emits_changes_and_a_no_op_emits_nothing(platform, rpc, db):
    user, session, _ = signup(rpc)
    token = session["access_token"]
    assert rpc.identity.update_user(token, user["id"], {"first_name": " Ada ", "bio": ""})["version"] == 1
    assert len(outbox_events(db, user["id"])) == 1  # only user_created
    updated = rpc.identity.update_user(token, user["id"], {"last_name": "King", "bio": "Counting engines.",
                                                           "preferences": {"theme": "dark"}})
    assert updated["version"] == 2 and updated["profile"]["preferences"] == {"theme": "dark"}
    (event,) = outbox_events(db, user["id"], "user_updated")
    assert set(event["data"]) == SNAPSHOT_KEYS | {"changes"}
    assert event["data"]["changes"] == ["bio", "last_name", "preferences"]
    assert (event["data"]["last_name"], event["data"]["version"]) == ("King", 2)


def test_update_bad_input_writes_nothing(platform, rpc, db):
    user, session, _ = signup(rpc)
    before = counts(db)
    for payload, field in [({}, "_schema"), ({"email": "bad"}, "email"), ({"role": "admin"}, "role"),
                           ({"preferences": {"k": "v\x00"}}, "preferences"), ({"bio": MB}, "bio"),
                           ({"settings": {str(i): i for i in range(51)}}, "settings")]:
        with pytest.raises(BadInput) as caught:
            rpc.identity.update_user(session["access_token"], user["id"], payload)
        assert field in caught.value.details
    assert counts(db) == before


def test_email_change_is_normalised_and_a_taken_email_is_a_conflict(platform, rpc, db):
    user, session, _ = signup(rpc)
    taken, _, _ = signup(rpc)
    fresh = new_payload()["email"]
    assert rpc.identity.update_user(session["access_token"], user["id"], {"email": " " + fresh.upper()})["email"] == \
        fresh
    before = counts(db)
    with pytest.raises(Conflict) as caught:
        rpc.identity.update_user(session["access_token"], user["id"], {"email": taken["email"].upper()})
    assert "email" in caught.value.details
    assert counts(db) == before
    assert db.scalar("SELECT email FROM users WHERE id = :u", u=user["id"]) == fresh


def test_concurrent_updates_get_distinct_versions(platform, rpc, db):
    user, session, _ = signup(rpc)
    calls = [rpc.identity.update_user.call_async(session["access_token"], user["id"], {"first_name": "Ada{}".format(i)})
             for i in range(8)]
    versions = sorted(call.result()["version"] for call in calls)
    assert versions == list(range(2, 10))
    events = outbox_events(db, user["id"], "user_updated")
    assert sorted(e["data"]["version"] for e in events) == versions


# Reading users -----------------------------------------------------------------

FULL_VIEW = {"id", "email", "first_name", "last_name", "role", "status", "version", "email_verified", "created_at",
             "updated_at", "profile"}
PUBLIC_VIEW = {"id", "first_name", "last_name", "role", "created_at", "profile"}


def test_other_users_get_the_public_view(platform, rpc, admin):
    alice, alice_session, _ = signup(rpc)
    bob, bob_session, _ = signup(rpc, "tutor")
    rpc.identity.update_user(bob_session["access_token"], bob["id"], {
        "bio": "Maths tutor.", "preferences": {"theme": "dark"}, "settings": {"phone": "+44 20 7946 0000"}})
    token = alice_session["access_token"]

    public = rpc.identity.get_user(token, bob["id"])
    assert set(public) == PUBLIC_VIEW and public["profile"] == {"bio": "Maths tutor."}
    assert (public["id"], public["first_name"], public["role"], public["created_at"]) == \
        (bob["id"], "Ada", "tutor", bob["created_at"])
    assert bob["email"] not in repr(public) and "phone" not in repr(public)

    own = rpc.identity.get_user(token, alice["id"])
    assert set(own) == FULL_VIEW and own["email"] == alice["email"]
    for full in (rpc.identity.get_user(admin["access_token"], bob["id"]),
                 rpc.identity.get_user(issue_service_token("learning", key=session_key("learning")), bob["id"])):
        assert set(full) == FULL_VIEW and full["email"] == bob["email"]
        assert full["profile"]["settings"] == {"phone": "+44 20 7946 0000"} and full["status"] == "active"

    both = rpc.identity.get_users(token, [alice["id"], bob["id"]])
    assert [set(u) for u in both] == [FULL_VIEW, PUBLIC_VIEW]
    assert rpc.identity.get_users(admin["access_token"], [bob["id"]])[0]["email"] == bob["email"]


def test_get_users_keeps_the_order_asked(platform, rpc):
    made = [signup(rpc)[0] for _ in range(3)]
    _, session, _ = signup(rpc)
    unknown = str(uuid.uuid4())
    asked = [made[2]["id"], unknown, made[0]["id"], made[1]["id"], made[2]["id"].upper()]
    got = rpc.identity.get_users(session["access_token"], asked)
    assert [u and u["id"] for u in got] == [made[2]["id"], None, made[0]["id"], made[1]["id"], made[2]["id"]]
    assert rpc.identity.get_users(session["access_token"], []) == []
    for bad in (["nope"], [made[0]["id"]] * 501, "not a list"):
        with pytest.raises(BadInput) as caught:
            rpc.identity.get_users(session["access_token"], bad)
        assert "user_ids" in caught.value.details


def test_list_users_pages_through_120_users_without_gaps_or_repeats(platform, rpc, admin):
    made = set()
    for start in range(0, 120, 20):  # in parallel batches: each registration is an argon2 hash
        payloads = [new_payload("tutor") for _ in range(20)]
        for call in [rpc.identity.register.call_async(p) for p in payloads]:
            assert call.result()["ok"]
        made.update(p["email"] for p in payloads)  # admins see emails: no need to sign each one in
    seen, emails, cursor, pages = [], set(), None, 0
    while True:
        page = rpc.identity.list_users(admin["access_token"], cursor=cursor, limit=7, role="tutor")
        assert len(page["items"]) <= 7 and all(u["role"] == "tutor" and u["email"] for u in page["items"])
        seen.extend(u["id"] for u in page["items"])
        emails.update(u["email"] for u in page["items"])
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert len(made) == 120 and made <= emails
    assert len(seen) == len(set(seen)) and seen == sorted(seen, key=uuid.UUID)
    assert pages >= 120 // 7


def test_list_users_access_and_bad_queries(platform, rpc, admin):
    _, session, _ = signup(rpc)
    with pytest.raises(Forbidden):
        rpc.identity.list_users(session["access_token"])
    assert rpc.identity.list_users(issue_service_token("learning", key=session_key("learning")), limit=1)["items"]
    for kwargs, field in [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"role": "wizard"}, "role"),
                          ({"cursor": "not a cursor"}, "cursor")]:
        with pytest.raises(BadInput) as caught:
            rpc.identity.list_users(admin["access_token"], **kwargs)
        assert field in caught.value.details


def test_find_user_by_email_is_for_admins_and_services(platform, rpc, admin):
    """An operator's lookup (docs/operations.md): whatever the case and
    spaces, the full view; to anyone else, nothing that says whether the
    address has an account."""
    user, session, payload = signup(rpc)
    operator = operator_token()  # as docs/operations.md mints it
    for token in (admin["access_token"], operator):
        found = rpc.identity.find_user_by_email(token, "  " + payload["email"].upper())
        assert (found["id"], found["email"], found["version"]) == (user["id"], payload["email"], 1)
    with pytest.raises(Forbidden):
        rpc.identity.find_user_by_email(session["access_token"], payload["email"])
    with pytest.raises(Unauthenticated):
        rpc.identity.find_user_by_email(None, payload["email"])
    with pytest.raises(NotFound):
        rpc.identity.find_user_by_email(operator, "nobody-{}@example.com".format(uuid.uuid4().hex[:8]))
    for bad in ("not an email", None, ["a@example.com"]):
        with pytest.raises(BadInput) as caught:
            rpc.identity.find_user_by_email(operator, bad)
        assert "email" in caught.value.details


# Status -----------------------------------------------------------------------

def test_set_status_by_non_admin_is_forbidden(platform, rpc, db):
    user, session, _ = signup(rpc)
    _, tutor, _ = signup(rpc, "tutor")
    for token in (session["access_token"], tutor["access_token"]):
        with pytest.raises(Forbidden):
            rpc.identity.set_status(token, user["id"], {"status": "deactivated"})
    assert db.scalar("SELECT status::text FROM users WHERE id = :u", u=user["id"]) == "active"


def test_suspension_reactivation_and_deactivation(platform, rpc, db, admin):
    user, session, payload = signup(rpc)
    token = admin["access_token"]
    with pytest.raises(BadInput):
        rpc.identity.set_status(token, user["id"], {"status": "banished"})
    assert rpc.identity.set_status(token, user["id"], {"status": "suspended"})["version"] == 2
    with pytest.raises(Unauthenticated):  # its sessions ended with the suspension
        rpc.identity.refresh({"refresh_token": session["refresh_token"]})
    with pytest.raises(Forbidden):
        rpc.identity.login({"email": payload["email"], "password": PASSWORD})
    with pytest.raises(Unauthenticated):  # its access token ended with its sessions
        rpc.identity.update_user(session["access_token"], user["id"], {"bio": "still here"})
    assert rpc.identity.set_status(token, user["id"], {"status": "active"})["version"] == 3
    assert rpc.identity.set_status(token, user["id"], {"status": "active"})["version"] == 3  # no-op
    done = rpc.identity.set_status(token, user["id"], {"status": "deactivated"})
    assert (done["status"], done["version"]) == ("deactivated", 4)

    events = [e for e in outbox_events(db, user["id"]) if e["event_type"] != "session_revoked"]
    assert [(e["event_type"], e["data"]["status"], e["data"]["version"]) for e in events] == [
        ("user_created", "active", 1), ("user_updated", "suspended", 2), ("user_updated", "active", 3),
        ("user_deactivated", "deactivated", 4)]
    assert events[1]["data"]["changes"] == ["status"]
    assert set(events[3]["data"]) == SNAPSHOT_KEYS
    with pytest.raises(Forbidden):
        rpc.identity.login({"email": payload["email"], "password": PASSWORD})


# The first admin ----------------------------------------------------------------

def test_create_admin_command_makes_an_admin_and_its_event(platform, rpc, db):
    email = "first-admin-{}@example.com".format(uuid.uuid4().hex[:8])
    done = create_admin_with_cli(email.upper())
    assert done.returncode == 0, done.stderr
    session = rpc.identity.login({"email": email, "password": ADMIN_PASSWORD})
    assert session["user"]["role"] == "admin"
    (event,) = outbox_events(db, session["user"]["id"])
    assert event["event_type"] == "user_created" and event["data"]["role"] == "admin"

    again = create_admin_with_cli(email)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert db.scalar("SELECT count(*) FROM users WHERE email = :e", e=email) == 1
