"""sessions identity ended, so their access tokens are refused here (the
dead-letter entrypoints take an admin's or a service's token)

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from services.common.migrations import create_revoked_sessions, drop_revoked_sessions

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    create_revoked_sessions(op)


def downgrade():
    drop_revoked_sessions(op)
