"""The transactional outbox and its relay (docs/architecture.md, "Events").

A unit of work's ``emit`` stages an event in the outbox table in the same
transaction as the change (services/common/uow.py). The relay, a green thread inside the same
service, publishes unpublished rows in order to ``<service>.events`` with
publisher confirms, and marks each one sent only after the broker confirmed
it. A crash or broker outage between commit and publish delays an event; it
never loses one, and a rolled-back transaction leaves no event behind.
"""
import logging
import uuid
from datetime import datetime, timezone

import eventlet
from eventlet.event import Event
from kombu import Connection, Exchange, Producer
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from services.common.config import amqp_ssl
from services.common.db import make_engine
from services.common.eventstore import event_store_model

log = logging.getLogger(__name__)

BATCH = 200


def events_exchange(service):
    """nameko's own exchange for ``service``'s events, so ``event_handler``
    consumers and outside consumers bind to it as usual."""
    return Exchange("{}.events".format(service), type="topic", durable=True, auto_delete=False)


def envelope(producer, event_type, data, version=1):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "version": version,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "producer": producer,
        "data": data,
    }


def outbox_model(declarative_base):
    """The service's ``outbox`` table, mapped on its own declarative base."""
    return event_store_model(declarative_base, "outbox")


class OutboxWriter:
    """Checks each event against the service's published contracts and
    stages it as an outbox row."""

    def __init__(self, service, model, published):
        self.service, self.model, self.published = service, model, published

    def add(self, session, event_type, data, version=None):
        version = self.published.check(event_type, data, version)
        env = envelope(self.service, event_type, data, version)
        session.add(self.model(event_id=uuid.UUID(env["event_id"]), event_type=event_type, envelope=env))
        return env


class Relay:
    """Publishes one service's outbox; safe to run in several instances at
    once, since rows are claimed with ``FOR UPDATE SKIP LOCKED``."""

    def __init__(self, service, model, uri, poll_interval=0.5, tls=None):
        self.service, self.model, self.uri = service, model, uri
        # the service's AMQP_SSL, so the relay connects as nameko's consumers do
        self.tls = tls if tls is not None else amqp_ssl(uri)
        self.poll_interval = poll_interval
        self.exchange = events_exchange(service)
        self.engine = make_engine(service, pool_size=1, max_overflow=1)
        self.Session = sessionmaker(bind=self.engine)
        self._wakeup = Event()
        self._running = False
        self._connection = None
        self._publisher = None

    def wake(self):
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def run(self):
        self._running = True
        failures = 0
        while self._running:
            try:
                published = self.publish_pending()
                failures = 0
                if published:
                    continue  # more may be waiting
            except Exception as exc:
                failures += 1
                log.warning("outbox relay for %s: %s (retrying)", self.service, str(exc).splitlines()[0])
                self._drop_connection()
            self._sleep(min(self.poll_interval * (2 ** failures), 5.0) if failures else self.poll_interval)

    def _sleep(self, seconds):
        with eventlet.Timeout(seconds, False):
            self._wakeup.wait()
        self._wakeup = Event()

    def stop(self):
        """Ask the loop to end; ``close`` once its thread has."""
        self._running = False
        self.wake()

    def close(self):
        self._drop_connection()
        self.engine.dispose()

    def _producer(self):
        if self._connection is None:
            self._connection = Connection(self.uri, transport_options={"confirm_publish": True},
                                          connect_timeout=5, ssl=self.tls)
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.default_channel
            # Only checked: no broker user may declare an exchange, which would also
            # let it delete one; provisioning made it (services/common/broker.py).
            self.exchange(channel).declare(passive=True)
            self._publisher = Producer(channel, exchange=self.exchange, serializer="json", auto_declare=False)
        return self._publisher

    def _drop_connection(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None

    def publish_pending(self):
        """Publish up to one batch in order; return how many were confirmed.
        A failure stops the batch (keeping order) and is raised after the
        rows already confirmed are marked sent."""
        error = None
        with self.Session() as session:
            # Rows are read in id order; the first unconfirmed one stops the batch.
            rows = session.execute(
                select(self.model.id, self.model.envelope, self.model.event_type)
                .where(self.model.published_at.is_(None))
                .order_by(self.model.id).limit(BATCH)
                .with_for_update(skip_locked=True)).all()
            sent = []
            for row in rows:
                try:
                    # With confirm_publish, publish() returns only once the
                    # broker has taken the message, and raises if it did not.
                    self._producer().publish(
                        row.envelope, routing_key=row.event_type, delivery_mode=2, retry=False,
                        headers={"event_id": row.envelope["event_id"]})
                except Exception as exc:
                    error = exc
                    # Operators see why an event is stuck (docs/operations.md).
                    session.execute(update(self.model).where(self.model.id == row.id).values(
                        attempts=self.model.attempts + 1, last_error=str(exc)[:2000] or type(exc).__name__))
                    break
                sent.append(row.id)
            if sent:
                session.execute(update(self.model).where(self.model.id.in_(sent))
                                .values(published_at=datetime.now(timezone.utc)))
            session.commit()
        if error is not None:
            raise error
        return len(sent)
