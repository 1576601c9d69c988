"""The unit of work: one transaction, and the events it stages.

Every entrypoint, inbox handler, script and test changes a service's data
the same way::

    with self.uow() as uow:
        view = lessons.book(uow, student_id, course_id, start)
        uow.commit()
    return view

``uow.session`` is the SQLAlchemy session; ``uow.emit(event_type, data)``
checks ``data`` against the service's published contract (its
``events.py``) and stages it in the outbox table in the same transaction,
so the event exists exactly when the change does. Leaving the ``with``
block without ``commit()`` rolls everything back, events included. Domain
modules take a unit of work and never commit: the entrypoint decides.
"""
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy.orm import sessionmaker

from services.common.db import ServiceDatabase, make_engine
from services.common.outbox import OutboxWriter, Relay, outbox_model
from services.common.config import amqp_uri


class UnitOfWork:
    def __init__(self, session, outbox=None):
        self.session = session
        self._outbox = outbox

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def emit(self, event_type, data, version=None):
        """Stage an event; it is published only if this unit commits."""
        if self._outbox is None:
            raise RuntimeError("this unit of work has no outbox: the service publishes no events")
        return self._outbox.add(self.session, event_type, data, version)

    def commit(self):
        self.session.commit()

    def close(self):
        # Closing rolls back whatever was not committed.
        self.session.close()


class UnitsOfWork:
    """What a worker gets as ``self.uow``: call it for a new unit of work.
    Units the worker forgot to close are closed when the worker ends."""

    def __init__(self, Session, outbox):
        self._Session, self._outbox = Session, outbox
        self._open = []

    def __call__(self):
        unit = UnitOfWork(self._Session(), self._outbox)
        self._open.append(unit)
        return unit

    def close_all(self):
        for unit in self._open:
            unit.close()
        self._open = []


class UnitOfWorkProvider(ServiceDatabase):
    """``uow = UnitOfWorkProvider(Base, events.PUBLISHED)`` on a service.

    It owns the service's engine and, when the service publishes events,
    the relay that drains the outbox to ``<service>.events``.
    """

    def __init__(self, declarative_base, published=None, **kwargs):
        super().__init__(declarative_base, **kwargs)
        self.published = published
        self.units = WeakKeyDictionary()
        self.relay = None
        self._relay_thread = None

    def setup(self):
        super().setup()
        service, config = self.container.service_name, self.container.config
        self.outbox = None
        if self.published:
            model = outbox_model(self.declarative_base)
            self.outbox = OutboxWriter(service, model, self.published)
            self.relay = Relay(service, model, config.get("AMQP_URI") or amqp_uri(),
                               poll_interval=float(config.get("OUTBOX_POLL_INTERVAL", 0.5)),
                               tls=config.get("AMQP_SSL"))

    def start(self):
        if self.relay is not None:
            self._relay_thread = self.container.spawn_managed_thread(self.relay.run)

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
            if self._relay_thread is not None:
                self._relay_thread.wait()  # as nameko's Timer.stop: our thread ends before its engine goes
            self.relay.close()
        super().stop()

    def kill(self):
        if self.relay is not None:
            self.relay.stop()
            self.relay.close()
        super().kill()

    def get_dependency(self, worker_ctx):
        units = UnitsOfWork(self.Session, self.outbox)
        self.units[worker_ctx] = units
        return units

    def worker_teardown(self, worker_ctx):
        units = self.units.pop(worker_ctx, None)
        if units is not None:
            units.close_all()
        if self.relay is not None:
            # The worker's transaction has committed (or not) by now: look at
            # once instead of waiting for the next poll.
            self.relay.wake()

    def new_unit(self):
        """A unit of work outside any worker (the inbox's retry claims)."""
        return UnitOfWork(self.Session(), self.outbox)


@contextmanager
def script_units(service, declarative_base, published=None):
    """Units of work for a script or a test, on an engine of their own::

        with script_units("identity", Base, PUBLISHED) as units:
            with units() as uow:
                users.create(uow, data)
                uow.commit()

    Events staged here are published by the running service's relay.
    """
    engine = make_engine(service, pool_size=1, max_overflow=1)
    outbox = OutboxWriter(service, outbox_model(declarative_base), published) if published else None
    units = UnitsOfWork(sessionmaker(bind=engine, expire_on_commit=False,
                                     info={"declarative_base": declarative_base}), outbox)
    try:
        yield units
    finally:
        units.close_all()
        engine.dispose()
