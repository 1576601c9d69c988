"""Create each service's role and database, locked to that role.

Used by ``scripts/up`` (development databases) and by the test suite
(throwaway databases). Safe to run again: existing roles and databases are
kept, only their password and grants are set once more.
"""
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.common.config import admin_db_url


def _admin_engine(admin_url=None):
    return create_engine(admin_url or admin_db_url(), isolation_level="AUTOCOMMIT")


def _ident(conn, name):
    return conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar()


def ensure_service_database(settings, admin_url=None):
    """Role ``settings.user`` (login, no superuser), database ``settings.name``
    owned by it, and CONNECT revoked from PUBLIC so no other role gets in."""
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            role, db = _ident(conn, settings.user), _ident(conn, settings.name)
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": settings.user}).scalar()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(text(
                "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :pw".format(verb, role)),
                {"pw": settings.password})
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": settings.name}).scalar():
                conn.execute(text("CREATE DATABASE {} OWNER {}".format(db, role)))
            conn.execute(text("REVOKE ALL ON DATABASE {} FROM PUBLIC".format(db)))
            conn.execute(text("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}".format(db, role)))
        # PostgreSQL 15 already keeps PUBLIC out of the public schema's CREATE;
        # make the owner role own the schema so migrations can run as it.
        db_engine = create_engine(make_url(admin_url or admin_db_url()).set(database=settings.name),
                                  isolation_level="AUTOCOMMIT")
        with db_engine.connect() as conn:
            conn.execute(text("ALTER SCHEMA public OWNER TO {}".format(_ident(conn, settings.user))))
        db_engine.dispose()
    finally:
        engine.dispose()


def drop_service_database(settings, admin_url=None, drop_role=True):
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            db, role = _ident(conn, settings.name), _ident(conn, settings.user)
            conn.execute(text("DROP DATABASE IF EXISTS {} WITH (FORCE)".format(db)))
            if drop_role:
                conn.execute(text("DROP ROLE IF EXISTS {}".format(role)))
    finally:
        engine.dispose()
