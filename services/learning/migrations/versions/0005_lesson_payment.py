"""lessons wait for payment: awaiting_payment and expired, payment_due_at

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD_STATUSES = ('requested', 'confirmed', 'completed', 'cancelled')
CONSTRAINT = 'ex_lessons_tutor_no_overlap'


def _exclusion(holding):
    """The tutor's no-overlap constraint, as 0001 wrote it, over ``holding`` statuses."""
    op.execute("ALTER TABLE lessons ADD CONSTRAINT {} EXCLUDE USING gist "
               "(tutor_id WITH =, tstzrange(scheduled_at, ends_at, '[)') WITH &&) "
               "WHERE (status IN ({}))".format(CONSTRAINT, ", ".join("'{}'".format(s) for s in holding)))


def upgrade():
    # A value added by ALTER TYPE cannot be used in the transaction that
    # added it ("unsafe use of new value"): add them in a block of their own,
    # committed before the constraint below names one.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE lesson_status ADD VALUE IF NOT EXISTS 'awaiting_payment'")
        op.execute("ALTER TYPE lesson_status ADD VALUE IF NOT EXISTS 'expired'")
    op.add_column('lessons', sa.Column('payment_due_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_lessons_payment_due_at', 'lessons', ['payment_due_at'], unique=False,
                    postgresql_where=sa.text("status = 'awaiting_payment'"))
    # An unpaid lesson holds its slot too; cancelled, expired and completed ones do not.
    op.execute('ALTER TABLE lessons DROP CONSTRAINT {}'.format(CONSTRAINT))
    _exclusion(('awaiting_payment', 'requested', 'confirmed'))


def downgrade():
    # The old type has no place for them: an unpaid lesson and an expired
    # one become cancelled, which holds no slot either.
    op.execute('ALTER TABLE lessons DROP CONSTRAINT {}'.format(CONSTRAINT))
    op.drop_index('ix_lessons_payment_due_at', table_name='lessons')
    op.execute("UPDATE lessons SET status = 'cancelled', cancel_reason = coalesce(cancel_reason, 'not paid') "
               "WHERE status IN ('awaiting_payment', 'expired')")
    op.drop_column('lessons', 'payment_due_at')
    # PostgreSQL cannot drop an enum value: the type is made again without them.
    op.execute("ALTER TABLE lessons ALTER COLUMN status DROP DEFAULT")
    op.execute("ALTER TYPE lesson_status RENAME TO lesson_status_old")
    op.execute("CREATE TYPE lesson_status AS ENUM ({})".format(", ".join("'{}'".format(s) for s in OLD_STATUSES)))
    op.execute("ALTER TABLE lessons ALTER COLUMN status TYPE lesson_status USING status::text::lesson_status")
    op.execute("ALTER TABLE lessons ALTER COLUMN status SET DEFAULT 'requested'")
    op.execute("DROP TYPE lesson_status_old")
    _exclusion(('requested', 'confirmed'))
