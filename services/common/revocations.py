"""Ended sessions, so that a token does not outlive its session
(docs/architecture.md, "Identity on RPC").

An access token is verified by its signature (services/common/auth.py),
and a signature cannot say that its session was ended since. Identity checks
its own ``user_sessions``. Every other service that checks tokens follows
identity's ``session_revoked`` event (docs/events.md) into a
``revoked_sessions`` table in its own database, and ``Auth`` refuses a token
whose session is there. A row matters only while a token of its session
could still verify (``until``), so every insert also deletes rows past it
and the table holds about one access-token lifetime of revocations.

A service that checks tokens declares, besides ``auth = Auth()`` and an
``inbox = Inbox()``::

    # models.py, and a migration that calls migrations.create_revoked_sessions
    RevokedSession = revoked_sessions_model(Base)

    # service.py
    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)

Like the outbox, the table is a mixin mapped on the service's own base:
``services.common`` defines no table.
"""
import uuid
from datetime import timedelta

from marshmallow import Schema, fields, validate
from sqlalchemy import DateTime, Index, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

TABLE = "revoked_sessions"
# A row outlives ``until`` by this much: a token's ``exp`` is checked on the
# service's clock, the purge runs on its database's clock.
CLOCK_SKEW = timedelta(seconds=60)
# At most this many stale rows go per insert, so no insert waits on a long delete.
PURGE_BATCH = 1000


class RevokedSessionMixin:
    """A session identity ended, kept until its last access token has expired."""
    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    revoked_at = mapped_column(DateTime(timezone=True), nullable=False)
    until = mapped_column(DateTime(timezone=True), nullable=False)

    @declared_attr.directive
    def __table_args__(cls):
        return (Index("ix_{}_until".format(cls.__tablename__), "until"),)


def revoked_sessions_model(base):
    """Map ``revoked_sessions`` on a service's own declarative base."""
    return type("RevokedSession", (RevokedSessionMixin, base), {"__tablename__": TABLE})


def revoked_sessions_of(base):
    """The class ``base`` maps on ``revoked_sessions``, or None."""
    for mapper in base.registry.mappers:
        if mapper.local_table.name == TABLE:
            return mapper.class_
    return None


class SessionRevoked(Schema):
    """What a consumer reads of identity's ``session_revoked`` v1."""
    user_id = fields.UUID(required=True)
    session_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    revoked_at = fields.AwareDateTime(required=True)
    until = fields.AwareDateTime(required=True)


# ``@subscribe("identity", "session_revoked", **SESSION_REVOKED)``
SESSION_REVOKED = {"versions": {1}, "schema": SessionRevoked}


def record(uow, model, data):
    """Keep the sessions of one ``session_revoked`` event (``data`` as
    ``SessionRevoked`` loads it), and forget those no token can use any more."""
    rows = [{"session_id": session_id, "user_id": data["user_id"], "revoked_at": data["revoked_at"],
             "until": data["until"]} for session_id in data["session_ids"]]
    uow.session.execute(insert(model).values(rows).on_conflict_do_nothing(index_elements=["session_id"]))
    purge(uow.session, model)


def purge(session, model):
    """Delete up to ``PURGE_BATCH`` rows past ``until``; rows another
    transaction is deleting are skipped, not waited for."""
    stale = (select(model.session_id).where(model.until < func.now() - CLOCK_SKEW)
             .limit(PURGE_BATCH).with_for_update(skip_locked=True))
    return session.execute(delete(model).where(model.session_id.in_(stale.scalar_subquery()))
                           .execution_options(synchronize_session=False)).rowcount


def not_revoked(model):
    """``Auth``'s check in a service that follows ``session_revoked``: the
    session is live unless identity said it ended (one primary-key lookup)."""
    column = model.__table__.c.session_id
    query = select(column).where(column == bindparam("session_id", type_=UUID(as_uuid=True)))

    def check(connection, session_id, user_id):
        return connection.execute(query, {"session_id": session_id}).first() is None
    return check
