"""each invoice keeps its PDF, drawn once in the background

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('invoices', sa.Column('pdf', sa.LargeBinary(), nullable=True))
    op.create_index('ix_invoices_unrendered', 'invoices', ['created_at'], postgresql_where=sa.text('pdf IS NULL'))


def downgrade():
    op.drop_index('ix_invoices_unrendered', table_name='invoices')
    op.drop_column('invoices', 'pdf')
