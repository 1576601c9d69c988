"""Token keys: an Ed25519 key pair per issuer (docs/architecture.md, "Identity on RPC").

Identity signs users' access tokens with its private key; every other
service signs its own service tokens with its own. Every process verifies
with the public keys, which say nothing a thief could sign with. A key
directory (``scripts/up``: ``.run/keys``; the tests: a temporary one) holds

    public/<kid>.pub             every issuer's public keys (PEM); every process reads the directory
    private/<issuer>/<kid>.key   one issuer's private keys (PEM, PKCS#8), mode 0600 in a 0700 directory

A key id (``kid``) is ``<issuer>.<UTC time it was made>``, e.g.
``learning.20261125T101502123456Z``: it says whose key it is, and an
issuer's newest key sorts last, which is the one it signs with. During a
rotation an issuer has two keys, and verifiers accept both.

    python -m services.common.keys ensure [--dir D] [issuer ...]   make a first key pair for each issuer that has none
    python -m services.common.keys rotate [--dir D] issuer         a new key pair (the old one stays until retired)
    python -m services.common.keys retire [--dir D] kid            remove a key pair: its tokens no longer verify
    python -m services.common.keys list [--dir D]

``--dir`` defaults to ``$AUTH_KEYS_DIR``, else ``.run/keys``.
"""
import argparse
import logging
import os
import re
import stat
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.config import SERVICES

log = logging.getLogger(__name__)

AUTHORITY = "identity"  # the one issuer whose keys sign users' tokens
ISSUERS = tuple(SERVICES)
KEYS_DIR_ENV = "AUTH_KEYS_DIR"          # the whole directory: scripts and tests only, never a service
PUBLIC_ENV = "AUTH_PUBLIC_KEYS"         # <dir>/public: every process
PRIVATE_ENV = "AUTH_PRIVATE_KEYS"       # <dir>/private/<issuer> (or one .key file): that issuer's processes only
DEFAULT_KEYS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                ".run", "keys")
# A verifier looks at the public directory again at most this often, so a
# key added or retired there counts within about a second, with no restart.
RECHECK_SECONDS = 1.0

_KID = re.compile(r"^(?P<issuer>[a-z][a-z0-9_]*)\.(?P<made>\d{8}T\d{12}Z)$")


class KeyMaterialError(RuntimeError):
    """Key material that is missing or wrong: a process that meets it at
    start-up must not start."""


@dataclass(frozen=True)
class VerifyingKey:
    kid: str
    issuer: str
    key: Ed25519PublicKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    issuer: str
    key: Ed25519PrivateKey

    def public(self):
        return VerifyingKey(self.kid, self.issuer, self.key.public_key())


def parse_kid(kid):
    """``(issuer, made)`` of a well-formed key id, else None."""
    match = _KID.match(kid) if isinstance(kid, str) else None
    return (match["issuer"], match["made"]) if match else None


def new_kid(issuer, now=None):
    if not re.fullmatch(r"[a-z][a-z0-9_]*", issuer):
        raise ValueError("an issuer is a service name in lower case, not {!r}".format(issuer))
    return "{}.{}".format(issuer, (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ"))


def generate(issuer, now=None):
    """A new key pair in memory (the tests' unit keys; ``create`` writes one)."""
    return SigningKey(new_kid(issuer, now), issuer, Ed25519PrivateKey.generate())


def public_pem(key):
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_dir(keys_dir):
    return os.path.join(keys_dir, "public")


def private_dir(keys_dir, issuer):
    return os.path.join(keys_dir, "private", issuer)


def _write(path, data, mode):
    """Whole or not at all: a reader never sees half a key (it skips ``.tmp``)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path + ".tmp", mode)  # whatever the umask
    os.replace(path + ".tmp", path)


def _mkdir(path, mode):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)


def create(keys_dir, issuer):
    """Make and write a new key pair of ``issuer``; returns its kid. The
    public key is written first, so the private one never exists without it."""
    _mkdir(keys_dir, 0o755)
    _mkdir(public_dir(keys_dir), 0o755)
    _mkdir(os.path.join(keys_dir, "private"), 0o711)
    _mkdir(private_dir(keys_dir, issuer), 0o700)
    while True:
        pair = generate(issuer)
        if not os.path.exists(os.path.join(public_dir(keys_dir), pair.kid + ".pub")):
            break
    _write(os.path.join(public_dir(keys_dir), pair.kid + ".pub"), public_pem(pair.key.public_key()), 0o644)
    _write(os.path.join(private_dir(keys_dir, issuer), pair.kid + ".key"), private_pem(pair.key), 0o600)
    return pair.kid


def ensure(keys_dir, issuers=ISSUERS):
    """A first key pair for each issuer that has no private key yet; returns the kids made."""
    made = []
    for issuer in issuers:
        folder = private_dir(keys_dir, issuer)
        if not (os.path.isdir(folder) and _key_files(folder, ".key")):
            made.append(create(keys_dir, issuer))
    return made


def retire(keys_dir, kid):
    """Remove a key pair: verifiers stop accepting its tokens within
    ``RECHECK_SECONDS``. Refused for an issuer's only key."""
    parsed = parse_kid(kid)
    if parsed is None:
        raise ValueError("not a key id: {!r}".format(kid))
    issuer = parsed[0]
    others = [k for k in _key_files(public_dir(keys_dir), ".pub") if k != kid and parse_kid(k)[0] == issuer]
    if not others:
        raise ValueError("{} is {}'s only key; make its successor first (rotate)".format(kid, issuer))
    removed = []
    for path in (os.path.join(private_dir(keys_dir, issuer), kid + ".key"),
                 os.path.join(public_dir(keys_dir), kid + ".pub")):
        if os.path.exists(path):
            os.remove(path)
            removed.append(path)
    if not removed:
        raise ValueError("no key {} in {}".format(kid, keys_dir))
    return removed


def _key_files(folder, suffix):
    """The kids of the well-formed key files in ``folder``, oldest first."""
    kids = []
    for name in os.listdir(folder):
        if name.endswith(suffix) and parse_kid(name[:-len(suffix)]):
            kids.append(name[:-len(suffix)])
    return sorted(kids, key=lambda kid: parse_kid(kid)[1])


def load_signing_key(path, source=PRIVATE_ENV):
    """The newest private key in ``path`` (a directory of ``<kid>.key``, or
    one such file); ``source`` is where the path came from, for messages."""
    if not path:
        raise KeyMaterialError("{} is not set: this process signs tokens and needs its own private key "
                               "(scripts/up makes them in .run/keys/private/<service>; docs/operations.md, "
                               "\"Keys and an operator's token\")".format(PRIVATE_ENV))
    if os.path.isdir(path):
        kids = _key_files(path, ".key")
        if not kids:
            raise KeyMaterialError("{}={} holds no <issuer>.<time>.key file".format(source, path))
        issuers = {parse_kid(k)[0] for k in kids}
        if len(issuers) > 1:
            raise KeyMaterialError("{}={} holds keys of {}: a process holds only its own issuer's keys".format(
                source, path, ", ".join(sorted(issuers))))
        kid, file = kids[-1], os.path.join(path, kids[-1] + ".key")
    elif os.path.isfile(path):
        file, kid = path, os.path.basename(path)[:-len(".key")] if path.endswith(".key") else None
        if parse_kid(kid) is None:
            raise KeyMaterialError("{}={}: a private key file is named <issuer>.<time>.key".format(source, path))
    else:
        raise KeyMaterialError("{}={}: no such file or directory".format(source, path))
    mode = os.stat(file).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users (mode %o); a private key should be mode 0600", file,
                    stat.S_IMODE(mode))
    try:
        with open(file, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyMaterialError("cannot read the private key {}: {}".format(file, exc))
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyMaterialError("{} is not an Ed25519 private key".format(file))
    return SigningKey(kid, parse_kid(kid)[0], key)


def read_public_keys(folder):
    """Every ``<kid>.pub`` in ``folder``, by kid. A file named like a key
    that is not an Ed25519 public key is an error: a typo must not pass
    unnoticed as a key fewer."""
    found = {}
    for kid in _key_files(folder, ".pub"):
        file = os.path.join(folder, kid + ".pub")
        try:
            with open(file, "rb") as f:
                key = serialization.load_pem_public_key(f.read())
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyMaterialError("cannot read the public key {}: {}".format(file, exc))
        if not isinstance(key, Ed25519PublicKey):
            raise KeyMaterialError("{} is not an Ed25519 public key".format(file))
        found[kid] = VerifyingKey(kid, parse_kid(kid)[0], key)
    return found


class KeyRing:
    """The public keys a verifier accepts, by kid; each belongs to the
    issuer its kid names. Built from keys in memory (unit tests) or read
    from a directory (``DirectoryKeyRing``)."""

    def __init__(self, keys=()):
        self._keys = {k.kid: k for k in keys}

    def get(self, kid):
        return self._keys.get(kid)

    def kids(self):
        return sorted(self._keys)

    def issuers(self):
        return {k.issuer for k in self._keys.values()}


class DirectoryKeyRing(KeyRing):
    """The public keys in a directory, read at start and again whenever it
    changed (looked at no more than once per ``RECHECK_SECONDS``): a key
    added for a rotation is accepted, and a retired one refused, without
    restarting anyone."""

    def __init__(self, folder, recheck=RECHECK_SECONDS, clock=time.monotonic):
        self.folder, self.recheck, self.clock = folder, recheck, clock
        if not folder:
            raise KeyMaterialError("{} is not set: every process verifies tokens with the public keys "
                                   "(scripts/up makes them in .run/keys/public; docs/operations.md, "
                                   "\"Keys and an operator's token\")".format(PUBLIC_ENV))
        if not os.path.isdir(folder):
            raise KeyMaterialError("{}={}: no such directory".format(PUBLIC_ENV, folder))
        self._lock = threading.Lock()
        self._seen = self._stamp()
        super().__init__(read_public_keys(folder).values())
        if AUTHORITY not in self.issuers():
            raise KeyMaterialError("{}={} holds no public key of {}, so no user's token could verify".format(
                PUBLIC_ENV, folder, AUTHORITY))
        self._checked = self.clock()

    def _stamp(self):
        st = os.stat(self.folder)
        return st.st_ino, st.st_mtime_ns

    def get(self, kid):
        if self.clock() - self._checked >= self.recheck:
            self._refresh()
        return self._keys.get(kid)

    def _refresh(self):
        if not self._lock.acquire(blocking=False):
            return  # another thread is reading it; the keys in hand are a second old at most
        try:
            self._checked = self.clock()
            stamp = self._stamp()
            if stamp != self._seen:
                self._keys = read_public_keys(self.folder)
                self._seen = stamp
                log.info("public keys in %s now: %s", self.folder, ", ".join(sorted(self._keys)) or "none")
        except (OSError, KeyMaterialError) as exc:
            # Keep the keys in hand: the directory is being changed, or was
            # broken by hand; it is looked at again after RECHECK_SECONDS.
            log.warning("could not read the public keys in %s: %s", self.folder, exc)
        finally:
            self._lock.release()


def _keys_dir(value):
    return value or os.environ.get(KEYS_DIR_ENV) or DEFAULT_KEYS_DIR


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.common.keys", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="the key directory (default $AUTH_KEYS_DIR, else .run/keys)")
    sub = parser.add_subparsers(dest="command", required=True)
    ensure_cmd = sub.add_parser("ensure", help="make a first key pair for each issuer that has none")
    ensure_cmd.add_argument("issuers", nargs="*", default=list(ISSUERS))
    rotate_cmd = sub.add_parser("rotate", help="make a new key pair for an issuer")
    rotate_cmd.add_argument("issuer")
    retire_cmd = sub.add_parser("retire", help="remove a key pair")
    retire_cmd.add_argument("kid")
    sub.add_parser("list", help="every public key, and which private keys are here")
    args = parser.parse_args(argv)
    keys_dir = _keys_dir(args.dir)
    try:
        if args.command == "ensure":
            for kid in ensure(keys_dir, args.issuers):
                print("made {}".format(kid))
        elif args.command == "rotate":
            print("made {}".format(create(keys_dir, args.issuer)))
        elif args.command == "retire":
            for path in retire(keys_dir, args.kid):
                print("removed {}".format(path))
        else:
            for kid in _key_files(public_dir(keys_dir), ".pub"):
                issuer = parse_kid(kid)[0]
                newest = _key_files(private_dir(keys_dir, issuer), ".key") if os.path.isdir(
                    private_dir(keys_dir, issuer)) else []
                print("{:<48} {}".format(kid, "signs" if newest and newest[-1] == kid else
                                         "private key here" if kid in newest else "public only"))
    except (ValueError, KeyMaterialError, OSError) as exc:
        print("error: {}".format(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
