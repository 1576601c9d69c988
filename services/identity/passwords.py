"""argon2id at OWASP's minimum: 19 MiB of memory, 2 iterations, 1 lane
(docs/architecture.md, "Identity on RPC")."""
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)

# Verified against when the email is unknown, so a login takes as long
# whether or not the account exists.
_DUMMY_HASH = HASHER.hash("not a real password, only for timing")


def hash_password(password):
    return HASHER.hash(password)


def verify_password(password_hash, password):
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return HASHER.check_needs_rehash(password_hash)
