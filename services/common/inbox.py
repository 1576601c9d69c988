"""The consumer side of events: declared, checked, idempotent, retried,
dead-lettered (docs/architecture.md, "Events"; docs/events.md).

A service declares each event it follows once, on the handler itself::

    @subscribe("identity", "user_created", versions={1}, schema=UserSnapshot)
    def on_user_created(self, uow, event):
        user_copies.apply(uow, event.data)

``subscribe`` makes a nameko event handler on a durable queue shared by the
service's instances (named after the method, as nameko does:
``evt-identity-user_created--learning.on_user_created``). Before the handler
runs, the inbox checks the envelope, the producer, the version and the
data's shape; an event that fails a check can never succeed and is a dead
letter at once. The handler then runs in a unit of work together with the
inbox row for ``(event_id, "identity.user_created")``, so a redelivered
event is applied once. A handler that raises is rolled back and recorded in
``failed_events``; the retry loop claims due rows with a lease and runs them
again in a worker, with exponential backoff, and after
``EVENT_MAX_ATTEMPTS`` tries the row is a dead letter that operators list
and replay. The AMQP message is acked only once the effect or the failure
is committed, so nothing is dropped in silence.
"""
import logging
import os
import socket
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import eventlet
from eventlet.event import Event as GreenEvent
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from nameko.events import SERVICE_POOL
from nameko.extensions import DependencyProvider
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from services.common.access import OPERATORS
from services.common.consumers import event_handler
from services.common.errors import BadInput, NotFound
from services.common.eventstore import event_store_model
from services.common.rpc import rpc
from services.common.validation import flatten_messages

log = logging.getLogger(__name__)

CONSUMER = "{}:{}".format(socket.gethostname(), os.getpid())
FAILURE_STATUSES = ("retrying", "dead", "replayed", "resolved")


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    version = fields.Integer(required=True, strict=True)
    occurred_at = fields.AwareDateTime(required=True)
    producer = fields.String(required=True)
    data = fields.Dict(required=True)


class DeadLetter(Exception):
    """Raised by a handler for an event that can never succeed: it goes to
    the dead letters at once instead of being retried."""


@dataclass(frozen=True)
class Subscription:
    """One consumed event, declared once: who publishes it, which versions
    this consumer understands, and the shape of the data it reads."""
    source: str
    event_type: str
    versions: frozenset
    schema: type = None

    @property
    def name(self):
        """The inbox's handler name: one handler per source and event type."""
        return "{}.{}".format(self.source, self.event_type)

    def check(self, env):
        """The event's data as this consumer reads it; ``DeadLetter`` if it
        is not what was declared."""
        if env["producer"] != self.source or env["event_type"] != self.event_type:
            raise DeadLetter("expected {} from {}, got {} from {}".format(
                self.event_type, self.source, env["event_type"], env["producer"]))
        if env["version"] not in self.versions:
            raise DeadLetter("unsupported version {} of {} (understood: {})".format(
                env["version"], self.name, sorted(self.versions)))
        if self.schema is None:
            return env["data"]
        try:
            return self.schema(unknown=EXCLUDE).load(env["data"])
        except ValidationError as exc:
            raise DeadLetter("invalid data for {}: {}".format(self.name, flatten_messages(exc.messages)))


@dataclass(frozen=True)
class Event:
    """What a handler gets: the envelope's fields, ``data`` as loaded by
    the subscription's schema and ``raw_data`` as it was published."""
    event_id: uuid.UUID
    event_type: str
    version: int
    occurred_at: datetime
    producer: str
    data: dict
    raw_data: dict = field(repr=False)


def subscribe(source, event_type, versions, schema=None):
    """Declare a handler ``(self, uow, event)`` for ``source``'s ``event_type``."""
    subscription = Subscription(source, event_type, frozenset(versions), schema)

    def decorate(handler):
        def receive(self, envelope, retry_of=None):
            return self.inbox.receive(subscription, envelope, lambda uow, event: handler(self, uow, event),
                                      retry_of)
        receive.__name__, receive.__qualname__ = handler.__name__, handler.__qualname__
        receive.__doc__, receive.subscription = handler.__doc__, subscription
        # A durable queue shared by the service's instances; if even
        # recording a failure fails (database down), the message is requeued.
        return event_handler(source, event_type, handler_type=SERVICE_POOL, reliable_delivery=True,
                             requeue_on_error=True)(receive)
    return decorate


def subscriptions_of(service_cls):
    """{handler name: method name} for every ``@subscribe`` on a service."""
    found = {}
    for attr in dir(service_cls):
        subscription = getattr(getattr(service_cls, attr, None), "subscription", None)
        if isinstance(subscription, Subscription):
            if subscription.name in found:
                raise TypeError("{} is subscribed twice".format(subscription.name))
            found[subscription.name] = attr
    return found


def backoff(attempts, base, cap=300.0):
    return min(base * (2 ** (attempts - 1)), cap)


class InboxService:
    """What ``self.inbox`` does, in a worker or in the retry loop."""

    def __init__(self, units, inbox_model, failed_model, max_attempts, retry_base, lease):
        self.units = units  # () -> UnitOfWork
        self.inbox_model, self.failed_model = inbox_model, failed_model
        self.max_attempts, self.retry_base, self.lease = max_attempts, retry_base, lease

    def receive(self, subscription, raw, effect, retry_of=None):
        """Check and apply one event; returns 'applied', 'duplicate' or 'failed'."""
        try:
            env = EnvelopeSchema().load(raw)
        except (ValidationError, TypeError) as exc:
            return self._record_failure(subscription, raw, "malformed envelope: {}".format(
                getattr(exc, "messages", exc)), dead=True, failed_id=retry_of)
        try:
            event = Event(data=subscription.check(env), raw_data=env["data"], **{
                k: env[k] for k in ("event_id", "event_type", "version", "occurred_at", "producer")})
        except DeadLetter as exc:
            return self._record_failure(subscription, raw, str(exc), dead=True, failed_id=retry_of)
        try:
            with self.units() as uow:
                done = uow.session.execute(insert(self.inbox_model).values(
                    event_id=event.event_id, handler=subscription.name, event_type=event.event_type,
                    consumer=CONSUMER).on_conflict_do_nothing().returning(self.inbox_model.event_id)).first()
                if done is not None:
                    effect(uow, event)
                if retry_of is not None:
                    uow.session.execute(update(self.failed_model).where(self.failed_model.id == retry_of)
                                        .values(status="resolved", next_attempt_at=None))
                uow.commit()
            return "applied" if done is not None else "duplicate"
        except Exception as exc:
            log.warning("%s failed on event %s: %s", subscription.name, event.event_id,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return self._record_failure(subscription, raw, _describe(exc), dead=isinstance(exc, DeadLetter),
                                        failed_id=retry_of)

    def _record_failure(self, subscription, raw, error, dead=False, failed_id=None):
        """A first failure makes a row with one attempt; a retry's attempt
        was counted when it was claimed."""
        raw_dict = raw if isinstance(raw, dict) else {"raw": repr(raw)[:10000]}
        with self.units() as uow:
            session = uow.session
            row = session.get(self.failed_model, failed_id) if failed_id else None
            if row is None:
                event_id = _event_uuid(raw_dict)
                row = session.execute(select(self.failed_model).where(
                    self.failed_model.event_id == event_id, self.failed_model.handler == subscription.name)
                    .with_for_update()).scalar()
                if row is None:
                    row = self.failed_model(event_id=event_id, handler=subscription.name,
                                            source_service=subscription.source,
                                            event_type=str(raw_dict.get("event_type", "?"))[:100],
                                            envelope=raw_dict, attempts=0)
                    session.add(row)
                row.attempts += 1
            row.last_error = error[:10000]
            if dead or row.attempts >= self.max_attempts:
                row.status, row.next_attempt_at = "dead", None
                log.error("%s: event %s is a dead letter after %d attempt(s): %s", subscription.name,
                          row.event_id, row.attempts, error.splitlines()[0] if error else "")
            else:
                row.status = "retrying"
                row.next_attempt_at = datetime.now(timezone.utc) + timedelta(
                    seconds=backoff(row.attempts, self.retry_base))
            uow.commit()
        return "failed"

    def claim_due(self, limit=20):
        """Claim failures whose backoff has run out: each gets a lease (its
        ``next_attempt_at`` moves ``lease`` seconds ahead) and its attempt is
        counted now, so a claim that a crash leaves unfinished is due again
        once the lease ends, and a message that kills the process still
        reaches the dead letters."""
        now = datetime.now(timezone.utc)
        with self.units() as uow:
            due = select(self.failed_model.id).where(
                self.failed_model.status == "retrying", self.failed_model.next_attempt_at <= now) \
                .order_by(self.failed_model.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
            rows = uow.session.execute(
                update(self.failed_model).where(self.failed_model.id.in_(due.scalar_subquery()))
                .values(next_attempt_at=now + timedelta(seconds=self.lease),
                        attempts=self.failed_model.attempts + 1)
                .returning(self.failed_model.id, self.failed_model.handler, self.failed_model.envelope)).all()
            uow.commit()
        return rows

    # Operator API -----------------------------------------------------------

    def list(self, status="dead", limit=100):
        if status not in FAILURE_STATUSES:
            raise BadInput("invalid status", {"status": ["Must be one of: {}.".format(", ".join(FAILURE_STATUSES))]})
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise BadInput("invalid limit", {"limit": ["Must be a whole number from 1 to 1000."]})
        with self.units() as uow:
            rows = uow.session.execute(select(self.failed_model).where(self.failed_model.status == status)
                                       .order_by(self.failed_model.id).limit(limit)).scalars().all()
            return [_failure_summary(r) for r in rows]

    def get(self, failed_id):
        with self.units() as uow:
            row = uow.session.get(self.failed_model, _failed_id(failed_id))
            if row is None:
                raise NotFound("no failed event {}".format(failed_id), {"failed_id": ["Unknown failed event."]})
            return dict(_failure_summary(row), envelope=row.envelope, last_error=row.last_error)

    def start_replay(self, failed_id):
        """Mark a dead letter as replayed (one attempt, counted now); returns
        (handler name, envelope) to run again."""
        with self.units() as uow:
            row = uow.session.get(self.failed_model, _failed_id(failed_id), with_for_update=True)
            if row is None:
                raise NotFound("no failed event {}".format(failed_id), {"failed_id": ["Unknown failed event."]})
            if row.status != "dead":
                raise BadInput("only dead letters can be replayed", {"failed_id": ["Status is " + row.status]})
            row.status, row.attempts, row.next_attempt_at = "replayed", 1, None
            handler, envelope = row.handler, row.envelope
            uow.commit()
        return handler, envelope


def _failed_id(value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput("invalid id", {"failed_id": ["Must be a whole number."]})
    return value


def _event_uuid(raw):
    try:
        return uuid.UUID(str(raw.get("event_id")))
    except (ValueError, TypeError):
        return uuid.uuid4()  # malformed: keep it, under an id of its own


def _describe(exc):
    return "{}: {}\n{}".format(type(exc).__name__, exc, "".join(traceback.format_exc(limit=5)))


def _failure_summary(row):
    return {"id": row.id, "event_id": str(row.event_id), "handler": row.handler,
            "event_type": row.event_type, "status": row.status, "attempts": row.attempts,
            "error": (row.last_error or "").splitlines()[0] if row.last_error else "",
            "first_failed_at": row.first_failed_at.isoformat() if row.first_failed_at else None}


class Inbox(DependencyProvider):
    """``inbox = Inbox()`` on a service with ``@subscribe`` handlers and a
    ``uow`` (UnitOfWorkProvider), whose engine and tables it uses."""

    def setup(self):
        config = self.container.config
        self.max_attempts = int(config.get("EVENT_MAX_ATTEMPTS", 5))
        self.retry_base = float(config.get("EVENT_RETRY_BASE_SECONDS", 1.0))
        self.retry_interval = float(config.get("EVENT_RETRY_POLL_SECONDS", 0.5))
        self.lease = float(config.get("EVENT_RETRY_LEASE_SECONDS", 60))
        self.handlers = subscriptions_of(self.container.service_cls)
        self._running, self._wakeup, self._thread = False, GreenEvent(), None

    def start(self):
        from services.common.uow import UnitOfWorkProvider
        units = [d for d in self.container.dependencies if isinstance(d, UnitOfWorkProvider)]
        if len(units) != 1:
            raise TypeError("Inbox needs exactly one UnitOfWorkProvider on the service")
        base = units[0].declarative_base
        self.inbox = InboxService(units[0].new_unit, event_store_model(base, "inbox"),
                                  event_store_model(base, "failed_events"), self.max_attempts, self.retry_base,
                                  self.lease)
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._retry_loop)

    def stop(self):
        self._running = False
        if not self._wakeup.ready():
            self._wakeup.send(True)
        if self._thread is not None:
            self._thread.wait()  # as nameko's Timer.stop: let a retry in flight finish

    def kill(self):
        self._running = False

    def _retry_loop(self):
        while self._running:
            try:
                for row in self.inbox.claim_due():
                    if not self._running:
                        break  # its lease runs out and another instance takes it
                    self._retry(row)
            except Exception as exc:
                log.warning("retrying failed events: %s", str(exc).splitlines()[0] if str(exc) else exc)
            with eventlet.Timeout(self.retry_interval, False):
                self._wakeup.wait()

    def _retry(self, row):
        """Run the subscribed method again, in a worker with its dependencies."""
        method = self.handlers.get(row.handler)
        entrypoint = next((e for e in self.container.entrypoints if e.method_name == method), None)
        if entrypoint is None:
            self.inbox._record_failure(Subscription(*row.handler.split(".", 1), frozenset()),
                                       row.envelope, "no handler for " + row.handler, dead=True,
                                       failed_id=row.id)
            return
        finished = GreenEvent()

        def handle_result(worker_ctx, result, exc_info):
            finished.send(True)
            return result, exc_info
        self.container.spawn_worker(entrypoint, (row.envelope,), {"retry_of": row.id},
                                    handle_result=handle_result)
        finished.wait()

    def get_dependency(self, worker_ctx):
        return self.inbox


class DeadLetterRpc:
    """Operator entrypoints over a service's failed events, mixed into every
    service that consumes events (``n.rpc.learning.dead_letters(token)``).
    A dead letter's envelope holds users' data (emails, names), so each call
    takes an admin's or a service's token first, and the service needs an
    ``auth = Auth()`` (docs/operations.md, "Dead letters")."""

    @rpc
    def dead_letters(self, token, status="dead", limit=100):
        self.auth.require(token, OPERATORS)
        return self.inbox.list(status, limit)

    @rpc
    def dead_letter(self, token, failed_id):
        self.auth.require(token, OPERATORS)
        return self.inbox.get(failed_id)

    @rpc
    def replay_dead_letter(self, token, failed_id):
        """Run a dead letter's handler again now; returns the outcome and the row."""
        self.auth.require(token, OPERATORS)
        handler, envelope = self.inbox.start_replay(failed_id)
        method = subscriptions_of(type(self)).get(handler)
        if method is None:
            raise BadInput("no handler for this event", {"failed_id": ["Nothing here handles " + handler]})
        outcome = getattr(self, method)(envelope, retry_of=failed_id)
        return {"outcome": outcome, **self.inbox.get(failed_id)}
