"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 02:20:29.480037
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
    op.create_table('ai_interactions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.UUID(), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('response', sa.Text(), server_default='', nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ai_interactions_user_time', 'ai_interactions', ['user_id', 'timestamp'], unique=False)
    op.create_table('content',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('creator_user_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('content_type', sa.Enum('article', 'video', 'exercise', 'quiz', 'course_material', name='content_type'), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_content_subject', 'content', ['subject'], unique=False)
    op.create_table('learning_paths',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('steps', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('progress', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name='ck_learning_paths_progress'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_learning_paths_user_id', 'learning_paths', ['user_id'], unique=False)
    op.create_table('recommendations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('target_type', sa.Enum('tutor', 'course', 'content', name='recommendation_target_type'), nullable=False),
    sa.Column('target_id', sa.UUID(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('score BETWEEN 0 AND 1', name='ck_recommendations_score'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'target_type', 'target_id', name='uq_recommendations_target')
    )
    op.create_index('ix_recommendations_user_score', 'recommendations', ['user_id', sa.literal_column('score DESC')], unique=False)


def downgrade():
    op.drop_index('ix_recommendations_user_score', table_name='recommendations')
    op.drop_table('recommendations')
    op.drop_index('ix_learning_paths_user_id', table_name='learning_paths')
    op.drop_table('learning_paths')
    op.drop_index('ix_content_subject', table_name='content')
    op.drop_table('content')
    op.drop_index('ix_ai_interactions_user_time', table_name='ai_interactions')
    op.drop_table('ai_interactions')
    drop_event_store(op)
    drop_enum_types(op, 'content_type', 'recommendation_target_type')
