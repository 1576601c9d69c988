"""mail_outbox: the mails this service sends, queued in the same commit as
the change that causes them (services/common/mail.py)

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from services.common.migrations import create_mail_outbox, drop_mail_outbox

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    create_mail_outbox(op)


def downgrade():
    drop_mail_outbox(op)
