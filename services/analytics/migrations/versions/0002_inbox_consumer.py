"""inbox records which instance applied each event

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from services.common.migrations import add_inbox_consumer, drop_inbox_consumer

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    add_inbox_consumer(op)


def downgrade():
    drop_inbox_consumer(op)
