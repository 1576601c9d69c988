"""The one place that turns a service name into its settings.

Nameko's dependency, Alembic's ``env.py`` and the scripts all call
``db_settings``, so the variable names and defaults live only here
(docs/architecture.md, "Configuration").
"""
import os
from dataclasses import dataclass
from urllib.parse import quote

SERVICES = ("identity", "learning", "payment", "communication", "ai", "analytics")

DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"


class UnknownService(ValueError):
    pass


@dataclass(frozen=True)
class DbSettings:
    service: str
    host: str
    port: int
    name: str
    user: str
    password: str

    @property
    def url(self) -> str:
        return "postgresql+psycopg2://{}:{}@{}:{}/{}".format(
            quote(self.user, safe=""), quote(self.password, safe=""),
            self.host, self.port, self.name)

    def with_name(self, name: str) -> "DbSettings":
        return DbSettings(self.service, self.host, self.port, name, self.user, self.password)


def check_service(service: str) -> str:
    if service not in SERVICES:
        raise UnknownService(
            "unknown service {!r}; expected one of {}".format(service, ", ".join(SERVICES)))
    return service


def db_settings(service: str, environ=None) -> DbSettings:
    """``<SERVICE>_DB_*`` settings for one service, with development defaults.

    The defaults give each service its own database and its own role, so a
    fresh checkout works against one local PostgreSQL server.
    """
    env = os.environ if environ is None else environ
    prefix = check_service(service).upper() + "_DB_"
    return DbSettings(
        service=service,
        host=env.get(prefix + "HOST", "127.0.0.1"),
        port=int(env.get(prefix + "PORT", "5432")),
        name=env.get(prefix + "NAME", "edtech_{}_db".format(service)),
        user=env.get(prefix + "USER", "edtech_{}".format(service)),
        password=env.get(prefix + "PASSWORD", "edtech_{}_dev".format(service)),
    )


def amqp_uri(environ=None) -> str:
    env = os.environ if environ is None else environ
    return env.get("AMQP_URI", DEFAULT_AMQP_URI)


def admin_db_url(environ=None) -> str:
    """A superuser connection used only by set-up scripts and tests to make
    roles and databases. Services never use it."""
    env = os.environ if environ is None else environ
    return env.get("PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
