"""Identity without a broker or database: payload schemas, password hashing,
token hashing, the user views and event snapshot, and entrypoints run with
``worker_factory`` that must refuse before they touch the database."""
import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.testing.services import worker_factory

from services.common.auth import Authenticator, Principal, issue_access_token, issue_service_token
from services.common.errors import BadInput, Conflict, Forbidden, Unauthenticated
from services.common.keys import SigningKey
from services.common.validation import load
from services.identity import passwords, schemas, sessions, tokens, users
from services.identity.models import Role, TokenType, UserStatus
from services.identity.schemas import (AdminSchema, ListUsersSchema, LoginSchema, PasswordResetSchema,
                                       RegisterSchema, StatusSchema, UpdateUserSchema)
from services.identity.service import IdentityService, no_sooner_than
from tests.token_keys import UnitKeys

KEYS = UnitKeys()
MB = "x" * (1024 * 1024)


def registration(**changes):
    payload = {"email": "ada@example.com", "password": "correct horse battery", "first_name": "Ada",
               "last_name": "Lovelace", "role": "student"}
    payload.update(changes)
    return payload


def refused_fields(schema, payload):
    with pytest.raises(BadInput) as caught:
        load(schema, payload)
    return caught.value.details


# Registration -------------------------------------------------------------

BAD_REGISTRATIONS = [
    ("malformed email", {"email": "not-an-email"}, "email"),
    ("email without domain", {"email": "ada@"}, "email"),
    ("email over 254", {"email": "a@" + "b" * 250 + ".com"}, "email"),
    ("short password", {"password": "nine char"}, "password"),
    ("long password", {"password": "p" * 129}, "password"),
    ("unknown role", {"role": "wizard"}, "role"),
    ("admin role", {"role": "admin"}, "role"),
    ("first name over 100", {"first_name": "x" * 101}, "first_name"),
    ("last name blank", {"last_name": "   "}, "last_name"),
    ("first name empty", {"first_name": ""}, "first_name"),
    ("name with NUL", {"first_name": "Ada\x00"}, "first_name"),
    ("name with newline", {"last_name": "Love\nlace"}, "last_name"),
    ("name is a number", {"first_name": 42}, "first_name"),
    ("password is a list", {"password": ["correct horse battery"]}, "password"),
    ("email is null", {"email": None}, "email"),
    ("role is a dict", {"role": {"is": "student"}}, "role"),
    ("1 MB first name", {"first_name": MB}, "first_name"),
    ("1 MB email", {"email": MB}, "email"),
    ("1 MB password", {"password": MB}, "password"),
    ("unknown field", {"nickname": "countess"}, "nickname"),
    ("sneaked status", {"status": "active"}, "status"),
]


@pytest.mark.parametrize("change,field", [c[1:] for c in BAD_REGISTRATIONS], ids=[c[0] for c in BAD_REGISTRATIONS])
def test_bad_registration_names_the_field(change, field):
    assert field in refused_fields(RegisterSchema(), registration(**change))


@pytest.mark.parametrize("missing", ["email", "password", "first_name", "last_name", "role"])
def test_missing_field_is_named(missing):
    payload = registration()
    del payload[missing]
    assert refused_fields(RegisterSchema(), payload) == {missing: ["Missing data for required field."]}


def test_admin_role_is_refused_with_a_reason():
    assert "admins cannot self-register" in refused_fields(RegisterSchema(), registration(role="admin"))["role"][0]


@pytest.mark.parametrize("payload", [None, [], "register me", 42])
def test_payload_must_be_an_object(payload):
    assert "_schema" in refused_fields(RegisterSchema(), payload)


def test_email_is_normalised_and_names_trimmed():
    data = load(RegisterSchema(), registration(email="  Ada@Example.COM ", first_name=" Ada ", last_name="\tKing "))
    assert (data["email"], data["first_name"], data["last_name"]) == ("ada@example.com", "Ada", "King")


def test_password_is_kept_as_given():
    assert load(RegisterSchema(), registration(password="  spaced out  "))["password"] == "  spaced out  "


# Weak passwords (NIST SP 800-63B, section 5.1.1.2) --------------------------

@pytest.mark.parametrize("password", ["password12", "1234567890", "qwertyuiop", "Password12", "QWERTYUIOP"])
def test_common_passwords_are_refused(password):
    assert refused_fields(RegisterSchema(), registration(password=password)) == {"password": [passwords.TOO_COMMON]}
    assert "password" in refused_fields(AdminSchema(), registration(password=password, role="admin"))
    assert refused_fields(PasswordResetSchema(), {"token": "t", "new_password": password}) == \
        {"new_password": [passwords.TOO_COMMON]}


def test_a_strong_password_is_accepted():
    strong = "correct horse battery"
    assert passwords.weakness(strong, "ada.lovelace@example.com") is None
    assert load(RegisterSchema(), registration(email="ada.lovelace@example.com", password=strong))["password"] == \
        strong
    assert load(PasswordResetSchema(), {"token": "t", "new_password": strong})["new_password"] == strong


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "ZZZZZZZZZZZZZZZZ", " " * 12])
def test_one_character_repeated_is_refused(password):
    assert refused_fields(RegisterSchema(), registration(password=password)) == {"password": [passwords.REPEATED]}


@pytest.mark.parametrize("password", ["ada.lovelace", "ADA.LOVELACE", "my ada.lovelace 1815", "Ada.Lovelace!"])
def test_password_made_of_the_email_is_refused(password):
    payload = registration(email="Ada.Lovelace@Example.com", password=password)
    assert refused_fields(RegisterSchema(), payload) == {"password": [passwords.LOOKS_LIKE_EMAIL]}


def test_a_short_local_part_is_not_looked_for():
    # "ada" (3 characters) turns up in passwords by chance: only 4 or more count.
    assert load(RegisterSchema(), registration(email="ada@example.com", password="adagio in d minor"))
    assert "password" in refused_fields(RegisterSchema(), registration(email="adag@example.com",
                                                                       password="adagio in d minor"))


def test_other_field_errors_do_not_hide_the_email_check():
    payload = registration(email="ada.lovelace@example.com", password="ada.lovelace1", first_name="")
    assert set(refused_fields(RegisterSchema(), payload)) == {"first_name", "password"}


def test_the_common_password_list_ships_with_the_service():
    with open(passwords.COMMON_PASSWORDS_FILE, encoding="utf-8") as f:
        header = [line for line in f if line.startswith("#")]
    assert any("zxcvbn" in line for line in header) and any("MIT" in line for line in header)
    assert len(passwords.COMMON_PASSWORDS) > 1000
    # Shorter entries could never match: the schema refuses them first.
    assert min(map(len, passwords.COMMON_PASSWORDS)) >= schemas.MIN_PASSWORD
    assert all(p == p.lower() and not p.startswith("#") for p in passwords.COMMON_PASSWORDS)
    assert isinstance(passwords.COMMON_PASSWORDS, frozenset)


def test_reset_refuses_a_new_password_made_of_the_email_and_keeps_the_old_hash():
    user = fake_user(email="ada.lovelace@example.com")
    with mock.patch.object(sessions, "_spend", return_value=user), mock.patch.object(sessions, "tokens") as toks:
        with pytest.raises(BadInput) as caught:
            sessions.reset_password(mock.MagicMock(), "raw", "Ada.Lovelace-1815")
    assert caught.value.details == {"new_password": [passwords.LOOKS_LIKE_EMAIL]}
    assert user.password_hash == "$argon2id$secret" and not toks.revoke_all_sessions.called


def test_tutor_may_register_and_admin_schema_is_only_admin():
    assert load(RegisterSchema(), registration(role="tutor"))["role"] == "tutor"
    assert load(AdminSchema(), registration(role="admin"))["role"] == "admin"
    assert "role" in refused_fields(AdminSchema(), registration(role="student"))


def test_login_and_reset_payloads():
    assert load(LoginSchema(), {"email": " ADA@example.com", "password": "x"})["email"] == "ada@example.com"
    assert "password" in refused_fields(LoginSchema(), {"email": "ada@example.com", "password": ""})
    assert "new_password" in refused_fields(PasswordResetSchema(), {"token": "t", "new_password": "short"})
    assert "token" in refused_fields(PasswordResetSchema(), {"token": "", "new_password": "long enough now"})


# Updates, status, listing -------------------------------------------------

BAD_UPDATES = [
    ("nothing to change", {}, "_schema"),
    ("role cannot change", {"role": "admin"}, "role"),
    ("password not here", {"password": "correct horse battery"}, "password"),
    ("bad email", {"email": "nope"}, "email"),
    ("null name", {"first_name": None}, "first_name"),
    ("bio with NUL", {"bio": "hi\x00"}, "bio"),
    ("bio too long", {"bio": "b" * 5001}, "bio"),
    ("preferences not an object", {"preferences": ["dark"]}, "preferences"),
    ("too many keys", {"settings": {str(i): i for i in range(51)}}, "settings"),
    ("over 10 KB", {"preferences": {"big": "x" * 9000, "bigger": "y" * 2000}}, "preferences"),
    ("NUL inside JSON", {"preferences": {"theme": {"name": "da\x00rk"}}}, "preferences"),
    ("NUL in a key", {"settings": {"k\x00": 1}}, "settings"),
    ("NaN", {"settings": {"volume": float("nan")}}, "settings"),
    ("too deep", {"settings": {"a": [[[[[[[[[[[1]]]]]]]]]]]}}, "settings"),
]


@pytest.mark.parametrize("payload,field", [c[1:] for c in BAD_UPDATES], ids=[c[0] for c in BAD_UPDATES])
def test_bad_update_names_the_field(payload, field):
    assert field in refused_fields(UpdateUserSchema(), payload)


def test_update_is_partial_and_normalised():
    data = load(UpdateUserSchema(), {"email": " New@Example.com", "preferences": {"theme": "dark", "n": [1, 2]}})
    assert data == {"email": "new@example.com", "preferences": {"theme": "dark", "n": [1, 2]}}
    assert load(UpdateUserSchema(), {"settings": {str(i): i for i in range(50)}})["settings"]["49"] == 49


@pytest.mark.parametrize("query,field", [({"limit": 0}, "limit"), ({"limit": 501}, "limit"),
                                         ({"limit": "10"}, "limit"), ({"limit": True}, "limit"),
                                         ({"role": "wizard"}, "role"), ({"cursor": "  "}, "cursor"),
                                         ({"cursor": 7}, "cursor")])
def test_bad_list_query(query, field):
    full = dict({"cursor": None, "limit": 50, "role": None}, **query)
    assert field in refused_fields(ListUsersSchema(), full)


def test_status_values():
    assert load(StatusSchema(), {"status": "suspended"}) == {"status": "suspended"}
    assert "status" in refused_fields(StatusSchema(), {"status": "banished"})


# Passwords and tokens -----------------------------------------------------

def test_password_hash_is_argon2id_with_owasp_parameters():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct horse battery" not in stored
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "correct horse batterY")
    assert not passwords.needs_rehash(stored)


def test_unknown_user_still_costs_a_verification_and_fails():
    with mock.patch.object(passwords, "HASHER", wraps=passwords.HASHER) as hasher:
        assert passwords.verify_password(None, "whatever it is") is False
    hasher.verify.assert_called_once()


def test_weaker_hash_needs_rehash_and_garbage_never_verifies():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert passwords.needs_rehash(weak)
    assert passwords.verify_password(weak, "correct horse battery")
    assert not passwords.verify_password("not a hash", "correct horse battery")


def test_token_hash_is_sha256_hex():
    assert tokens.token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.token_hash("anything"))


def test_issued_token_is_random_and_stored_only_as_its_hash():
    session = mock.Mock()
    user_id = uuid.uuid4()
    first = tokens.issue(session, user_id, TokenType.password_reset)
    second = tokens.issue(session, user_id, TokenType.password_reset)
    rows = [call.args[0] for call in session.add.call_args_list]
    assert first != second and len(first) >= 40
    assert [r.token_hash for r in rows] == [tokens.token_hash(first), tokens.token_hash(second)]
    # The raw value is in no column of any row: a leaked table gives no usable token.
    for row, raw in zip(rows, (first, second)):
        stored = [str(getattr(row, column.key)) for column in row.__table__.columns]
        assert not any(raw in value for value in stored), stored
    remaining = rows[0].expires_at - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)


def test_token_lifetimes():
    assert tokens.TTL == {TokenType.refresh: timedelta(days=30), TokenType.email_verification: timedelta(hours=48),
                          TokenType.password_reset: timedelta(hours=1)}


@pytest.mark.parametrize("row", [None, SimpleNamespace(used_at=datetime.now(timezone.utc),
                                                        expires_at=datetime.now(timezone.utc) + timedelta(hours=1)),
                                 SimpleNamespace(used_at=None, expires_at=datetime.now(timezone.utc))],
                         ids=["unknown", "used", "expired"])
def test_single_use_token_refused_the_same_way(row):
    with mock.patch.object(tokens, "claim", return_value=row):
        with pytest.raises(Unauthenticated, match="invalid, used or expired"):
            tokens.spend(mock.Mock(), "raw", TokenType.email_verification)


def test_single_use_token_is_spent():
    row = SimpleNamespace(used_at=None, expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    with mock.patch.object(tokens, "claim", return_value=row):
        assert tokens.spend(mock.Mock(), "raw", TokenType.password_reset) is row
    assert row.used_at is not None


# Views and the event contract ---------------------------------------------

def fake_user(**changes):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    user = SimpleNamespace(id=uuid.uuid4(), email="ada@example.com", first_name="Ada", last_name="Lovelace",
                           role=Role.tutor, status=UserStatus.active, version=3, email_verified_at=None,
                           created_at=now, updated_at=now, password_hash="$argon2id$secret",
                           profile=SimpleNamespace(bio="Engines", preferences={"a": 1}, settings={}))
    for key, value in changes.items():
        setattr(user, key, value)
    return user


def test_event_snapshot_is_exactly_the_contract():
    user = fake_user()
    assert users.snapshot(user) == {"user_id": str(user.id), "email": "ada@example.com", "first_name": "Ada",
                                    "last_name": "Lovelace", "role": "tutor", "status": "active", "version": 3}


FULL_VIEW = {"id", "email", "first_name", "last_name", "role", "status", "version", "email_verified", "created_at",
             "updated_at", "profile"}
PUBLIC_VIEW = {"id", "first_name", "last_name", "role", "created_at", "profile"}


def test_full_view_shape_and_no_secrets():
    user = fake_user()
    view = users.user_view(user, users.as_self(user))
    assert set(view) == FULL_VIEW
    assert view["profile"] == {"bio": "Engines", "preferences": {"a": 1}, "settings": {}}
    assert view["created_at"] == "2026-11-25T12:00:00+00:00" and view["email_verified"] is False
    assert "secret" not in repr(view)


def test_public_view_is_who_they_are_not_how_to_reach_them():
    user = fake_user(profile=SimpleNamespace(bio="Engines", preferences={"a": 1}, settings={"phone": "555"}))
    view = users.public_view(user)
    assert view == {"id": str(user.id), "first_name": "Ada", "last_name": "Lovelace", "role": "tutor",
                    "created_at": "2026-11-25T12:00:00+00:00", "profile": {"bio": "Engines"}}
    assert users.public_view(fake_user(profile=None))["profile"] == {"bio": ""}


@pytest.mark.parametrize("viewer,full", [
    (lambda u: Principal(user_id=str(u.id), role="tutor"), True),
    (lambda u: Principal(user_id=str(uuid.uuid4()), role="admin"), True),
    (lambda u: Principal(user_id=None, role="service", service="learning"), True),
    (lambda u: Principal(user_id=str(uuid.uuid4()), role="student"), False),
    (lambda u: None, False),
], ids=["self", "admin", "service", "other user", "nobody"])
def test_who_sees_the_full_view(viewer, full):
    user = fake_user()
    view = users.user_view(user, viewer(user))
    assert set(view) == (FULL_VIEW if full else PUBLIC_VIEW)
    assert (view.get("email") == user.email) is full


# Registration that does not tell who has an account ------------------------

APP = "https://app.example"


def test_register_with_a_taken_email_hashes_writes_no_user_and_mails_the_owner():
    uow, owner = mock.MagicMock(), fake_user()
    data = load(RegisterSchema(), registration())
    with mock.patch.object(users, "user_by_email", return_value=owner), \
            mock.patch.object(users, "hash_password", wraps=passwords.hash_password) as hashed, \
            mock.patch.object(users, "create") as create, \
            mock.patch.object(users.mails, "queue_address_taken") as notice, \
            mock.patch.object(users.mails, "queue_verification") as verification:
        assert users.register(uow, data, APP) is None
    hashed.assert_called_once_with("correct horse battery")  # the same argon2 work as a new account
    assert not create.called and not uow.emit.called and not uow.session.add.called
    notice.assert_called_once_with(uow.session, APP, owner)  # the owner hears of it, nobody else
    assert not verification.called


def test_register_that_loses_a_race_gets_the_same_answer():
    uow, owner = mock.MagicMock(), fake_user()
    with mock.patch.object(users, "user_by_email", side_effect=[None, owner]), \
            mock.patch.object(users, "create", side_effect=Conflict("taken")), \
            mock.patch.object(users.mails, "queue_address_taken") as notice:
        assert users.register(uow, load(RegisterSchema(), registration()), APP) is None
    uow.session.begin_nested.assert_called_once()  # rolled back to it, not the whole unit
    assert not uow.session.add.called
    notice.assert_called_once_with(uow.session, APP, owner)


def test_register_of_a_new_email_mails_its_verification_link():
    uow, user = mock.MagicMock(), fake_user()
    with mock.patch.object(users, "user_by_email", return_value=None), \
            mock.patch.object(users, "create", return_value=user), \
            mock.patch.object(users.tokens, "issue", return_value="raw-token") as issue, \
            mock.patch.object(users.mails, "queue_verification") as verification:
        assert users.register(uow, load(RegisterSchema(), registration()), APP) is None
    issue.assert_called_once_with(uow.session, user.id, TokenType.email_verification)
    verification.assert_called_once_with(uow.session, APP, user, "raw-token")


def test_register_answers_the_same_either_way(service):
    # Nothing about the outcome reaches the answer: the token goes by mail only.
    with mock.patch.object(users, "register", return_value=None):
        assert service.register(registration()) == {"ok": True}


@pytest.mark.parametrize("clock,pause", [([10.0, 10.02], 0.03), ([10.0, 10.2], 0.0)],
                         ids=["faster than the floor", "slower than the floor"])
def test_no_sooner_than_pads_to_the_floor_from_the_start(clock, pause):
    with mock.patch("services.identity.service.time") as fake_time:
        fake_time.monotonic.side_effect = clock
        with pytest.raises(BadInput):  # whatever the outcome
            with no_sooner_than(0.05):
                raise BadInput("invalid input")
    (waited,), _ = fake_time.sleep.call_args
    assert waited == pytest.approx(pause)


# Entrypoints with worker_factory: refused before the database -------------

@pytest.fixture
def service():
    return worker_factory(IdentityService, auth=Authenticator(KEYS.ring))


def token_for(role="student", user_id=None, **kwargs):
    return issue_access_token(user_id or uuid.uuid4(), role, uuid.uuid4(), key=KEYS["identity"], **kwargs)


def test_register_with_bad_input_touches_nothing(service):
    with pytest.raises(BadInput) as caught:
        service.register(registration(role="admin", email="bad"))
    assert set(caught.value.details) == {"role", "email"}
    assert not service.uow.called


def test_update_of_someone_else_is_forbidden(service):
    with pytest.raises(Forbidden):
        service.update_user(token_for(), str(uuid.uuid4()), {"first_name": "Eve"})
    assert not service.uow.called


def test_expired_and_forged_tokens_are_unauthenticated(service):
    expired = token_for(ttl=-10)
    # an attacker's own key, under the kid of identity's
    forged = issue_access_token(uuid.uuid4(), "admin", uuid.uuid4(),
                                key=SigningKey(KEYS["identity"].kid, "identity", Ed25519PrivateKey.generate()))
    for bad in (expired, forged, "", None, "not.a.jwt"):
        with pytest.raises(Unauthenticated):
            service.get_user(bad, str(uuid.uuid4()))
    assert not service.uow.called


def test_list_users_and_set_status_need_admin(service):
    with pytest.raises(Forbidden):
        service.list_users(token_for("tutor"))
    with pytest.raises(Forbidden):
        service.set_status(token_for("student"), str(uuid.uuid4()), {"status": "suspended"})
    assert not service.uow.called


@pytest.mark.parametrize("ids", [["nope"], "not a list", [str(uuid.uuid4())] * 501, None])
def test_get_users_refuses_bad_ids(service, ids):
    with pytest.raises(BadInput) as caught:
        service.get_users(token_for(), ids)
    assert "user_ids" in caught.value.details


def test_logout_with_a_service_token_is_forbidden(service):
    with pytest.raises(Forbidden):
        service.logout(issue_service_token("learning", key=KEYS["learning"]))
    unit = service.uow.return_value.__enter__.return_value
    assert not unit.session.mock_calls and not unit.emit.called and not unit.commit.called


def test_unverified_login_is_refused_like_a_wrong_password():
    from services.identity import sessions
    user = fake_user(password_hash=passwords.hash_password("correct horse battery"))
    uow = mock.MagicMock()
    with mock.patch.object(sessions, "user_by_email", return_value=user):
        with pytest.raises(Unauthenticated) as unverified:
            sessions.login(uow, user.email, "correct horse battery")
        with pytest.raises(Unauthenticated) as wrong:
            sessions.login(uow, user.email, "wrong horse battery")
    assert str(unverified.value) == str(wrong.value) == sessions.WRONG_CREDENTIALS
    assert unverified.value.details == wrong.value.details
