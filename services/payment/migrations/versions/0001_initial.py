"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 02:20:22.400304
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.common.migrations import create_event_store, drop_enum_types, drop_event_store

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_event_store(op)
    op.create_table('payments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('lesson_id', sa.UUID(), nullable=False),
    sa.Column('student_user_id', sa.UUID(), nullable=False),
    sa.Column('tutor_user_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('platform_fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('status', sa.Enum('pending', 'requires_action', 'succeeded', 'failed', 'refunded', 'partially_refunded', name='payment_status'), server_default='pending', nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_payments_currency'),
    sa.CheckConstraint('amount >= 0', name='ck_payments_amount'),
    sa.CheckConstraint('platform_fee BETWEEN 0 AND amount', name='ck_payments_platform_fee'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_payment_intent_id')
    )
    op.create_index('ix_payments_lesson_id', 'payments', ['lesson_id'], unique=False)
    op.create_index('ix_payments_student_user_id', 'payments', ['student_user_id'], unique=False)
    op.create_index('ix_payments_tutor_user_id', 'payments', ['tutor_user_id'], unique=False)
    op.create_table('payouts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tutor_user_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'in_transit', 'paid', 'failed', 'cancelled', name='payout_status'), server_default='pending', nullable=False),
    sa.Column('stripe_payout_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_payouts_currency'),
    sa.CheckConstraint('amount >= 0', name='ck_payouts_amount'),
    sa.CheckConstraint('period_end >= period_start', name='ck_payouts_period'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_payout_id')
    )
    op.create_index('ix_payouts_tutor_user_id', 'payouts', ['tutor_user_id', 'period_start'], unique=False)
    op.create_table('stripe_accounts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tutor_user_id', sa.UUID(), nullable=False),
    sa.Column('stripe_account_id', sa.String(length=255), nullable=False),
    sa.Column('onboarding_complete', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_account_id'),
    sa.UniqueConstraint('tutor_user_id')
    )
    op.create_table('invoices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('payment_id', sa.UUID(), nullable=False),
    sa.Column('student_user_id', sa.UUID(), nullable=False),
    sa.Column('tutor_user_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_invoices_currency'),
    sa.CheckConstraint('amount >= 0', name='ck_invoices_amount'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_id')
    )
    op.create_index('ix_invoices_student_user_id', 'invoices', ['student_user_id'], unique=False)
    op.create_table('refunds',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('payment_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='refund_status'), server_default='pending', nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_refunds_currency'),
    sa.CheckConstraint('amount > 0', name='ck_refunds_amount'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_refund_id')
    )
    op.create_index('ix_refunds_payment_id', 'refunds', ['payment_id'], unique=False)
    op.create_table('transactions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('payment_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Enum('charge', 'refund', 'transfer', 'payout', name='transaction_type'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('stripe_transaction_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_transactions_currency'),
    sa.CheckConstraint('amount >= 0', name='ck_transactions_amount'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_transaction_id')
    )
    op.create_index('ix_transactions_payment_id', 'transactions', ['payment_id'], unique=False)


def downgrade():
    op.drop_index('ix_transactions_payment_id', table_name='transactions')
    op.drop_table('transactions')
    op.drop_index('ix_refunds_payment_id', table_name='refunds')
    op.drop_table('refunds')
    op.drop_index('ix_invoices_student_user_id', table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('stripe_accounts')
    op.drop_index('ix_payouts_tutor_user_id', table_name='payouts')
    op.drop_table('payouts')
    op.drop_index('ix_payments_tutor_user_id', table_name='payments')
    op.drop_index('ix_payments_student_user_id', table_name='payments')
    op.drop_index('ix_payments_lesson_id', table_name='payments')
    op.drop_table('payments')
    drop_event_store(op)
    drop_enum_types(op, 'payment_status', 'payout_status', 'refund_status', 'transaction_type')
