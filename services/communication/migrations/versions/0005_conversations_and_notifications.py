"""conversations between a student and a tutor (one per lesson, one open
pair before any booking), retried sends stored once, read markers, audited
admin reads, notifications per event and user with their data,
preferences, copies of people and lessons, each user's activity stream,
video rooms (docs/communication.md)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('activity',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_activity_user', 'activity', ['user_id', 'id'], unique=False)
    op.create_table('lesson_schedule',
    sa.Column('lesson_id', sa.UUID(), nullable=False),
    sa.Column('course_title', sa.String(length=200), nullable=False),
    sa.Column('student_user_id', sa.UUID(), nullable=False),
    sa.Column('tutor_user_id', sa.UUID(), nullable=False),
    sa.Column('student_name', sa.String(length=200), nullable=False),
    sa.Column('tutor_name', sa.String(length=200), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('lesson_id')
    )
    op.create_index('ix_lesson_schedule_due_reminder', 'lesson_schedule', ['scheduled_at'], unique=False, postgresql_where=sa.text('reminded_at IS NULL'))
    op.create_table('notification_preferences',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('in_app', sa.Boolean(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'type')
    )
    op.create_table('people',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('admin_reads',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('admin_user_id', sa.UUID(), nullable=False),
    sa.Column('conversation_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_admin_reads_conversation', 'admin_reads', ['conversation_id', 'created_at'], unique=False)
    op.create_table('conversation_reads',
    sa.Column('conversation_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('last_read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id', 'user_id')
    )
    op.add_column('conversations', sa.Column('student_user_id', sa.UUID(), nullable=False))
    op.add_column('conversations', sa.Column('tutor_user_id', sa.UUID(), nullable=False))
    op.drop_index('ix_conversations_lesson_id', table_name='conversations')
    op.create_index('uq_conversations_lesson_id', 'conversations', ['lesson_id'], unique=True, postgresql_where=sa.text('lesson_id IS NOT NULL'))
    op.create_index('uq_conversations_open_pair', 'conversations', ['student_user_id', 'tutor_user_id'], unique=True, postgresql_where=sa.text("lesson_id IS NULL AND status = 'active'"))
    op.add_column('messages', sa.Column('client_message_id', sa.String(length=100), nullable=True))
    op.add_column('messages', sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
    op.alter_column('messages', 'sender_user_id',
               existing_type=sa.UUID(),
               nullable=True)
    op.drop_index('ix_messages_conversation_time', table_name='messages')
    op.create_index('ix_messages_conversation_time', 'messages', ['conversation_id', 'timestamp', 'id'], unique=False)
    op.create_index('ix_messages_unnotified', 'messages', ['timestamp'], postgresql_where=sa.text('notified_at IS NULL'))
    op.create_unique_constraint('uq_messages_client_id', 'messages', ['conversation_id', 'sender_user_id', 'client_message_id'])
    op.add_column('notifications', sa.Column('data', postgresql.JSONB(), server_default='{}', nullable=False))
    op.drop_constraint('notifications_source_event_id_key', 'notifications', type_='unique')
    op.create_index('ix_notifications_user_page', 'notifications', ['user_id', 'created_at', 'id'], unique=False)
    op.create_unique_constraint('uq_notifications_event_user', 'notifications', ['source_event_id', 'user_id'])
    op.add_column('video_sessions', sa.Column('room', sa.String(length=100), nullable=False))
    op.drop_index('ix_video_sessions_lesson_id', table_name='video_sessions')
    op.create_unique_constraint('uq_video_sessions_lesson_id', 'video_sessions', ['lesson_id'])
    op.create_unique_constraint('uq_video_sessions_room', 'video_sessions', ['room'])
    op.create_check_constraint('ck_messages_sender', 'messages', "(message_type = 'system') = (sender_user_id IS NULL)")
    op.alter_column('messages', 'timestamp', server_default=sa.text('clock_timestamp()'))
    op.alter_column('notifications', 'created_at', server_default=sa.text('clock_timestamp()'))


def downgrade():
    op.drop_constraint('ck_messages_sender', 'messages')
    op.alter_column('messages', 'timestamp', server_default=sa.text('now()'))
    op.alter_column('notifications', 'created_at', server_default=sa.text('now()'))
    op.drop_constraint('uq_video_sessions_room', 'video_sessions', type_='unique')
    op.drop_constraint('uq_video_sessions_lesson_id', 'video_sessions', type_='unique')
    op.create_index('ix_video_sessions_lesson_id', 'video_sessions', ['lesson_id'])
    op.drop_column('video_sessions', 'room')
    op.drop_constraint('uq_notifications_event_user', 'notifications', type_='unique')
    op.drop_index('ix_notifications_user_page', table_name='notifications')
    op.create_unique_constraint('notifications_source_event_id_key', 'notifications', ['source_event_id'])
    op.drop_column('notifications', 'data')
    op.drop_constraint('uq_messages_client_id', 'messages', type_='unique')
    op.drop_index('ix_messages_unnotified', table_name='messages')
    op.drop_index('ix_messages_conversation_time', table_name='messages')
    op.create_index('ix_messages_conversation_time', 'messages', ['conversation_id', 'timestamp'])
    op.execute("DELETE FROM messages WHERE sender_user_id IS NULL")
    op.alter_column('messages', 'sender_user_id', existing_type=sa.UUID(), nullable=False)
    op.drop_column('messages', 'notified_at')
    op.drop_column('messages', 'client_message_id')
    op.drop_index('uq_conversations_open_pair', table_name='conversations')
    op.drop_index('uq_conversations_lesson_id', table_name='conversations')
    op.create_index('ix_conversations_lesson_id', 'conversations', ['lesson_id'])
    op.drop_column('conversations', 'tutor_user_id')
    op.drop_column('conversations', 'student_user_id')
    op.drop_table('conversation_reads')
    op.drop_index('ix_admin_reads_conversation', table_name='admin_reads')
    op.drop_table('admin_reads')
    op.drop_table('people')
    op.drop_table('notification_preferences')
    op.drop_index('ix_lesson_schedule_due_reminder', table_name='lesson_schedule')
    op.drop_table('lesson_schedule')
    op.drop_index('ix_activity_user', table_name='activity')
    op.drop_table('activity')
