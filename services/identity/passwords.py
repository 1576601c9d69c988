"""argon2id at OWASP's minimum: 19 MiB of memory, 2 iterations, 1 lane
(docs/architecture.md, "Identity on RPC"); and which passwords are refused
before any is hashed (docs/architecture.md, "Accounts and enumeration")."""
import os

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.errors import BadInput

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)

# Verified against when the email is unknown, so a login takes as long
# whether or not the account exists.
_DUMMY_HASH = HASHER.hash("not a real password, only for timing")

COMMON_PASSWORDS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "common_passwords.txt")
# The shortest part of an email address worth looking for in a password:
# "ada" in "adarestless1" is chance, "lovelace" is not.
MIN_LOCAL_PART = 4

TOO_COMMON = "This password is too common: it is on a list of passwords leaked from other sites."
REPEATED = "Must not be one character repeated."
LOOKS_LIKE_EMAIL = "Must not contain the part of your email address before the @."


def _load_common(path=COMMON_PASSWORDS_FILE):
    with open(path, encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip() and not line.startswith("#"))


# Read once, when the service starts: about a thousand short strings.
COMMON_PASSWORDS = _load_common()


def weakness(password, email=None):
    """Why ``password`` is refused (NIST SP 800-63B, section 5.1.1.2), or
    None. The list holds lower-cased entries, so "Password12" is caught as
    "password12"; ``email`` is the address the account is for, when known."""
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        return TOO_COMMON
    if len(set(password)) == 1:
        return REPEATED
    local = email.rsplit("@", 1)[0].lower() if email else ""
    if len(local) >= MIN_LOCAL_PART and local in lowered:
        return LOOKS_LIKE_EMAIL
    return None


def refuse_if_weak(password, email, field):
    """``weakness`` as the BadInput the caller sees, naming ``field`` as the
    payload does (the gateway shows ``new_password`` as ``newPassword``)."""
    problem = weakness(password, email)
    if problem:
        raise BadInput("invalid input", {field: [problem]})


def hash_password(password):
    return HASHER.hash(password)


def verify_password(password_hash, password):
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return HASHER.check_needs_rehash(password_hash)
