"""sessions identity ended, so their access tokens are refused here (the
payment entrypoints take user, admin and service tokens)

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
