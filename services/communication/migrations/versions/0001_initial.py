"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 02:20:26.108803
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
    op.create_table('conversations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('lesson_id', sa.UUID(), nullable=True),
    sa.Column('participant_ids', sa.ARRAY(sa.UUID()), nullable=False),
    sa.Column('status', sa.Enum('active', 'archived', 'closed', name='conversation_status'), server_default='active', nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('cardinality(participant_ids) >= 2', name='ck_conversations_participants'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_conversations_lesson_id', 'conversations', ['lesson_id'], unique=False)
    op.create_index('ix_conversations_participant_ids', 'conversations', ['participant_ids'], unique=False, postgresql_using='gin')
    op.create_table('notifications',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), server_default='', nullable=False),
    sa.Column('is_read', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('source_event_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_event_id')
    )
    op.create_index('ix_notifications_user_unread', 'notifications', ['user_id', 'is_read', 'created_at'], unique=False)
    op.create_table('video_sessions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('lesson_id', sa.UUID(), nullable=False),
    sa.Column('meeting_url', sa.String(length=500), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recording_url', sa.String(length=500), nullable=True),
    sa.CheckConstraint('ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at', name='ck_video_sessions_order'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_video_sessions_lesson_id', 'video_sessions', ['lesson_id'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('conversation_id', sa.UUID(), nullable=False),
    sa.Column('sender_user_id', sa.UUID(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('message_type', sa.Enum('text', 'file', 'system', name='message_type'), server_default='text', nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(content) BETWEEN 1 AND 10000', name='ck_messages_content'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_messages_conversation_time', 'messages', ['conversation_id', 'timestamp'], unique=False)


def downgrade():
    op.drop_index('ix_messages_conversation_time', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_video_sessions_lesson_id', table_name='video_sessions')
    op.drop_table('video_sessions')
    op.drop_index('ix_notifications_user_unread', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_conversations_participant_ids', table_name='conversations', postgresql_using='gin')
    op.drop_index('ix_conversations_lesson_id', table_name='conversations')
    op.drop_table('conversations')
    drop_event_store(op)
    drop_enum_types(op, 'conversation_status', 'message_type')
