"""The ``health`` report every service answers."""
import socket

from kombu import Connection

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
