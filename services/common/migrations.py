"""One Alembic history per service, kept inside that service's database.

Each service has ``services/<name>/migrations`` with an ``env.py`` that calls
``run_migrations``; nothing else needs an ``alembic.ini``.
"""
import os

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from services.common.config import check_service, db_settings

SERVICES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION_TABLE = "alembic_version"


def alembic_config(service, url=None):
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(SERVICES_DIR, check_service(service), "migrations"))
    # '%' is Alembic's interpolation character; URLs may contain it when quoted.
    cfg.set_main_option("sqlalchemy.url", (url or db_settings(service).url).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service, revision="head", url=None):
    command.upgrade(alembic_config(service, url), revision)


def downgrade(service, revision="base", url=None):
    command.downgrade(alembic_config(service, url), revision)


def current(service, url=None):
    from alembic.runtime.migration import MigrationContext
    engine = create_engine(url or db_settings(service).url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def run_migrations(context, metadata):
    """Body of every service's ``env.py`` (online mode only: we always have a database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def drop_enum_types(op, *names):
    """Alembic's ``drop_table`` leaves PostgreSQL enum types behind; a
    downgrade must drop them, or the next upgrade fails on CREATE TYPE."""
    for name in names:
        op.execute("DROP TYPE IF EXISTS {}".format(name))
