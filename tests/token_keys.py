"""Token keys for the tests (services/common/keys.py).

``make_session_keys`` gives the test session a key directory of its own, as
``scripts/up`` gives the development platform ``.run/keys``: the services it
starts get their own private keys from it (scripts/platformctl.py), and the
test process signs as identity does, so that it can hand the services
tokens of users it made up. ``UnitKeys`` are keys in memory, for tests that
run no process.
"""
import atexit
import base64
import hashlib
import hmac
import json
import os
import shutil
import tempfile

from services.common import keys

IDENTITY = keys.AUTHORITY


def make_session_keys(environ=os.environ):
    """A key pair per service in a temporary directory, removed when the
    session ends; the test process holds identity's private key."""
    folder = tempfile.mkdtemp(prefix="edtech-keys-")
    atexit.register(shutil.rmtree, folder, True)
    keys.ensure(folder)
    environ[keys.KEYS_DIR_ENV] = folder
    environ[keys.PUBLIC_ENV] = keys.public_dir(folder)
    environ[keys.PRIVATE_ENV] = keys.private_dir(folder, IDENTITY)
    return folder


def session_key(issuer):
    """The newest private key of ``issuer`` in this session's key directory."""
    return keys.load_signing_key(keys.private_dir(os.environ[keys.KEYS_DIR_ENV], issuer))


def session_public_pem(issuer):
    """What anyone can read: ``issuer``'s public key, as the file holds it."""
    return keys.public_pem(session_key(issuer).key.public_key())


class UnitKeys:
    """A key pair per service in memory, and the ring that verifies them."""

    def __init__(self, issuers=keys.ISSUERS):
        self.signing = {issuer: keys.generate(issuer) for issuer in issuers}
        self.ring = keys.KeyRing(key.public() for key in self.signing.values())

    def __getitem__(self, issuer):
        return self.signing[issuer]


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, claims, sign=None):
    """A JWT put together by hand, as an attacker would: ``sign(signing
    input) -> bytes`` makes the signature (none without it). PyJWT itself
    refuses to make the tokens the forgery tests need (an HMAC keyed with a
    PEM public key)."""
    signing_input = "{}.{}".format(_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()))
    return "{}.{}".format(signing_input, _b64(sign(signing_input.encode())) if sign else "")


def hs256_with(secret):
    """A signer for ``forge``: HMAC-SHA256 keyed with ``secret`` (bytes)."""
    return lambda signing_input: hmac.new(secret, signing_input, hashlib.sha256).digest()
