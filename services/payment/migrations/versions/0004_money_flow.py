"""the money flow: payments follow lessons, a ledger of every movement,
payouts per tutor and period, invoices numbered per year, refunds by kind,
payout accounts' capabilities (docs/payments.md)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

LESSON_STATE = postgresql.ENUM('booked', 'cancelled', 'expired', 'completed', name='lesson_state')
REFUND_KIND = postgresql.ENUM('policy', 'admin', 'compensation', name='refund_kind')


def upgrade():
    # New enum values are not used in this transaction, which PostgreSQL allows.
    op.execute("ALTER TYPE payment_status ADD VALUE IF NOT EXISTS 'cancelled'")
    for value in ('application_fee', 'application_fee_refund', 'transfer_reversal'):
        op.execute("ALTER TYPE transaction_type ADD VALUE IF NOT EXISTS '{}'".format(value))
    LESSON_STATE.create(op.get_bind())
    REFUND_KIND.create(op.get_bind())

    op.add_column('payouts', sa.Column('stripe_account_id', sa.String(255), nullable=False))
    op.add_column('payouts', sa.Column('failure_code', sa.String(100), nullable=True))
    op.add_column('payouts', sa.Column('failure_message', sa.Text(), nullable=True))
    op.drop_index('ix_payouts_tutor_user_id', table_name='payouts')
    op.create_unique_constraint('uq_payouts_tutor_period', 'payouts', ['tutor_user_id', 'period_start', 'currency'])

    op.add_column('payments', sa.Column('client_secret', sa.String(255), nullable=True))
    op.add_column('payments', sa.Column('amount_refunded', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('payments', sa.Column('booking', postgresql.JSONB(), server_default='{}', nullable=False))
    op.add_column('payments', sa.Column('lesson_state', LESSON_STATE, server_default='booked', nullable=False))
    op.add_column('payments', sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payments', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('payments', sa.Column('failure_code', sa.String(100), nullable=True))
    op.add_column('payments', sa.Column('decline_code', sa.String(100), nullable=True))
    op.add_column('payments', sa.Column('failure_message', sa.Text(), nullable=True))
    op.add_column('payments', sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payments', sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payments', sa.Column('payout_id', sa.UUID(), sa.ForeignKey('payouts.id'), nullable=True))
    op.create_check_constraint('ck_payments_amount_refunded', 'payments', 'amount_refunded BETWEEN 0 AND amount')
    op.drop_index('ix_payments_lesson_id', table_name='payments')
    op.create_unique_constraint('uq_payments_lesson_id', 'payments', ['lesson_id'])
    op.drop_index('ix_payments_student_user_id', table_name='payments')
    op.create_index('ix_payments_student_user_id', 'payments', ['student_user_id', 'created_at'])
    op.create_index('ix_payments_payable', 'payments', ['tutor_user_id', 'completed_at'],
                    postgresql_where=sa.text('payout_id IS NULL'))

    op.add_column('refunds', sa.Column('kind', REFUND_KIND, server_default='policy', nullable=False))
    op.add_column('refunds', sa.Column('requested_by_user_id', sa.UUID(), nullable=True))

    op.alter_column('transactions', 'payment_id', nullable=True)
    op.add_column('transactions', sa.Column('payout_id', sa.UUID(), sa.ForeignKey('payouts.id'), nullable=True))
    op.add_column('transactions', sa.Column('refund_id', sa.UUID(), sa.ForeignKey('refunds.id'), nullable=True))
    op.create_check_constraint('ck_transactions_owner', 'transactions', '(payment_id IS NULL) <> (payout_id IS NULL)')
    op.create_index('ix_transactions_payout_id', 'transactions', ['payout_id'])

    op.add_column('invoices', sa.Column('number', sa.String(20), nullable=False))
    op.add_column('invoices', sa.Column('details', postgresql.JSONB(), nullable=False))
    op.create_unique_constraint('uq_invoices_number', 'invoices', ['number'])
    op.create_table('invoice_counters',
                    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('last_number', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('year'))

    for column in ('charges_enabled', 'payouts_enabled', 'details_submitted'):
        op.add_column('stripe_accounts', sa.Column(column, sa.Boolean(), server_default='false', nullable=False))


def downgrade():
    for column in ('charges_enabled', 'payouts_enabled', 'details_submitted'):
        op.drop_column('stripe_accounts', column)
    op.drop_table('invoice_counters')
    op.drop_constraint('uq_invoices_number', 'invoices')
    op.drop_column('invoices', 'details')
    op.drop_column('invoices', 'number')
    op.drop_index('ix_transactions_payout_id', table_name='transactions')
    op.drop_constraint('ck_transactions_owner', 'transactions')
    op.drop_column('transactions', 'refund_id')
    op.drop_column('transactions', 'payout_id')
    op.execute("DELETE FROM transactions WHERE payment_id IS NULL")
    op.alter_column('transactions', 'payment_id', nullable=False)
    op.drop_column('refunds', 'requested_by_user_id')
    op.drop_column('refunds', 'kind')
    op.drop_index('ix_payments_payable', table_name='payments')
    op.drop_index('ix_payments_student_user_id', table_name='payments')
    op.create_index('ix_payments_student_user_id', 'payments', ['student_user_id'])
    op.drop_constraint('uq_payments_lesson_id', 'payments')
    op.create_index('ix_payments_lesson_id', 'payments', ['lesson_id'])
    op.drop_constraint('ck_payments_amount_refunded', 'payments')
    for column in ('payout_id', 'completed_at', 'succeeded_at', 'failure_message', 'decline_code', 'failure_code', 'attempts',
                   'due_at', 'lesson_state', 'booking', 'amount_refunded', 'client_secret'):
        op.drop_column('payments', column)
    op.drop_constraint('uq_payouts_tutor_period', 'payouts')
    op.create_index('ix_payouts_tutor_user_id', 'payouts', ['tutor_user_id', 'period_start'])
    for column in ('failure_message', 'failure_code', 'stripe_account_id'):
        op.drop_column('payouts', column)
    REFUND_KIND.drop(op.get_bind())
    LESSON_STATE.drop(op.get_bind())
    # PostgreSQL cannot drop an enum value: the added ones stay, unused.
