"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 02:11:54.219609
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
    # btree_gist lets the lessons exclusion constraint compare tutor_id with '='.
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
    op.create_table('students',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('learning_goals', sa.Text(), server_default='', nullable=False),
    sa.Column('preferred_languages', sa.ARRAY(sa.String(length=35)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=201), nullable=False),
    sa.Column('user_status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('source_version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('tutors',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('hourly_rate', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('subjects', sa.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('languages', sa.ARRAY(sa.String(length=35)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('bio', sa.Text(), server_default='', nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('is_verified', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=201), nullable=False),
    sa.Column('user_status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('source_version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_tutors_currency'),
    sa.CheckConstraint('hourly_rate IS NULL OR hourly_rate BETWEEN 0 AND 100000000', name='ck_tutors_hourly_rate'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    op.create_index('ix_tutors_languages', 'tutors', ['languages'], unique=False, postgresql_using='gin')
    op.create_index('ix_tutors_subjects', 'tutors', ['subjects'], unique=False, postgresql_using='gin')
    op.create_table('courses',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tutor_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('duration', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'archived', name='course_status'), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_courses_currency'),
    sa.CheckConstraint('duration BETWEEN 15 AND 480', name='ck_courses_duration'),
    sa.CheckConstraint('price BETWEEN 0 AND 100000000', name='ck_courses_price'),
    sa.ForeignKeyConstraint(['tutor_id'], ['tutors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_courses_tutor_id', 'courses', ['tutor_id'], unique=False)
    op.create_table('matching_requests',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('requirements', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='matching_request_status'), server_default='open', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_matching_requests_currency'),
    sa.CheckConstraint('budget BETWEEN 0 AND 100000000', name='ck_matching_requests_budget'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_matching_requests_student_id', 'matching_requests', ['student_id', 'status'], unique=False)
    op.create_table('tutor_availability',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tutor_id', sa.UUID(), nullable=False),
    sa.Column('day_of_week', sa.SmallInteger(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.CheckConstraint('day_of_week BETWEEN 0 AND 6', name='ck_tutor_availability_day'),
    sa.CheckConstraint('end_time > start_time', name='ck_tutor_availability_order'),
    sa.ForeignKeyConstraint(['tutor_id'], ['tutors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_tutor_availability_tutor_day', 'tutor_availability', ['tutor_id', 'day_of_week'], unique=False)
    op.create_table('lessons',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('course_id', sa.UUID(), nullable=False),
    sa.Column('tutor_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('requested', 'confirmed', 'completed', 'cancelled', name='lesson_status'), server_default='requested', nullable=False),
    sa.Column('meeting_url', sa.String(length=500), nullable=True),
    sa.Column('cancelled_by_user_id', sa.UUID(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    postgresql.ExcludeConstraint((sa.column('tutor_id'), '='), (sa.text("tstzrange(scheduled_at, ends_at, '[)')"), '&&'), where=sa.text("status IN ('requested', 'confirmed')"), using='gist', name='ex_lessons_tutor_no_overlap'),
    sa.CheckConstraint('ends_at > scheduled_at', name='ck_lessons_order'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.ForeignKeyConstraint(['tutor_id'], ['tutors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_lessons_student_id', 'lessons', ['student_id', 'scheduled_at'], unique=False)
    op.create_index('ix_lessons_tutor_id', 'lessons', ['tutor_id', 'scheduled_at'], unique=False)


def downgrade():
    op.drop_index('ix_lessons_tutor_id', table_name='lessons')
    op.drop_index('ix_lessons_student_id', table_name='lessons')
    op.drop_table('lessons')
    op.drop_index('ix_tutor_availability_tutor_day', table_name='tutor_availability')
    op.drop_table('tutor_availability')
    op.drop_index('ix_matching_requests_student_id', table_name='matching_requests')
    op.drop_table('matching_requests')
    op.drop_index('ix_courses_tutor_id', table_name='courses')
    op.drop_table('courses')
    op.drop_index('ix_tutors_subjects', table_name='tutors', postgresql_using='gin')
    op.drop_index('ix_tutors_languages', table_name='tutors', postgresql_using='gin')
    op.drop_table('tutors')
    op.drop_table('students')
    drop_event_store(op)
    drop_enum_types(op, 'lesson_status', 'course_status', 'matching_request_status')
    op.execute('DROP EXTENSION IF EXISTS btree_gist')
