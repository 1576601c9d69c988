"""Operator commands that run against identity's own database.

    python -m services.identity.manage create-admin --email E --first-name F --last-name L

The password is read from IDENTITY_ADMIN_PASSWORD, or from standard input.
Admins cannot self-register, so this is how the first one is made. It uses
the same code path as ``register``: the user and its ``user_created`` event
commit together, and the running service's relay publishes the event.
"""
import argparse
import getpass
import os
import sys

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
        user = users.create(uow, data)
        uow.commit()
        return users.user_view(user, users.as_self(user))


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
    args = parser.parse_args(argv)
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
