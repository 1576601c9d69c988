"""Database connections for services, scripts and tests."""
from nameko_sqlalchemy import Database, DB_URIS_KEY
from sqlalchemy import create_engine, text

from services.common.config import db_settings

# A service runs at most max_workers (10) workers at once, so 10 connections
# cover it; six services and their event machinery must fit in PostgreSQL's
# default max_connections of 100 on one development server.
ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


class ServiceDatabase(Database):
    """nameko-sqlalchemy's ``Database`` with its URL taken from the config
    factory instead of a hand-written ``DB_URIS`` entry, so the YAML files
    cannot drift from the environment variables."""

    def __init__(self, service, declarative_base, **kwargs):
        kwargs.setdefault("engine_options", dict(ENGINE_OPTIONS))
        super().__init__(declarative_base, **kwargs)
        self.service = service

    def setup(self):
        key = "{}:{}".format(self.container.service_name, self.declarative_base.__name__)
        uris = dict(self.container.config.get(DB_URIS_KEY) or {})
        uris.setdefault(key, db_settings(self.service).url)
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
