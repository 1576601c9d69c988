"""Only identity can mint users' tokens, and a service only its own
(docs/architecture.md, "Identity on RPC"): forged tokens of every kind are
refused, keys rotate without a restart, and a process without its keys
does not start. No broker or database."""
import base64
import os
import shutil
import stat
import time
import uuid
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common import keys
from services.common.auth import (ACCESS_TOKEN_TTL, ISSUER, OPERATOR, Auth, issue_access_token, issue_service_token,
                                  public_keys, verify_token)
from services.common.errors import Unauthenticated
from tests.token_keys import UnitKeys, forge, hs256_with

KEYS = UnitKeys()
RING = KEYS.ring


def user_claims(role="admin", **changes):
    now = int(time.time())
    return dict({"sub": str(uuid.uuid4()), "role": role, "sid": str(uuid.uuid4()), "iss": ISSUER, "iat": now,
                 "exp": now + ACCESS_TOKEN_TTL, "jti": uuid.uuid4().hex, "typ": "access"}, **changes)


def service_claims(service, iss=None):
    now = int(time.time())
    return {"sub": "service:" + service, "role": "service", "svc": service, "iss": iss or "edtech-" + service,
            "iat": now, "exp": now + 300, "typ": "access"}


def signed(claims, key, **header):
    return jwt.encode(claims, key.key, algorithm="EdDSA", headers=dict({"kid": key.kid}, **header))


def refused(token, ring=RING):
    with pytest.raises(Unauthenticated) as caught:
        verify_token(token, ring)
    return str(caught.value)


# What is accepted -------------------------------------------------------------

def test_identitys_key_signs_users_tokens_and_each_service_its_own():
    user_id = uuid.uuid4()
    user = verify_token(issue_access_token(user_id, "tutor", uuid.uuid4(), key=KEYS["identity"]), RING)
    assert (user.user_id, user.role, user.is_service) == (str(user_id), "tutor", False)
    for service in keys.ISSUERS:
        principal = verify_token(issue_service_token(service, key=KEYS[service]), RING)
        assert principal.is_service and principal.service == service and principal.user_id is None


def test_every_token_names_its_key_and_issuer():
    token = issue_service_token("learning", key=KEYS["learning"])
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "JWT", "kid": KEYS["learning"].kid}
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "edtech-learning"
    assert KEYS["learning"].kid.startswith("learning.")


def test_the_operators_token_is_signed_with_identitys_key_only():
    principal = verify_token(issue_service_token(OPERATOR, key=KEYS["identity"]), RING)
    assert principal.is_service and principal.service == OPERATOR
    with pytest.raises(ValueError):
        issue_service_token(OPERATOR, key=KEYS["learning"])
    refused(signed(service_claims(OPERATOR, iss="edtech-learning"), KEYS["learning"]))


# Forgeries ----------------------------------------------------------------------

def test_the_forger_makes_tokens_that_would_pass_if_they_were_not_forged():
    """So that each refusal below is for the forgery, not for a broken token."""
    kid = KEYS["identity"].kid
    assert verify_token(forge({"alg": "EdDSA", "typ": "JWT", "kid": kid}, user_claims(), KEYS["identity"].key.sign),
                        RING).role == "admin"
    hs = forge({"alg": "HS256", "typ": "JWT"}, user_claims(), hs256_with(b"a plain secret of 32 bytes or more"))
    assert jwt.decode(hs, "a plain secret of 32 bytes or more", algorithms=["HS256"], issuer=ISSUER)["role"] == "admin"


def test_hs256_keyed_with_identitys_public_key_is_refused():
    """Algorithm confusion: the public key is public, so an HMAC keyed with
    it must not pass for identity's signature."""
    pem = keys.public_pem(KEYS["identity"].key.public_key())
    for header in ({"alg": "HS256", "typ": "JWT", "kid": KEYS["identity"].kid}, {"alg": "HS256", "typ": "JWT"}):
        refused(forge(header, user_claims(), hs256_with(pem)))


def test_alg_none_is_refused():
    for header in ({"alg": "none", "kid": KEYS["identity"].kid}, {"alg": "none"},
                   {"alg": "None", "kid": KEYS["identity"].kid}):
        refused(forge(header, user_claims()))
    # and a real signature moved onto a token that says it needs none
    good = issue_access_token(uuid.uuid4(), "student", uuid.uuid4(), key=KEYS["identity"])
    refused(forge({"alg": "none", "kid": KEYS["identity"].kid}, user_claims())[:-1] + good.rsplit(".", 1)[1])


def test_a_services_key_cannot_speak_for_a_user():
    learning = KEYS["learning"]
    with pytest.raises(ValueError):
        issue_access_token(uuid.uuid4(), "admin", uuid.uuid4(), key=learning)
    refused(signed(user_claims(), learning))                               # identity's iss
    refused(signed(user_claims(iss="edtech-learning"), learning))          # its own iss
    refused(signed(user_claims(role="student", iss="edtech-learning"), learning))


def test_a_service_cannot_claim_to_be_another():
    learning = KEYS["learning"]
    with pytest.raises(ValueError):
        issue_service_token("analytics", key=learning)
    refused(signed(service_claims("analytics", iss="edtech-learning"), learning))
    refused(signed(service_claims("analytics"), learning))                     # analytics' iss too
    refused(signed(service_claims("analytics"), learning, kid=KEYS["analytics"].kid))  # analytics' kid: bad signature
    refused(signed(dict(service_claims("learning"), svc="analytics"), learning))
    refused(signed({k: v for k, v in service_claims("learning").items() if k != "svc"}, learning))
    # identity is the authority on users, not on other services
    refused(signed(service_claims("learning", iss=ISSUER), KEYS["identity"]))


def test_an_unknown_or_missing_kid_is_refused():
    stranger = keys.generate("identity")  # well formed, but no verifier holds it
    assert "does not know" in refused(issue_access_token(uuid.uuid4(), "admin", uuid.uuid4(), key=stranger))
    claims = user_claims()
    for kid in ({}, {"kid": None}, {"kid": 7}, {"kid": ["identity"]}, {"kid": "../../public/identity"}):
        refused(forge(dict({"alg": "EdDSA", "typ": "JWT"}, **kid), claims, KEYS["identity"].key.sign))


def test_an_attackers_key_under_identitys_kid_is_refused():
    impostor = keys.SigningKey(KEYS["identity"].kid, "identity", Ed25519PrivateKey.generate())
    assert refused(issue_access_token(uuid.uuid4(), "admin", uuid.uuid4(), key=impostor)) == \
        "the access token is invalid"


def test_expired_and_malformed_tokens_are_refused():
    assert "expired" in refused(issue_access_token(uuid.uuid4(), "admin", uuid.uuid4(), ttl=-10,
                                                   key=KEYS["identity"]))
    deep = base64.urlsafe_b64encode(b"[" * 100000).decode()
    for bad in ("", None, 42, "not.a.jwt", "a.b", "....", "\u00e9.a.b", deep + ".a.b",
                forge(["kid", KEYS["identity"].kid], user_claims(), KEYS["identity"].key.sign)):
        refused(bad)
    refused(signed(dict(user_claims(), typ="refresh"), KEYS["identity"]))
    refused(signed({k: v for k, v in user_claims().items() if k != "exp"}, KEYS["identity"]))


# Rotation -------------------------------------------------------------------------

def test_rotation_accepts_both_keys_then_refuses_the_retired_one(tmp_path):
    folder = str(tmp_path)
    [old] = keys.ensure(folder, ["identity"])
    assert keys.ensure(folder, ["identity"]) == []  # once only
    ring = keys.DirectoryKeyRing(keys.public_dir(folder), recheck=0)
    old_key = keys.load_signing_key(keys.private_dir(folder, "identity"))
    assert old_key.kid == old
    old_token = issue_access_token(uuid.uuid4(), "student", uuid.uuid4(), key=old_key)
    assert verify_token(old_token, ring).role == "student"

    new = keys.create(folder, "identity")
    new_key = keys.load_signing_key(keys.private_dir(folder, "identity"))
    assert new_key.kid == new != old  # the newest signs
    new_token = issue_access_token(uuid.uuid4(), "tutor", uuid.uuid4(), key=new_key)
    assert verify_token(new_token, ring).role == "tutor"  # picked up with no restart
    assert verify_token(old_token, ring).role == "student"  # still, until retired

    keys.retire(folder, old)
    assert "does not know" in refused(old_token, ring)
    assert verify_token(new_token, ring).role == "tutor"
    assert sorted(os.listdir(keys.private_dir(folder, "identity"))) == [new + ".key"]
    with pytest.raises(ValueError, match="only key"):
        keys.retire(folder, new)


def test_a_verifier_rereads_its_directory_at_most_once_per_interval(tmp_path):
    folder = str(tmp_path)
    keys.ensure(folder, ["identity"])
    now = [100.0]
    ring = keys.DirectoryKeyRing(keys.public_dir(folder), recheck=1.0, clock=lambda: now[0])
    kid = keys.create(folder, "identity")
    assert ring.get(kid) is None  # within the second: the keys in hand
    now[0] += 1.0
    assert ring.get(kid).issuer == "identity"


def test_a_broken_directory_keeps_the_keys_in_hand(tmp_path):
    folder = str(tmp_path)
    [kid] = keys.ensure(folder, ["identity"])
    ring = keys.DirectoryKeyRing(keys.public_dir(folder), recheck=0)
    with open(os.path.join(keys.public_dir(folder), "identity.20200101T000000000000Z.pub"), "w") as f:
        f.write("not a key")
    assert ring.get(kid) is not None


def test_key_files_are_private_to_their_owner(tmp_path):
    folder = str(tmp_path)
    [kid] = keys.ensure(folder, ["learning"])
    mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
    assert mode(os.path.join(keys.private_dir(folder, "learning"), kid + ".key")) == 0o600
    assert mode(keys.private_dir(folder, "learning")) == 0o700
    assert mode(os.path.join(keys.public_dir(folder), kid + ".pub")) == 0o644


def test_the_cli_rotates_lists_and_retires(tmp_path, capsys):
    folder = str(tmp_path)
    assert keys.main(["--dir", folder, "ensure", "identity", "learning"]) == 0
    assert keys.main(["--dir", folder, "rotate", "learning"]) == 0
    assert keys.main(["--dir", folder, "list"]) == 0
    listed = capsys.readouterr().out.split("\n")
    learning = [line.split() for line in listed if line.startswith("learning.")]
    assert [state for _, *state in learning] == [["private", "key", "here"], ["signs"]]
    assert keys.main(["--dir", folder, "retire", learning[0][0]]) == 0
    assert keys.main(["--dir", folder, "retire", learning[1][0]]) == 2  # its only key
    assert "only key" in capsys.readouterr().err


# A process without its keys does not start ------------------------------------------

@pytest.fixture
def keydir(tmp_path):
    folder = str(tmp_path / "keys")
    keys.ensure(folder)
    return folder


def started(service, signs, environ, monkeypatch):
    for name in (keys.PUBLIC_ENV, keys.PRIVATE_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    auth = Auth(signs=signs)
    auth.container = SimpleNamespace(service_name=service, dependencies=[])
    auth.setup()
    return auth


def test_without_the_public_keys_no_one_starts(monkeypatch, tmp_path):
    with pytest.raises(keys.KeyMaterialError, match="AUTH_PUBLIC_KEYS is not set"):
        started("payment", False, {}, monkeypatch)
    with pytest.raises(keys.KeyMaterialError, match="no such directory"):
        started("payment", False, {keys.PUBLIC_ENV: str(tmp_path / "nowhere")}, monkeypatch)
    with pytest.raises(keys.KeyMaterialError, match="no public key of identity"):
        started("payment", False, {keys.PUBLIC_ENV: str(tmp_path)}, monkeypatch)
    with pytest.raises(keys.KeyMaterialError, match="AUTH_PUBLIC_KEYS is not set"):
        public_keys({})


def test_a_service_that_signs_needs_its_own_private_key(monkeypatch, keydir):
    public = {keys.PUBLIC_ENV: keys.public_dir(keydir)}
    assert started("payment", False, public, monkeypatch).keys.get  # verifying alone needs none
    with pytest.raises(keys.KeyMaterialError, match="AUTH_PRIVATE_KEYS is not set"):
        started("learning", True, public, monkeypatch)
    with pytest.raises(keys.KeyMaterialError, match="holds analytics's key, not learning's"):
        started("learning", True, dict(public, **{keys.PRIVATE_ENV: keys.private_dir(keydir, "analytics")}),
                monkeypatch)
    mixed = os.path.join(keydir, "mixed")
    os.mkdir(mixed)
    for issuer in ("learning", "analytics"):
        [name] = os.listdir(keys.private_dir(keydir, issuer))
        shutil.copy(os.path.join(keys.private_dir(keydir, issuer), name), mixed)
    with pytest.raises(keys.KeyMaterialError, match="holds keys of analytics, learning"):
        started("learning", True, dict(public, **{keys.PRIVATE_ENV: mixed}), monkeypatch)
    own = dict(public, **{keys.PRIVATE_ENV: keys.private_dir(keydir, "learning")})
    started("learning", True, own, monkeypatch)
    token = issue_service_token("learning")  # the key it started with
    assert verify_token(token).service == "learning"


def test_a_key_whose_public_half_is_not_published_is_not_used(monkeypatch, keydir):
    """Rotation done in the wrong order: a token signed with it would verify nowhere."""
    kid = keys.create(keydir, "identity")
    os.remove(os.path.join(keys.public_dir(keydir), kid + ".pub"))
    with pytest.raises(keys.KeyMaterialError, match="add {}.pub there first".format(kid)):
        started("identity", True, {keys.PUBLIC_ENV: keys.public_dir(keydir),
                                   keys.PRIVATE_ENV: keys.private_dir(keydir, "identity")}, monkeypatch)


def test_platform_gives_each_process_only_its_own_private_key(tmp_path):
    from scripts.platformctl import Platform
    platform = Platform(run_dir=str(tmp_path / "run"), env={keys.KEYS_DIR_ENV: str(tmp_path / "keys"),
                                                            keys.PRIVATE_ENV: "inherited, never passed on"})
    assert keys.PRIVATE_ENV not in platform.env and keys.KEYS_DIR_ENV not in platform.env
    assert platform.key_env("learning") == {keys.PUBLIC_ENV: str(tmp_path / "keys" / "public"),
                                            keys.PRIVATE_ENV: str(tmp_path / "keys" / "private" / "learning")}
    assert platform.key_env() == {keys.PUBLIC_ENV: str(tmp_path / "keys" / "public")}  # the gateway


def test_an_operator_mints_a_token_with_identitys_key_only(keydir, capsys, monkeypatch):
    from services.identity import manage
    monkeypatch.delenv(keys.PRIVATE_ENV, raising=False)
    monkeypatch.setenv(keys.KEYS_DIR_ENV, keydir)
    ring = keys.DirectoryKeyRing(keys.public_dir(keydir))
    assert manage.main(["token", "--service", "operator"]) == 0
    token = capsys.readouterr().out.strip()
    principal = verify_token(token, ring)
    assert principal.is_service and principal.service == OPERATOR
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    assert manage.main(["token", "--service", "learning"]) == 2  # identity's key does not speak for learning
    assert manage.main(["token", "--ttl", "86400"]) == 2
    assert manage.main(["token", "--key", keys.private_dir(keydir, "learning")]) == 2
    assert "learning's key" in capsys.readouterr().err
    monkeypatch.setenv(keys.KEYS_DIR_ENV, os.path.join(keydir, "nowhere"))
    assert manage.main(["token"]) == 2
    assert "identity's key directory" in capsys.readouterr().err
