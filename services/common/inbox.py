"""The consumer side of events: idempotent, retried, dead-lettered (DESIGN.md §4).

A service maps each event it follows to a plain function
``apply(session, envelope)``. ``Inbox.handle`` runs it in one transaction
together with the inbox row for ``(event_id, handler)``, so a redelivered
event is applied once. A handler that raises is rolled back and recorded in
``failed_events``; a green thread retries it with exponential backoff, and
after ``EVENT_MAX_ATTEMPTS`` tries it becomes a dead letter (status
``dead``) that operators list and replay over RPC. Nothing is dropped in
silence: the AMQP message is acked only once the effect or the failure is
committed.
"""
import logging
import os
import socket
import traceback
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from nameko.extensions import DependencyProvider
from nameko.events import SERVICE_POOL, event_handler
from nameko.rpc import rpc
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import sessionmaker

from services.common.db import make_engine
from services.common.errors import BadInput, NotFound

log = logging.getLogger(__name__)

CONSUMER = "{}:{}".format(socket.gethostname(), os.getpid())


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
    """Raised by a handler for an event that can never succeed (for example a
    version it does not understand): it goes to the dead letters at once."""


def backoff(attempts, base, cap=300.0):
    return min(base * (2 ** (attempts - 1)), cap)


class InboxService:
    """What ``Inbox`` does, usable in a worker or the retry thread."""

    def __init__(self, service, Session, inbox_model, failed_model, handlers, max_attempts, retry_base):
        self.service, self.Session = service, Session
        self.inbox_model, self.failed_model = inbox_model, failed_model
        self.handlers, self.max_attempts, self.retry_base = handlers, max_attempts, retry_base

    def handler_name(self, source, event_type):
        return "{}.{}".format(source, event_type)

    def handle(self, source, envelope):
        """Apply one delivered event; returns 'applied', 'duplicate' or 'failed'."""
        name = self.handler_name(source, (envelope or {}).get("event_type") if isinstance(envelope, dict) else "")
        try:
            env = EnvelopeSchema().load(envelope)
        except (ValidationError, TypeError) as exc:
            return self._record_failure(source, name, envelope, "malformed envelope: {}".format(
                getattr(exc, "messages", exc)), dead=True)
        return self._apply(source, name, env, envelope)

    def _apply(self, source, name, env, raw, failed_id=None):
        fn = self.handlers.get(name)
        if fn is None:
            return self._record_failure(source, name, raw, "no handler for " + name, dead=True)
        session = self.Session()
        try:
            done = session.execute(insert(self.inbox_model).values(
                event_id=env["event_id"], handler=name, event_type=env["event_type"], consumer=CONSUMER)
                .on_conflict_do_nothing().returning(self.inbox_model.event_id)).first()
            outcome = "duplicate" if done is None else "applied"
            if done is not None:
                fn(session, env)
            if failed_id is not None:
                row = session.get(self.failed_model, failed_id)
                row.status, row.next_attempt_at = "resolved", None
            session.commit()
            return outcome
        except Exception as exc:
            session.rollback()
            log.warning("%s failed on event %s: %s", name, env["event_id"], exc)
            return self._record_failure(source, name, raw, _describe(exc), dead=isinstance(exc, DeadLetter),
                                        failed_id=failed_id)
        finally:
            session.close()

    def _record_failure(self, source, name, raw, error, dead=False, failed_id=None):
        now = datetime.now(timezone.utc)
        raw_dict = raw if isinstance(raw, dict) else {"raw": repr(raw)[:10000]}
        with self.Session() as session:
            row = session.get(self.failed_model, failed_id) if failed_id else None
            if row is None:
                event_id = _event_uuid(raw_dict)
                row = session.execute(select(self.failed_model).where(
                    self.failed_model.event_id == event_id, self.failed_model.handler == name)).scalar()
                if row is None:
                    row = self.failed_model(event_id=event_id, handler=name, source_service=source,
                                            event_type=str(raw_dict.get("event_type", "?"))[:100],
                                            envelope=raw_dict, attempts=0)
                    session.add(row)
            row.attempts += 1
            row.last_error = error[:10000]
            if dead or row.attempts >= self.max_attempts:
                row.status, row.next_attempt_at = "dead", None
                log.error("%s: event %s is a dead letter after %d attempt(s): %s",
                          name, row.event_id, row.attempts, error.splitlines()[0] if error else "")
            else:
                row.status = "retrying"
                row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts, self.retry_base))
            session.commit()
        return "failed"

    def retry_due(self, limit=50):
        """Retry the failures whose backoff has run out; returns how many ran."""
        with self.Session() as session:
            due = session.execute(
                select(self.failed_model.id, self.failed_model.source_service, self.failed_model.handler,
                       self.failed_model.envelope)
                .where(self.failed_model.status == "retrying",
                       self.failed_model.next_attempt_at <= datetime.now(timezone.utc))
                .order_by(self.failed_model.next_attempt_at).limit(limit)
                .with_for_update(skip_locked=True)).all()
            # Claim them so a second instance does not retry the same rows.
            for row in due:
                session.get(self.failed_model, row.id).next_attempt_at = None
            session.commit()
        for row in due:
            env = EnvelopeSchema().load(row.envelope)
            self._apply(row.source_service, row.handler, env, row.envelope, failed_id=row.id)
        return len(due)

    # Operator API -----------------------------------------------------------

    def list(self, status="dead", limit=100):
        with self.Session() as session:
            rows = session.execute(select(self.failed_model).where(self.failed_model.status == status)
                                   .order_by(self.failed_model.id).limit(limit)).scalars().all()
            return [_failure_summary(r) for r in rows]

    def get(self, failed_id):
        with self.Session() as session:
            row = session.get(self.failed_model, failed_id)
            if row is None:
                raise NotFound("no failed event {}".format(failed_id))
            return dict(_failure_summary(row), envelope=row.envelope, last_error=row.last_error)

    def replay(self, failed_id):
        """Run a dead letter's handler again now; returns the outcome and the row."""
        with self.Session() as session:
            row = session.get(self.failed_model, failed_id)
            if row is None:
                raise NotFound("no failed event {}".format(failed_id))
            if row.status != "dead":
                raise BadInput("only dead letters can be replayed", {"id": ["status is " + row.status]})
            row.status, row.attempts = "replayed", 0
            source, name, raw = row.source_service, row.handler, row.envelope
            session.commit()
        try:
            env = EnvelopeSchema().load(raw)
        except ValidationError as exc:
            self._record_failure(source, name, raw, "malformed envelope: {}".format(exc.messages),
                                 dead=True, failed_id=failed_id)
            return {"outcome": "failed", **self.get(failed_id)}
        outcome = self._apply(source, name, env, raw, failed_id=failed_id)
        return {"outcome": outcome, **self.get(failed_id)}


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
    """``self.inbox.handle("identity", envelope)`` in an ``event_handler``."""

    def __init__(self, inbox_model, failed_model, handlers):
        self.inbox_model, self.failed_model, self.handlers = inbox_model, failed_model, handlers
        self._running = False

    def setup(self):
        config = self.container.config
        # Event workers are a share of the same max_workers: a small pool
        # that can grow keeps idle connections down.
        self.engine = make_engine(self.container.service_name, pool_size=2, max_overflow=8)
        self.inbox = InboxService(
            self.container.service_name, sessionmaker(bind=self.engine), self.inbox_model, self.failed_model,
            self.handlers, max_attempts=int(config.get("EVENT_MAX_ATTEMPTS", 5)),
            retry_base=float(config.get("EVENT_RETRY_BASE_SECONDS", 1.0)))
        self.retry_interval = float(config.get("EVENT_RETRY_POLL_SECONDS", 0.5))

    def start(self):
        self._running = True
        self.container.spawn_managed_thread(self._retry_loop)

    def stop(self):
        self._running = False
        self.engine.dispose()

    kill = stop

    def _retry_loop(self):
        while self._running:
            try:
                self.inbox.retry_due()
            except Exception as exc:
                log.warning("retrying failed events: %s", str(exc).splitlines()[0])
            eventlet.sleep(self.retry_interval)

    def get_dependency(self, worker_ctx):
        return self.inbox


def follows(source, event_type):
    """``event_handler`` on a durable queue shared by the service's instances:
    events wait there while the service is down. A handler error is kept in
    ``failed_events`` by ``Inbox.handle``; if even that fails (database down),
    the message is requeued rather than acked and lost."""
    return event_handler(source, event_type, handler_type=SERVICE_POOL, reliable_delivery=True,
                         requeue_on_error=True)


class DeadLetterRpc:
    """Operator entrypoints over a service's failed events, mixed into every
    service that consumes events (``n.rpc.learning.dead_letters()``)."""

    @rpc
    def dead_letters(self, status="dead", limit=100):
        return self.inbox.list(status, limit)

    @rpc
    def dead_letter(self, failed_id):
        return self.inbox.get(failed_id)

    @rpc
    def replay_dead_letter(self, failed_id):
        return self.inbox.replay(failed_id)
