"""The ``health`` report every service answers."""
import socket

from kombu import Connection

from services.common.access import public
from services.common.config import amqp_ssl, amqp_uri
from services.common.db import database_status
from services.common.rpc import rpc


def broker_status(uri=None, tls=None):
    """``tls``: the service's ``AMQP_SSL``, else what the factory makes for ``uri``."""
    uri = uri or amqp_uri()
    try:
        with Connection(uri, ssl=tls if tls is not None else amqp_ssl(uri), connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return "ok"
    except Exception as exc:
        return "error: " + str(exc).splitlines()[0]


def health_report(service, session, config):
    database = database_status(session)
    broker = broker_status(config.get("AMQP_URI"), config.get("AMQP_SSL"))
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
    @public("liveness and readiness probes run without credentials; the report names no user")
    def health(self):
        with self.uow() as uow:
            return health_report(self.name, uow.session, self.config)

    @rpc
    @public("the cheapest round trip, for probes and benchmarks: it reads nothing")
    def ping(self):
        """The cheapest round trip: no database, no broker check."""
        return "pong"
