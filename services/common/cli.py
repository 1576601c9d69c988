"""Command-line helpers the scripts call: ``python -m services.common.cli ...``.

    provision [service|all]        roles and databases
    migrate [service|all] [rev]    Alembic upgrade (default head)
    downgrade service [rev]        Alembic downgrade (default base)
    settings service               print the service's DB settings (no password)
    dsn service                    its libpq URI, password included, for psql (docs/operations.md)
"""
import sys

from services.common import migrations, provision
from services.common.config import SERVICES, check_service, db_settings


def _services(arg):
    return SERVICES if arg in (None, "all") else (check_service(arg),)


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    target = rest[0] if rest else "all"
    if cmd == "provision":
        for s in _services(target):
            settings = db_settings(s)
            provision.ensure_service_database(settings)
            print("  {:<14} database {} (role {}) ready".format(s, settings.name, settings.user))
    elif cmd == "migrate":
        revision = rest[1] if len(rest) > 1 else "head"
        for s in _services(target):
            migrations.upgrade(s, revision)
            print("  {:<14} migrated to {}".format(s, migrations.current(s)))
    elif cmd == "downgrade":
        migrations.downgrade(check_service(target), rest[1] if len(rest) > 1 else "base")
    elif cmd == "dsn":
        # The service's own role and database, from the same settings the
        # service reads, so `psql "$(... dsn learning)"` sees what it sees.
        print(db_settings(check_service(target)).url.replace("postgresql+psycopg2://", "postgresql://", 1))
    elif cmd == "settings":
        st = db_settings(check_service(target))
        tls = "".join(" {}={}".format(k, v) for k, v in (("sslmode", st.sslmode), ("sslrootcert", st.sslrootcert))
                      if v)
        print("{} {}:{}/{} as {}{}".format(st.service, st.host, st.port, st.name, st.user, tls))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ValueError as exc:
        print("error: {}".format(exc), file=sys.stderr)
        sys.exit(2)
