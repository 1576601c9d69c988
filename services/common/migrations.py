"""One Alembic history per service, kept inside that service's database.

Each service has ``services/<name>/migrations`` with an ``env.py`` that calls
``run_migrations``; nothing else needs an ``alembic.ini``.
"""
import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool
from sqlalchemy.dialects import postgresql

from services.common.config import check_service, db_settings

SERVICES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION_TABLE = "alembic_version"


def alembic_config(service, url=None):
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(SERVICES_DIR, check_service(service), "migrations"))
    # '%' is Alembic's interpolation character; URLs may contain it when quoted.
    cfg.set_main_option("sqlalchemy.url", (url or db_settings(service).url).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service, revision="head", url=None):
    command.upgrade(alembic_config(service, url), revision)


def downgrade(service, revision="base", url=None):
    command.downgrade(alembic_config(service, url), revision)


def current(service, url=None):
    from alembic.runtime.migration import MigrationContext
    engine = create_engine(url or db_settings(service).url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def run_migrations(context, metadata):
    """Body of every service's ``env.py`` (online mode only: we always have a database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def drop_enum_types(op, *names):
    """Alembic's ``drop_table`` leaves PostgreSQL enum types behind; a
    downgrade must drop them, or the next upgrade fails on CREATE TYPE."""
    for name in names:
        op.execute("DROP TYPE IF EXISTS {}".format(name))


def create_event_store(op):
    """The outbox, inbox and failed_events tables (services/common/eventstore.py),
    created by every service's first migration in its own database."""
    op.create_table('failed_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('source_service', sa.String(length=50), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('envelope', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'handler', name='uq_failed_events_event_handler')
    )
    op.create_index('ix_failed_events_status', 'failed_events', ['status', 'next_attempt_at'], unique=False)
    op.create_table('inbox',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('envelope', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_outbox_unpublished', 'outbox', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL'))


def drop_event_store(op):
    op.drop_index('ix_outbox_unpublished', table_name='outbox', postgresql_where='published_at IS NULL')
    op.drop_table('outbox')
    op.drop_table('inbox')
    op.drop_index('ix_failed_events_status', table_name='failed_events')
    op.drop_table('failed_events')


def add_inbox_consumer(op):
    """0002 of every service: record which instance applied each event."""
    op.add_column('inbox', sa.Column('consumer', sa.String(length=100), nullable=True))


def drop_inbox_consumer(op):
    op.drop_column('inbox', 'consumer')


def create_revoked_sessions(op):
    """The ``revoked_sessions`` table (services/common/revocations.py) of a
    service that checks access tokens, in its own database."""
    op.create_table('revoked_sessions',
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
    )
    op.create_index('ix_revoked_sessions_until', 'revoked_sessions', ['until'], unique=False)


def drop_revoked_sessions(op):
    op.drop_index('ix_revoked_sessions_until', table_name='revoked_sessions')
    op.drop_table('revoked_sessions')


def create_mail_outbox(op):
    """The ``mail_outbox`` table (services/common/mail.py) of a service that
    sends mail, in its own database."""
    op.create_table('mail_outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('sensitive', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'dead')", name='ck_mail_outbox_status'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_mail_outbox_due', 'mail_outbox', ['next_attempt_at'], unique=False,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_mail_outbox_status', 'mail_outbox', ['status', 'id'], unique=False)


def drop_mail_outbox(op):
    op.drop_index('ix_mail_outbox_status', table_name='mail_outbox')
    op.drop_index('ix_mail_outbox_due', table_name='mail_outbox', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('mail_outbox')
