"""Messages: text from a participant (up to 4,000 characters) or a line the
platform writes itself ("Lesson confirmed for Tue 1 Dec, 14:00 UTC"). A
retried send with the same client message id is stored once. Pages run
newest first by (timestamp, id), so new messages arriving meanwhile cause
neither gaps nor repeats (docs/communication.md, "Messages")."""
import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert

from services.common.paging import decode_cursor, encode_cursor
from services.communication import activity, conversations
from services.communication.models import Conversation, Message, MessageType

SYSTEM_LINES = {
    "confirmed": "Lesson confirmed for {when}.",
    "cancelled": "Lesson of {when} cancelled.",
}


def send(uow, sender_user_id, conversation_id, content, client_message_id):
    conversation = conversations.writable(uow.session, sender_user_id, conversation_id)
    sender = uuid.UUID(str(sender_user_id))
    if client_message_id is not None:
        inserted = uow.session.execute(insert(Message).values(
            id=uuid.uuid4(), conversation_id=conversation.id, sender_user_id=sender, content=content,
            message_type=MessageType.text, client_message_id=client_message_id,
        ).on_conflict_do_nothing(constraint="uq_messages_client_id").returning(Message.id)).scalar()
        if inserted is None:  # sent before: the first one stands
            return view(uow.session.scalars(select(Message).where(
                Message.conversation_id == conversation.id, Message.sender_user_id == sender,
                Message.client_message_id == client_message_id)).one())
        message = uow.session.get(Message, inserted)
    else:
        message = Message(conversation_id=conversation.id, sender_user_id=sender, content=content,
                          message_type=MessageType.text)
        uow.session.add(message)
        uow.session.flush()
    uow.session.refresh(message)
    _delivered(uow, conversation, message)
    return view(message)


def system_line(uow, lesson, what):
    """The platform's own line in the lesson's conversation."""
    if lesson is None:
        return None
    conversation = uow.session.scalars(select(Conversation).where(
        Conversation.lesson_id == lesson.lesson_id).with_for_update()).first()
    if conversation is None:
        return None
    when = lesson.scheduled_at.strftime("%a %-d %b, %H:%M UTC")
    message = Message(conversation_id=conversation.id, sender_user_id=None, message_type=MessageType.system,
                      content=SYSTEM_LINES[what].format(when=when))
    uow.session.add(message)
    uow.session.flush()
    uow.session.refresh(message)
    _delivered(uow, conversation, message)
    return message


def _delivered(uow, conversation, message):
    """The conversation moves up the inbox; each recipient's stream gets it."""
    conversation.last_message_at = message.timestamp
    recipients = [p for p in conversation.participant_ids if p != message.sender_user_id]
    for user_id in recipients:
        activity.record(uow, user_id, "message", message.id)
    uow.emit("message_sent", {
        "message_id": str(message.id), "conversation_id": str(conversation.id),
        "lesson_id": str(conversation.lesson_id) if conversation.lesson_id else None,
        "sender_user_id": str(message.sender_user_id) if message.sender_user_id else None,
        "recipient_user_ids": [str(u) for u in recipients], "message_type": message.message_type.value,
        "sent_at": message.timestamp.isoformat()})


def page(uow, principal, conversation_id, first, after, reason):
    conversation = conversations.readable(uow, principal, conversation_id, reason)
    query = select(Message).where(Message.conversation_id == conversation.id)
    if after:
        at, last = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        query = query.where(or_(Message.timestamp < at, and_(Message.timestamp == at, Message.id < last)))
    rows = uow.session.scalars(query.order_by(Message.timestamp.desc(), Message.id.desc()).limit(first + 1)).all()
    items = [dict(view(m), cursor=encode_cursor(m.timestamp.isoformat(), m.id)) for m in rows[:first]]
    return {"items": items, "next_cursor": items[-1]["cursor"] if len(rows) > first else None}


def view(message):
    return {"id": str(message.id), "conversation_id": str(message.conversation_id),
            "sender_user_id": str(message.sender_user_id) if message.sender_user_id else None,
            "content": message.content, "message_type": message.message_type.value,
            "client_message_id": message.client_message_id, "sent_at": message.timestamp.isoformat()}
