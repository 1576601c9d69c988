"""Table shapes for the event outbox, inbox and dead letters.

These are mixins, not tables: each service declares them on its own
declarative base, so they live in its own database and its own migration
history. ``services.common`` itself defines no table.
"""
import uuid

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class OutboxMixin:
    """Events written in the same transaction as the change they describe.
    The relay publishes rows with ``published_at IS NULL`` in ``id`` order."""
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    envelope: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    published_at = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @declared_attr.directive
    def __table_args__(cls):
        return (Index("ix_{}_unpublished".format(cls.__tablename__), "id",
                      postgresql_where=text("published_at IS NULL")),)


class InboxMixin:
    """One row per (event, handler) applied: committed with the handler's
    effect, so a redelivered event is seen and skipped."""
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    processed_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # Which instance applied it (host:pid): shows how a shared queue spread
    # the events when a service runs more than once.
    consumer: Mapped[str | None] = mapped_column(String(100), nullable=True)


class FailedEventMixin:
    """An event whose handler raised. ``status`` is ``retrying`` while the
    consumer still tries it with backoff, ``dead`` once the retry limit is
    reached (the dead-letter queue operators list and replay), ``replayed``
    or ``resolved`` afterwards."""
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    handler: Mapped[str] = mapped_column(String(200), nullable=False)
    source_service: Mapped[str] = mapped_column(String(50), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    envelope: Mapped[dict] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="retrying")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    first_failed_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    next_attempt_at = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(),
                               onupdate=func.now())

    @declared_attr.directive
    def __table_args__(cls):
        return (UniqueConstraint("event_id", "handler", name="uq_{}_event_handler".format(cls.__tablename__)),
                Index("ix_{}_status".format(cls.__tablename__), "status", "next_attempt_at"))


def event_store_models(base):
    """Map ``outbox``, ``inbox`` and ``failed_events`` on a service's own
    declarative base; returns (OutboxEvent, InboxEvent, FailedEvent)."""
    return (type("OutboxEvent", (OutboxMixin, base), {"__tablename__": "outbox"}),
            type("InboxEvent", (InboxMixin, base), {"__tablename__": "inbox"}),
            type("FailedEvent", (FailedEventMixin, base), {"__tablename__": "failed_events"}))


def event_store_model(declarative_base, table):
    """The class a service's base maps on ``table`` (``outbox``, ``inbox``
    or ``failed_events``), so the machinery finds them from the base alone."""
    for mapper in declarative_base.registry.mappers:
        if mapper.local_table.name == table:
            return mapper.class_
    raise LookupError("{} maps no {} table (see services/common/eventstore.py)".format(
        declarative_base.__name__, table))
