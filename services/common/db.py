"""Database connections for services, scripts and tests."""
from nameko_sqlalchemy import DB_URIS_KEY, Database
from sqlalchemy import create_engine, text

from services.common.config import db_settings

# A service runs at most max_workers (10) workers at once, each with one
# unit of work, plus the inbox's retry claims: 5 + 6 connections cover it,
# and six services and their relays fit in PostgreSQL's default
# max_connections of 100 on one development server.
ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 6}


class ServiceDatabase(Database):
    """nameko-sqlalchemy's ``Database`` for the service it is declared on:
    the service name comes from the container and the URL from the config
    factory, so the YAML files cannot drift from the environment variables."""

    def __init__(self, declarative_base, **kwargs):
        kwargs.setdefault("engine_options", dict(ENGINE_OPTIONS))
        kwargs.setdefault("session_options", {"expire_on_commit": False})
        # Shared machinery finds the service's tables from its base
        # (services/common/mail.py, queue_mail).
        kwargs["session_options"] = dict(kwargs["session_options"], info={"declarative_base": declarative_base})
        super().__init__(declarative_base, **kwargs)

    def setup(self):
        service = self.container.service_name
        key = "{}:{}".format(service, self.declarative_base.__name__)
        uris = dict(self.container.config.get(DB_URIS_KEY) or {})
        uris.setdefault(key, db_settings(service).url)
        self.container.config[DB_URIS_KEY] = uris
        super().setup()


def make_engine(service, **options):
    return create_engine(db_settings(service).url, **{**ENGINE_OPTIONS, **options})


def database_status(session):
    """'ok', or the error's first line: a health check reports, never raises."""
    try:
        session.execute(text("SELECT 1"))
        session.rollback()
        return "ok"
    except Exception as exc:
        session.rollback()
        return "error: " + str(exc).splitlines()[0]
