"""The ``health`` report every service answers."""
import socket

from kombu import Connection
from nameko.rpc import rpc

from services.common.config import amqp_uri
from services.common.db import database_status


def broker_status(uri=None):
    try:
        with Connection(uri or amqp_uri(), connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return "ok"
    except Exception as exc:
        return "error: " + str(exc).splitlines()[0]


def health_report(service, session, config):
    database = database_status(session)
    broker = broker_status(config.get("AMQP_URI"))
    return {
        "service": service,
        "status": "ok" if database == broker == "ok" else "degraded",
        "database": database,
        "broker": broker,
        "host": socket.gethostname(),
    }


class HealthRpc:
    """``health`` and ``ping``, answered by every service. Needs the
    service's ``uow`` (UnitOfWorkProvider) and ``config`` (nameko Config)."""

    @rpc
    def health(self):
        with self.uow() as uow:
            return health_report(self.name, uow.session, self.config)

    @rpc
    def ping(self):
        """The cheapest round trip: no database, no broker check."""
        return "pong"
