"""Operator commands that run against identity's own database.

    python -m services.identity.manage create-admin --email E --first-name F --last-name L
    python -m services.identity.manage token --service operator [--ttl SECONDS]

create-admin: the password is read from IDENTITY_ADMIN_PASSWORD, or from
standard input. Admins cannot self-register, so this is how the first one is
made. It uses the same code path as ``register``: the user and its
``user_created`` event commit together, and the running service's relay
publishes the event.

token: prints a service token for the operator (``svc: operator``) for the
operator entrypoints in ``nameko shell`` (docs/operations.md, "Keys and an
operator's token"). It is signed with identity's private key, so only
whoever can read that key on identity's host can mint one:
``AUTH_PRIVATE_KEYS``, else ``$AUTH_KEYS_DIR/private/identity``, else
``.run/keys/private/identity``.
"""
import argparse
import getpass
import os
import sys

from services.common import keys
from services.common.auth import AUTHORITY, OPERATOR, SERVICE_TOKEN_TTL, issue_service_token
from services.common.errors import ServiceError
from services.common.uow import script_units
from services.common.validation import load
from services.identity import users
from services.identity.events import PUBLISHED
from services.identity.models import Base
from services.identity.schemas import AdminSchema


def create_admin(email, first_name, last_name, password):
    data = load(AdminSchema(), {"email": email, "first_name": first_name, "last_name": last_name,
                                "password": password, "role": "admin"})
    with script_units("identity", Base, PUBLISHED) as units, units() as uow:
        user = users.create(uow, data, verified=True)  # an admin signs in at once
        uow.commit()
        return users.user_view(user, users.as_self(user))


# A service token has no session to end, so it cannot be revoked: it is kept short.
MAX_TOKEN_TTL = 3600


def identity_key_path(environ=None):
    """(path, where it came from) of identity's private keys on this host."""
    env = os.environ if environ is None else environ
    if env.get(keys.PRIVATE_ENV):
        return env[keys.PRIVATE_ENV], keys.PRIVATE_ENV
    return keys.private_dir(env.get(keys.KEYS_DIR_ENV) or keys.DEFAULT_KEYS_DIR, AUTHORITY), "identity's key directory"


def operator_token(service=OPERATOR, ttl=SERVICE_TOKEN_TTL, key_path=None):
    """A service token for ``service`` signed with identity's newest key;
    in ``nameko shell``: ``from services.identity.manage import operator_token``."""
    if not 0 < ttl <= MAX_TOKEN_TTL:
        raise ValueError("--ttl is from 1 to {} seconds".format(MAX_TOKEN_TTL))
    key = keys.load_signing_key(key_path, "--key") if key_path else keys.load_signing_key(*identity_key_path())
    if key.issuer != AUTHORITY:
        raise ValueError("{} is {}'s key; an operator's token is signed with {}'s".format(
            key.kid, key.issuer, AUTHORITY))
    return issue_service_token(service, key=key, ttl=ttl)


def _read_password():
    """From a prompt that does not echo, or the first line of piped input."""
    if sys.stdin.isatty():
        return getpass.getpass("Password for the new admin: ")
    return sys.stdin.readline().rstrip("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.identity.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--first-name", required=True)
    admin.add_argument("--last-name", required=True)
    token = sub.add_parser("token", help="print an operator's service token, signed with identity's key")
    token.add_argument("--service", default=OPERATOR,
                       help="whom the token speaks for: operator (the default), or identity")
    token.add_argument("--ttl", type=int, default=SERVICE_TOKEN_TTL,
                       help="seconds it is valid (default {}, at most {})".format(SERVICE_TOKEN_TTL, MAX_TOKEN_TTL))
    token.add_argument("--key", help="identity's private key directory or file (default: see above)")
    args = parser.parse_args(argv)
    if args.command == "token":
        try:
            print(operator_token(args.service, args.ttl, args.key))
        except (ValueError, keys.KeyMaterialError) as exc:
            print("error: {}".format(exc), file=sys.stderr)
            return 2
        return 0
    password = os.environ.get("IDENTITY_ADMIN_PASSWORD") or _read_password()
    try:
        user = create_admin(args.email, args.first_name, args.last_name, password)
    except ServiceError as exc:
        print("error: {}".format(exc), file=sys.stderr)
        return 2
    print("created admin {} ({})".format(user["email"], user["id"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
