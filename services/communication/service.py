"""Communication service entrypoints: conversations and messages between a
student and a tutor, notifications made from other services' events (in
the app and by mail), each user's activity stream for live clients, and
video sessions (docs/communication.md). Each entrypoint checks its caller,
validates its payload and hands over to the module that owns the rule, in
one unit of work that it commits."""
import logging
from datetime import datetime, timezone
from functools import partial

from nameko.dependency_providers import Config
from nameko.web.handlers import http

from services.common import revocations
from services.common.auth import Auth
from services.common.callbacks import Refused, json_response
from services.common.errors import ServiceError
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.mail import DeadMailRpc, Mailer, MailSender
from services.common.rpc import rpc
from services.common.timers import timer
from services.common.uow import UnitOfWorkProvider
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.communication import (activity, conversations, messages, notifications, people, preferences,
                                    schedule, video)
from services.communication.events import PUBLISHED
from services.communication.models import Base, RevokedSession
from services.communication.schemas import (ConversationReadSchema, LessonBooked, LessonCancelled, LessonChanged,
                                            MarkNotificationsReadSchema, MessagePageSchema, NotificationPageSchema,
                                            PageSchema, PaymentEvent, PayoutEvent, RefundEvent, SendMessageSchema,
                                            StartConversationSchema)

log = logging.getLogger(__name__)

STUDENT = {"student"}
USER_EVENT = {"versions": {1}, "schema": people.UserSnapshot}
LESSON_EVENT = {"versions": {1}, "schema": LessonChanged}


def now():
    return datetime.now(timezone.utc)


class CommunicationService(HealthRpc, DeadLetterRpc, DeadMailRpc):
    name = "communication"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()
    auth = Auth()
    # Mail queued with queue_mail goes out through these (services/common/mail.py).
    mailer = Mailer()
    mail_sender = MailSender()

    # Identity's users: names and addresses for the texts and mails written here.

    @subscribe("identity", "user_created", **USER_EVENT)
    def on_user_created(self, uow, event):
        people.apply_user_event(uow, event.data)
        notifications.notify(uow, "user_created", event)

    @subscribe("identity", "user_updated", **USER_EVENT)
    def on_user_updated(self, uow, event):
        people.apply_user_event(uow, event.data)

    @subscribe("identity", "user_deactivated", **USER_EVENT)
    def on_user_deactivated(self, uow, event):
        people.apply_user_event(uow, event.data)

    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)

    # Learning's lessons: their conversation, their video room, and what the
    # two parties are told.

    @subscribe("learning", "lesson_booked", versions={1}, schema=LessonBooked)
    def on_lesson_booked(self, uow, event):
        lesson = schedule.booked(uow, event.data)
        conversations.for_lesson(uow, lesson)
        notifications.notify(uow, "lesson_booked", event, lesson)

    @subscribe("learning", "lesson_paid", **LESSON_EVENT)
    def on_lesson_paid(self, uow, event):
        notifications.notify(uow, "lesson_paid", event, schedule.changed(uow, event.data))

    @subscribe("learning", "lesson_confirmed", **LESSON_EVENT)
    def on_lesson_confirmed(self, uow, event):
        lesson = schedule.changed(uow, event.data)
        video.open_room(uow, self.config, lesson)
        messages.system_line(uow, lesson, "confirmed")
        notifications.notify(uow, "lesson_confirmed", event, lesson)

    @subscribe("learning", "lesson_cancelled", versions={1}, schema=LessonCancelled)
    def on_lesson_cancelled(self, uow, event):
        lesson = schedule.changed(uow, event.data)
        messages.system_line(uow, lesson, "cancelled")
        notifications.notify(uow, "lesson_cancelled", event, lesson)

    @subscribe("learning", "lesson_completed", **LESSON_EVENT)
    def on_lesson_completed(self, uow, event):
        lesson = schedule.changed(uow, event.data)
        video.end_room(uow, lesson, event.occurred_at)
        notifications.notify(uow, "lesson_completed", event, lesson)

    @subscribe("learning", "lesson_expired", **LESSON_EVENT)
    def on_lesson_expired(self, uow, event):
        notifications.notify(uow, "lesson_expired", event, schedule.changed(uow, event.data))

    # Payment's news for the student and the tutor.

    @subscribe("payment", "payment_succeeded", versions={1}, schema=PaymentEvent)
    def on_payment_succeeded(self, uow, event):
        notifications.notify(uow, "payment_succeeded", event, schedule.get(uow.session, event.data["lesson_id"]))

    @subscribe("payment", "payment_failed", versions={1}, schema=PaymentEvent)
    def on_payment_failed(self, uow, event):
        notifications.notify(uow, "payment_failed", event, schedule.get(uow.session, event.data["lesson_id"]))

    @subscribe("payment", "refund_succeeded", versions={1}, schema=RefundEvent)
    def on_refund_succeeded(self, uow, event):
        notifications.notify(uow, "refund_succeeded", event, schedule.get(uow.session, event.data["lesson_id"]))

    @subscribe("payment", "payout_paid", versions={1}, schema=PayoutEvent)
    def on_payout_paid(self, uow, event):
        notifications.notify(uow, "payout_paid", event)

    # Timers: reminders before lessons, notices of messages left unread,
    # rooms of lessons whose time has passed.

    @timer("REMINDER_TIMER_SECONDS", default=30)
    def remind(self):
        self._tick("reminders", partial(notifications.lesson_reminders, config=self.config))
        self._tick("unread message notices", partial(notifications.unread_message_notices, config=self.config))
        self._tick("ended rooms", video.end_past_rooms)

    def _tick(self, what, work):
        try:
            with self.uow() as uow:
                work(uow, now())
                uow.commit()
        except Exception as exc:  # the database is away: the next tick tries again
            log.warning("%s: not done this tick: %s", what, exc)

    # Conversations and messages: their two participants; an admin reads with a reason.

    @rpc
    def start_conversation(self, token, payload):
        """The student's open conversation with a tutor, before any booking
        (the same one again if it exists)."""
        student = self.auth.require(token, STUDENT)
        data = load(StartConversationSchema(), payload)
        with self.uow() as uow:
            view = conversations.start(uow, student.user_id, data["tutor_user_id"])
            uow.commit()
        return view

    @rpc
    def conversation_page(self, token, payload=None):
        """The caller's conversations, latest message first, each with its
        unread count: ``{"items", "next_cursor"}``."""
        who = self.auth.require(token)
        page = load(PageSchema(), payload or {})
        with self.uow() as uow:
            return conversations.page(uow.session, who.user_id, page["first"], page["after"])

    @rpc
    def get_conversations(self, token, conversation_ids, payload=None):
        """{id: conversation or None}: the caller's own; an admin's with a
        reason, which is kept."""
        who = self.auth.require(token)
        ids = parse_uuid_list(conversation_ids, "conversation_ids", limit=100)
        reason = load(ConversationReadSchema(), payload or {})["reason"]
        with self.uow() as uow:
            views = conversations.get_many(uow, who, ids, reason)
            uow.commit()  # an admin's reads are recorded
        return views

    @rpc
    def message_page(self, token, conversation_id, payload=None):
        """One page of a conversation's messages, newest first: ``{"items", "next_cursor"}``."""
        who = self.auth.require(token)
        conversation_id = parse_uuid(conversation_id, "conversation_id")
        page = load(MessagePageSchema(), payload or {})
        with self.uow() as uow:
            result = messages.page(uow, who, conversation_id, page["first"], page["after"], page["reason"])
            uow.commit()
        return result

    @rpc
    def send_message(self, token, payload):
        """Send a text message; the same clientMessageId again returns the first one."""
        who = self.auth.require(token)
        data = load(SendMessageSchema(), payload)
        with self.uow() as uow:
            view = messages.send(uow, who.user_id, data["conversation_id"], data["content"],
                                 data["client_message_id"])
            uow.commit()
        return view

    @rpc
    def mark_conversation_read(self, token, conversation_id):
        who = self.auth.require(token)
        conversation_id = parse_uuid(conversation_id, "conversation_id")
        with self.uow() as uow:
            view = conversations.mark_read(uow, who.user_id, conversation_id)
            uow.commit()
        return view

    @rpc
    def unread_counts(self, token):
        """``{"messages": n, "notifications": m}`` for the caller."""
        who = self.auth.require(token)
        with self.uow() as uow:
            return {"messages": conversations.unread_total(uow.session, who.user_id),
                    "notifications": notifications.unread_count(uow.session, who.user_id)}

    # Notifications and what each user wants of them.

    @rpc
    def notification_page(self, token, payload=None):
        """The caller's notifications, newest first: ``{"items", "next_cursor"}``."""
        who = self.auth.require(token)
        page = load(NotificationPageSchema(), payload or {})
        with self.uow() as uow:
            return notifications.page(uow.session, who.user_id, page["first"], page["after"], page["unread_only"])

    @rpc
    def mark_notifications_read(self, token, payload):
        """Mark the caller's notifications ``ids`` read, or ``all`` of them; ``{"marked": n}``."""
        who = self.auth.require(token)
        data = load(MarkNotificationsReadSchema(), payload)
        with self.uow() as uow:
            marked = notifications.mark_read(uow, who.user_id, None if data["all"] else data["ids"])
            uow.commit()
        return {"marked": marked}

    @rpc
    def notification_preferences(self, token):
        """Every notification type with the caller's choice: in the app, by email."""
        who = self.auth.require(token)
        with self.uow() as uow:
            return preferences.of_user(uow.session, who.user_id)

    @rpc
    def set_notification_preferences(self, token, payload):
        """Change only the types and channels given."""
        who = self.auth.require(token)
        changes = preferences.load_changes(payload)
        with self.uow() as uow:
            view = preferences.update(uow, who.user_id, changes)
            uow.commit()
        return view

    # Live clients: what arrived after the last item they saw.

    @rpc
    def activity_since(self, token, after=0, limit=100):
        """The caller's activity after ``after`` (an activity id), oldest
        first, each with its message or notification."""
        who = self.auth.require(token)
        after, limit = activity.check_range(after, limit)
        with self.uow() as uow:
            return activity.since(uow.session, who.user_id, after, limit)

    # Video sessions: the lesson's two participants.

    @rpc
    def video_sessions_for_lessons(self, token, lesson_ids):
        """{lesson id: video session or None}; only the lesson's participants see it."""
        who = self.auth.require(token)
        ids = parse_uuid_list(lesson_ids, "lesson_ids")
        with self.uow() as uow:
            return video.for_lessons(uow.session, who.user_id, ids)

    @rpc
    def join_video_session(self, token, lesson_id):
        """The room's URL for a participant; the first join starts the session."""
        who = self.auth.require(token)
        lesson_id = parse_uuid(lesson_id, "lesson_id")
        with self.uow() as uow:
            view = video.join(uow, who.user_id, lesson_id, now())
            uow.commit()
        return view

    @rpc
    def end_video_session(self, token, lesson_id):
        who = self.auth.require(token)
        lesson_id = parse_uuid(lesson_id, "lesson_id")
        with self.uow() as uow:
            view = video.end(uow, who.user_id, lesson_id, now())
            uow.commit()
        return view

    @http("POST", "/video/recordings")
    def recording_ready(self, request):
        """The video provider's callback: its signature (VIDEO_CALLBACK_SECRET) is the credential."""
        try:
            data = video.verified_recording(request, self.config.get("VIDEO_CALLBACK_SECRET") or "")
            with self.uow() as uow:
                view = video.save_recording(uow, data)
                uow.commit()
        except Refused as refused:
            return json_response(refused.status, {"error": str(refused)})
        except ServiceError as error:
            return json_response(400 if error.code == "BAD_USER_INPUT" else 404,
                                {"error": error.message, "fields": error.details})
        return json_response(200, {"lesson_id": view["lesson_id"], "recording_url": view["recording_url"]})
