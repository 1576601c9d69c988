"""Conversations between a student and a tutor: one per lesson, made when
it is booked, and one open conversation per pair before any booking.
Only the two participants read and write; an admin reads only with a
reason, which is kept (docs/communication.md, "Conversations")."""
import logging
import uuid
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from services.common.errors import BadInput, Forbidden, NotFound
from services.common.paging import decode_cursor, encode_cursor
from services.communication.models import (AdminRead, Conversation, ConversationRead, ConversationStatus, Message,
                                           Person)

log = logging.getLogger(__name__)


def for_lesson(uow, lesson):
    """The lesson's conversation (made once, however often the booking arrives)."""
    if lesson is None:
        return None
    uow.session.execute(insert(Conversation).values(
        id=uuid.uuid4(), lesson_id=lesson.lesson_id, student_user_id=lesson.student_user_id,
        tutor_user_id=lesson.tutor_user_id, participant_ids=[lesson.student_user_id, lesson.tutor_user_id],
    ).on_conflict_do_nothing(index_elements=["lesson_id"], index_where=text("lesson_id IS NOT NULL")))
    return uow.session.scalars(select(Conversation).where(Conversation.lesson_id == lesson.lesson_id)).one()


def start(uow, student_user_id, tutor_user_id):
    """The student's open conversation with a tutor before any booking: the
    existing one, or a new one."""
    tutor = uow.session.get(Person, tutor_user_id)
    if tutor is None or tutor.role != "tutor" or tutor.status != "active":
        raise NotFound("no such tutor", {"tutorUserId": ["Unknown tutor."]})
    student_user_id = uuid.UUID(str(student_user_id))
    uow.session.execute(insert(Conversation).values(
        id=uuid.uuid4(), lesson_id=None, student_user_id=student_user_id, tutor_user_id=tutor.user_id,
        participant_ids=[student_user_id, tutor.user_id],
    ).on_conflict_do_nothing(index_elements=["student_user_id", "tutor_user_id"],
                             index_where=text("lesson_id IS NULL AND status = 'active'")))
    conversation = uow.session.scalars(select(Conversation).where(
        Conversation.student_user_id == student_user_id, Conversation.tutor_user_id == tutor.user_id,
        Conversation.lesson_id.is_(None), Conversation.status == ConversationStatus.active)).one()
    return view(conversation, unread_counts(uow.session, student_user_id, [conversation.id]).get(conversation.id, 0))


def is_participant(conversation, user_id):
    return str(user_id) in {str(p) for p in conversation.participant_ids}


def readable(uow, principal, conversation_id, reason):
    """The conversation if ``principal`` may read it: a participant, or an
    admin who gives a reason (recorded). Anyone else: not found."""
    conversation = uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no such conversation", {"conversation_id": ["Unknown conversation."]})
    if is_participant(conversation, principal.user_id):
        return conversation
    if not principal.is_admin:
        raise NotFound("no such conversation", {"conversation_id": ["Unknown conversation."]})
    if not reason:
        raise BadInput("an admin reads a conversation only with a reason, which is kept",
                       {"reason": ["Say why you read this conversation."]})
    uow.session.add(AdminRead(admin_user_id=principal.user_id, conversation_id=conversation.id, reason=reason))
    log.warning("admin %s read conversation %s: %s", principal.user_id, conversation.id, reason)
    return conversation


def writable(session, user_id, conversation_id):
    """The conversation, locked, if ``user_id`` takes part in it (admins too must be participants)."""
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or not is_participant(conversation, user_id):
        raise NotFound("no such conversation", {"conversationId": ["Unknown conversation."]})
    if conversation.status != ConversationStatus.active:
        raise Forbidden("this conversation is {}".format(conversation.status.value))
    return conversation


def get_many(uow, principal, conversation_ids, reason):
    """{id: view or None}: None where the caller may not read it."""
    found = {}
    for conversation_id in conversation_ids:
        try:
            found[conversation_id] = readable(uow, principal, conversation_id, reason)
        except NotFound:
            found[conversation_id] = None
    counts = unread_counts(uow.session, principal.user_id, [c.id for c in found.values() if c is not None])
    return {str(i): view(c, counts.get(c.id, 0)) if c is not None else None for i, c in found.items()}


def page(session, user_id, first, after):
    """The user's conversations, latest message first (a new one by its creation)."""
    sort_at = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    query = select(Conversation, sort_at).where(Conversation.participant_ids.contains([uuid.UUID(str(user_id))]))
    if after:
        at, last = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        query = query.where(or_(sort_at < at, and_(sort_at == at, Conversation.id < last)))
    rows = session.execute(query.order_by(sort_at.desc(), Conversation.id.desc()).limit(first + 1)).all()
    counts = unread_counts(session, user_id, [c.id for c, _ in rows[:first]])
    items = [dict(view(c, counts.get(c.id, 0)), cursor=encode_cursor(at.isoformat(), c.id)) for c, at in rows[:first]]
    return {"items": items, "next_cursor": items[-1]["cursor"] if len(rows) > first else None}


def _unread(user_id):
    """Messages the user has not read: another's (or the platform's), after their read marker."""
    user_id = uuid.UUID(str(user_id))
    return (select(Message.conversation_id, func.count().label("unread"))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(ConversationRead, and_(ConversationRead.conversation_id == Message.conversation_id,
                                              ConversationRead.user_id == user_id))
            .where(Conversation.participant_ids.contains([user_id]),
                   Message.sender_user_id.is_distinct_from(user_id),
                   or_(ConversationRead.last_read_at.is_(None), Message.timestamp > ConversationRead.last_read_at))
            .group_by(Message.conversation_id))


def unread_counts(session, user_id, conversation_ids):
    if not conversation_ids:
        return {}
    return dict(session.execute(_unread(user_id).where(Message.conversation_id.in_(conversation_ids))).all())


def unread_total(session, user_id):
    counts = _unread(user_id).subquery()
    return int(session.scalar(select(func.coalesce(func.sum(counts.c.unread), 0))))


def mark_read(uow, user_id, conversation_id):
    """Everything in the conversation up to now counts as read by ``user_id``."""
    conversation = uow.session.get(Conversation, conversation_id)
    if conversation is None or not is_participant(conversation, user_id):
        raise NotFound("no such conversation", {"conversationId": ["Unknown conversation."]})
    stamp = func.clock_timestamp()
    uow.session.execute(insert(ConversationRead).values(
        conversation_id=conversation.id, user_id=uuid.UUID(str(user_id)), last_read_at=stamp,
    ).on_conflict_do_update(index_elements=["conversation_id", "user_id"], set_={"last_read_at": stamp}))
    return view(conversation, 0)


def view(conversation, unread):
    return {"id": str(conversation.id), "lesson_id": str(conversation.lesson_id) if conversation.lesson_id else None,
            "student_user_id": str(conversation.student_user_id), "tutor_user_id": str(conversation.tutor_user_id),
            "participant_ids": [str(p) for p in conversation.participant_ids], "status": conversation.status.value,
            "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
            "created_at": conversation.created_at.isoformat(), "unread_count": int(unread)}
