"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 02:20:32.907905
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
    op.create_table('analytics_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_analytics_events_type_time', 'analytics_events', ['event_type', 'timestamp'], unique=False)
    op.create_index('ix_analytics_events_user_time', 'analytics_events', ['user_id', 'timestamp'], unique=False)
    op.create_table('reports',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('generated_by', sa.UUID(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_reports_type_time', 'reports', ['type', 'generated_at'], unique=False)
    op.create_table('reviews',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('reviewer_user_id', sa.UUID(), nullable=False),
    sa.Column('target_user_id', sa.UUID(), nullable=False),
    sa.Column('target_type', sa.Enum('tutor', 'course', name='review_target_type'), nullable=False),
    sa.Column('lesson_id', sa.UUID(), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name='ck_reviews_rating'),
    sa.CheckConstraint('reviewer_user_id <> target_user_id', name='ck_reviews_not_self'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_reviews_target', 'reviews', ['target_type', 'target_user_id'], unique=False)
    op.create_index('uq_reviews_reviewer_lesson', 'reviews', ['reviewer_user_id', 'lesson_id'], unique=True, postgresql_where=sa.text('lesson_id IS NOT NULL'))
    op.create_table('user_metrics',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('lesson_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_spent', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('avg_rating', sa.Numeric(precision=3, scale=2), nullable=True),
    sa.Column('review_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_user_metrics_currency'),
    sa.CheckConstraint('avg_rating IS NULL OR avg_rating BETWEEN 1 AND 5', name='ck_user_metrics_avg_rating'),
    sa.CheckConstraint('lesson_count >= 0', name='ck_user_metrics_lesson_count'),
    sa.CheckConstraint('review_count >= 0', name='ck_user_metrics_review_count'),
    sa.CheckConstraint('total_spent >= 0', name='ck_user_metrics_total_spent'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )


def downgrade():
    op.drop_table('user_metrics')
    op.drop_index('uq_reviews_reviewer_lesson', table_name='reviews', postgresql_where=sa.text('lesson_id IS NOT NULL'))
    op.drop_index('ix_reviews_target', table_name='reviews')
    op.drop_table('reviews')
    op.drop_index('ix_reports_type_time', table_name='reports')
    op.drop_table('reports')
    op.drop_index('ix_analytics_events_user_time', table_name='analytics_events')
    op.drop_index('ix_analytics_events_type_time', table_name='analytics_events')
    op.drop_table('analytics_events')
    drop_event_store(op)
    drop_enum_types(op, 'review_target_type')
