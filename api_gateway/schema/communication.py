"""Communication's part of the graph: conversations and their messages,
notifications and what each user wants of them, unread counts, and video
sessions, which it adds to learning's ``Lesson`` as ``videoSession``.

New messages and notifications reach a client without polling through
``GET /stream`` (server-sent events, api_gateway/live.py); this module is
the request-and-answer side (docs/graphql.md, "Messages and
notifications")."""
import graphene

from api_gateway.errors import GatewayError, client_fields
from api_gateway.schema import registry
from api_gateway.schema.context import plain, viewer
from api_gateway.schema.learning import DEFAULT_FIRST, MAX_FIRST, Lesson, check_first, connection, connection_type

STUDENT = {"student"}


def _loaders(info):
    return info.context.loaders


# Communication's RPCs, one loader each (api_gateway/loaders.py).

@registry.loader
def video_sessions_by_lesson(rpc, token, lesson_ids):
    """{lesson id: video session or None} of every lesson of a level, in one call."""
    return rpc.call("communication", "video_sessions_for_lessons", token, lesson_ids)


@registry.loader
def message_pages(rpc, token, keys):
    """Keys are (conversation id, first, after, reason). communication pages
    one conversation's messages per call (``message_page``), so a list of
    conversations costs one call per conversation whose messages are asked
    for, at most ``first`` of them; the same page asked for twice (aliases)
    is fetched once."""
    found = {}
    for key in keys:
        conversation_id, first, after, reason = key
        found[key] = rpc.call("communication", "message_page", token, conversation_id,
                              plain({"first": first, "after": after, "reason": reason}))
    return found


# Closed sets of values as GraphQL enums.

class MessageType(graphene.Enum):
    """Who wrote a message."""
    TEXT = "text"
    SYSTEM = "system"

    @property
    def description(self):
        return {"TEXT": "written by a participant (senderUserId)",
                "SYSTEM": "a line the platform writes itself, e.g. when the lesson is confirmed or cancelled; "
                          "senderUserId is null"}[self.name]


NOTIFICATION_TYPES = {
    "welcome": "the account was created",
    "lesson_booked": "a lesson was booked (the tutor and the student)",
    "lesson_paid": "a booked lesson was paid for",
    "lesson_confirmed": "the tutor confirmed a lesson",
    "lesson_cancelled": "a lesson was cancelled, by the other party or the platform",
    "lesson_completed": "a lesson took place and is completed",
    "lesson_reminder": "a lesson starts soon",
    "lesson_expired": "a booking expired unpaid",
    "payment_succeeded": "a payment went through",
    "payment_failed": "a payment was declined",
    "refund_succeeded": "money was refunded to the student's card",
    "payout_paid": "a payout reached the tutor's bank account",
    "new_message": "a message has been waiting unread for a while",
}

class NotificationType(graphene.Enum):
    """What a notification is about; each type can be turned on or off in the app and by email
    (setNotificationPreferences)."""
    WELCOME = "welcome"
    LESSON_BOOKED = "lesson_booked"
    LESSON_PAID = "lesson_paid"
    LESSON_CONFIRMED = "lesson_confirmed"
    LESSON_CANCELLED = "lesson_cancelled"
    LESSON_COMPLETED = "lesson_completed"
    LESSON_REMINDER = "lesson_reminder"
    LESSON_EXPIRED = "lesson_expired"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    REFUND_SUCCEEDED = "refund_succeeded"
    PAYOUT_PAID = "payout_paid"
    NEW_MESSAGE = "new_message"

    @property
    def description(self):
        return NOTIFICATION_TYPES[self.value]


class ConversationStatus(graphene.Enum):
    """Whether a conversation takes new messages."""
    ACTIVE = "active"
    ARCHIVED = "archived"
    CLOSED = "closed"

    @property
    def description(self):
        return {"ACTIVE": "its participants may write",
                "ARCHIVED": "kept for reading; no new messages",
                "CLOSED": "ended; no new messages"}[self.name]


def _enum_value(value):
    """An enum argument as the service's string (graphene hands resolvers the member)."""
    return getattr(value, "value", value)


class Message(graphene.ObjectType):
    """One message of a conversation."""
    id = graphene.ID(required=True, description="the message's id")
    conversation_id = graphene.ID(required=True, description="the conversation it belongs to")
    sender_user_id = graphene.ID(description="who wrote it; null for the platform's own lines (SYSTEM)")
    content = graphene.String(required=True, description="the text, up to 4,000 characters")
    type = graphene.Field(MessageType, required=True, description="TEXT from a participant, SYSTEM from the "
                                                                  "platform")
    client_message_id = graphene.String(description="the app's own id for it, as given to sendMessage; null if "
                                                    "none was given")
    sent_at = graphene.String(required=True, description="ISO-8601, UTC")

    @staticmethod
    def resolve_type(message, info):
        return message["message_type"]


MessageConnection = connection_type(Message, "message", "messages", "A page of a conversation's messages, "
                                                                    "newest first.")


class Conversation(graphene.ObjectType):
    """Messages between a student and a tutor: one per lesson (made when it is booked) and one open
    conversation per pair before any booking. Its two participants read and write; an admin reads with a
    reason, which is kept."""
    id = graphene.ID(required=True, description="the conversation's id")
    lesson_id = graphene.ID(description="the lesson it is about; null for the pair's conversation before a "
                                        "booking")
    participant_ids = graphene.List(graphene.NonNull(graphene.ID), required=True,
                                    description="the user ids of its participants: the student and the tutor")
    student_user_id = graphene.ID(required=True, description="the student taking part")
    tutor_user_id = graphene.ID(required=True, description="the tutor taking part")
    status = graphene.Field(ConversationStatus, required=True, description="whether it takes new messages")
    last_message_at = graphene.String(description="ISO-8601, UTC: when its latest message was sent; null "
                                                  "before the first")
    created_at = graphene.String(required=True, description="ISO-8601, UTC")
    unread_count = graphene.Int(required=True, description="messages the signed-in user has not read: others' "
                                                           "and the platform's, since markConversationRead")
    messages = graphene.Field(
        MessageConnection, required=True,
        first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
        after=graphene.String(description="`endCursor` of the page before"),
        description="its messages, newest first. Each conversation whose messages are asked for costs one "
                    "RPC, so a page of conversations costs at most its `first` of them (GATEWAY_MAX_RPCS "
                    "caps a request's RPCs: ask for messages on small pages of conversations, or on one "
                    "conversation(id:))")

    @staticmethod
    def resolve_messages(conversation, info, first, after=None):
        check_first(first)
        key = (conversation["id"], first, after, conversation.get("_reason"))
        with client_fields(cursor="after", conversation_id="id"):
            page = _loaders(info).message_pages.load(key)
        return connection(page["items"], page["next_cursor"])


ConversationConnection = connection_type(Conversation, "conversation", "conversations",
                                         "A page of the signed-in user's conversations, latest message first.")


class Notification(graphene.ObjectType):
    """Something the platform tells a user, in the app (and by email when they want it)."""
    id = graphene.ID(required=True, description="the notification's id, for markNotificationsRead")
    type = graphene.Field(NotificationType, required=True, description="what it is about")
    title = graphene.String(required=True, description="a short line to show")
    content = graphene.String(required=True, description="the longer text; may be empty")
    is_read = graphene.Boolean(required=True, description="true once marked read (markNotificationsRead)")
    lesson_id = graphene.ID(description="the lesson it is about, if any")
    created_at = graphene.String(required=True, description="ISO-8601, UTC")

    @staticmethod
    def resolve_lesson_id(notification, info):
        return notification.get("lesson_id") or (notification.get("data") or {}).get("lesson_id")


NotificationConnection = connection_type(Notification, "notification", "notifications",
                                         "A page of the signed-in user's notifications, newest first.")


class UnreadCount(graphene.ObjectType):
    """What the signed-in user has not read yet."""
    messages = graphene.Int(required=True, description="unread messages across all their conversations")
    notifications = graphene.Int(required=True, description="unread notifications")


class NotificationPreference(graphene.ObjectType):
    """How a user wants to be told of one type of notification."""
    type = graphene.Field(NotificationType, required=True, description="the type of notification")
    label = graphene.String(required=True, description="the type in words, to show in the app's settings")
    in_app = graphene.Boolean(required=True, description="shown in the app (notifications, /stream)")
    email = graphene.Boolean(required=True, description="sent by email")


class NotificationPreferenceInput(graphene.InputObjectType):
    """A change to one type's channels; a channel left out keeps its value."""
    type = graphene.Field(NotificationType, required=True, description="the type of notification to change")
    in_app = graphene.Boolean(description="shown in the app; left out: unchanged")
    email = graphene.Boolean(description="sent by email; left out: unchanged")


class VideoSession(graphene.ObjectType):
    """A lesson's video room; its two participants only."""
    meeting_url = graphene.String(required=True, description="where to join the call")
    started_at = graphene.String(description="ISO-8601, UTC: when the first participant joined; null before")
    ended_at = graphene.String(description="ISO-8601, UTC: when it ended; null until then")
    recording_url = graphene.String(description="the recording, once the video provider has it; null until then")


class MarkedRead(graphene.ObjectType):
    """What markNotificationsRead did."""
    marked = graphene.Int(required=True, description="how many notifications it marked read")


@registry.extends(Lesson)
class LessonVideoFields:
    """What communication adds to learning's ``Lesson``."""
    video_session = graphene.Field(VideoSession, description=(
        "the lesson's video room, made when the tutor confirms it; null before that, and for anyone but its "
        "student and tutor"))

    @staticmethod
    def expect(info, lessons):
        _loaders(info).video_sessions_by_lesson.expect(lsn["id"] for lsn in lessons)

    @staticmethod
    def resolve_video_session(lesson, info):
        return _loaders(info).video_sessions_by_lesson.load(lesson["id"])


def _page_args(what):
    return dict(first=graphene.Int(default_value=DEFAULT_FIRST, description="page size, 1 to {}".format(MAX_FIRST)),
                after=graphene.String(description="`endCursor` of the page of {} before".format(what)))


def _not_found(argument, what):
    return GatewayError("no such {}".format(what), "NOT_FOUND", {argument: ["Unknown {}.".format(what)]})


@registry.query
class CommunicationQuery:
    conversations = graphene.Field(
        ConversationConnection, required=True, **_page_args("conversations"),
        description="The signed-in user's conversations, latest message first, each with its unread count.")
    conversation = graphene.Field(
        Conversation,
        id=graphene.ID(required=True, description="the conversation's id"),
        reason=graphene.String(description="why an admin reads it, 3 to 500 characters; required of an admin "
                                           "who is not a participant, and kept"),
        description="One conversation of the signed-in user's. An admin may read anyone's with a reason, which "
                    "is kept (without one: BAD_USER_INPUT naming reason). A conversation the caller may not read "
                    "answers null with NOT_FOUND naming id, as an unknown one.")
    notifications = graphene.Field(
        NotificationConnection, required=True, **_page_args("notifications"),
        unread_only=graphene.Boolean(default_value=False, description="only those not read yet"),
        description="The signed-in user's notifications, newest first.")
    unread_count = graphene.Field(UnreadCount, required=True,
                                  description="The signed-in user's unread messages and notifications.")
    notification_preferences = graphene.List(
        graphene.NonNull(NotificationPreference), required=True,
        description="Every type of notification with how the signed-in user wants it: in the app, by email.")

    @staticmethod
    def resolve_conversations(root, info, first, after=None):
        viewer(info)
        check_first(first)
        with client_fields(cursor="after"):
            page = info.context.call("communication", "conversation_page", info.context.token,
                                     plain({"first": first, "after": after}))
        return connection(page["items"], page["next_cursor"])

    @staticmethod
    def resolve_conversation(root, info, id, reason=None):
        viewer(info)
        with client_fields(conversation_ids="id", conversation_id="id"):
            found = info.context.call("communication", "get_conversations", info.context.token, [id],
                                      plain({"reason": reason}))
        conversation = next(iter((found or {}).values()), None)  # {id: view or None}, for the one id asked
        if conversation is None:
            raise _not_found("id", "conversation")
        return dict(conversation, _reason=reason)  # its messages are read with the same reason

    @staticmethod
    def resolve_notifications(root, info, first, after=None, unread_only=False):
        viewer(info)
        check_first(first)
        with client_fields(cursor="after"):
            page = info.context.call("communication", "notification_page", info.context.token,
                                     plain({"first": first, "after": after, "unreadOnly": bool(unread_only)}))
        return connection(page["items"], page["next_cursor"])

    @staticmethod
    def resolve_unread_count(root, info):
        viewer(info)
        return info.context.call("communication", "unread_counts", info.context.token)

    @staticmethod
    def resolve_notification_preferences(root, info):
        viewer(info)
        return info.context.call("communication", "notification_preferences", info.context.token)


@registry.mutation
class CommunicationMutation:
    start_conversation = graphene.Field(
        Conversation, required=True,
        tutor_user_id=graphene.ID(required=True, description="the tutor's user id"),
        description="The signed-in student's open conversation with a tutor before any booking: the existing one, "
                    "or a new one. An unknown tutor is NOT_FOUND naming tutorUserId. Students only.")
    send_message = graphene.Field(
        Message, required=True,
        conversation_id=graphene.ID(required=True, description="a conversation the sender takes part in"),
        content=graphene.String(required=True, description="the text, 1 to 4,000 characters, not blank"),
        client_message_id=graphene.String(description=(
            "the app's own id for this message (1 to 100 characters): sending again with the same id returns "
            "the first message instead of a second one, so a send may be retried safely")),
        description="Send a message. A conversation the sender does not take part in is NOT_FOUND naming "
                    "conversationId; one that is no longer active is FORBIDDEN.")
    mark_conversation_read = graphene.Field(
        Conversation, required=True,
        conversation_id=graphene.ID(required=True, description="a conversation the caller takes part in"),
        description="Count everything in the conversation up to now as read by the signed-in user.")
    mark_notifications_read = graphene.Field(
        MarkedRead, required=True,
        ids=graphene.List(graphene.NonNull(graphene.ID), description="the notifications to mark, 1 to 100"),
        all=graphene.Boolean(description="true: mark all of the signed-in user's notifications"),
        description="Mark notifications read: give ids, or all: true (not both).")
    set_notification_preferences = graphene.Field(
        graphene.List(graphene.NonNull(NotificationPreference), required=True),
        preferences=graphene.List(graphene.NonNull(NotificationPreferenceInput), required=True, description=(
            "the types to change, each with the channels to change; at least one")),
        description="Change how the signed-in user is told of some types of notification; the types and "
                    "channels left out keep their values. Answers every type.")
    join_video_session = graphene.Field(
        VideoSession, required=True,
        lesson_id=graphene.ID(required=True, description="the lesson, one's own as its student or tutor"),
        description="The lesson's video room to join; the first join starts the session. A lesson with no room "
                    "(not confirmed) or not one's own is NOT_FOUND naming lessonId.")
    end_video_session = graphene.Field(
        VideoSession, required=True,
        lesson_id=graphene.ID(required=True, description="the lesson, one's own as its student or tutor"),
        description="End the lesson's video session (either participant).")

    @staticmethod
    def resolve_start_conversation(root, info, tutor_user_id):
        viewer(info, STUDENT)
        # the payload's keys are the arguments' names, so the service's errors name them
        with client_fields(tutor_user_id="tutorUserId"):
            return info.context.call("communication", "start_conversation", info.context.token,
                                     {"tutorUserId": tutor_user_id})

    @staticmethod
    def resolve_send_message(root, info, conversation_id, content, client_message_id=None):
        viewer(info)
        with client_fields(conversation_id="conversationId", client_message_id="clientMessageId"):
            return info.context.call("communication", "send_message", info.context.token, plain(
                {"conversationId": conversation_id, "content": content, "clientMessageId": client_message_id}))

    @staticmethod
    def resolve_mark_conversation_read(root, info, conversation_id):
        viewer(info)
        with client_fields(conversation_id="conversationId"):
            return info.context.call("communication", "mark_conversation_read", info.context.token,
                                     conversation_id)

    @staticmethod
    def resolve_mark_notifications_read(root, info, ids=None, all=None):
        viewer(info)
        return info.context.call("communication", "mark_notifications_read", info.context.token,
                                 plain({"ids": ids, "all": all}))

    @staticmethod
    def resolve_set_notification_preferences(root, info, preferences):
        viewer(info)
        changes = [plain({"type": _enum_value(p.get("type")), "inApp": p.get("in_app"), "email": p.get("email")})
                   for p in preferences]
        return info.context.call("communication", "set_notification_preferences", info.context.token,
                                 {"preferences": changes})

    @staticmethod
    def resolve_join_video_session(root, info, lesson_id):
        viewer(info)
        with client_fields(lesson_id="lessonId"):
            return info.context.call("communication", "join_video_session", info.context.token, lesson_id)

    @staticmethod
    def resolve_end_video_session(root, info, lesson_id):
        viewer(info)
        with client_fields(lesson_id="lessonId"):
            return info.context.call("communication", "end_video_session", info.context.token, lesson_id)
