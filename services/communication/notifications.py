"""Notifications: what other services' events, the lesson clock and unread
messages mean for each person, in the app and by mail.

``notify`` turns one event into a notification for each user it concerns
(``compose``, pure, writes the titles and texts). A notification is made
once per (event, user) however often the event comes: the unique
``(source_event_id, user_id)`` and an insert that does nothing on conflict,
acting only on the rows it really inserted. Each new notification is a row
in the user's activity stream (live clients learn of it), and a mail when
the user wants that type by email and their address is known.

Each user chooses per type (services/communication/preferences.py): with
``in_app`` off no row is made; with ``email`` on a mail is queued.

Timers: ``lesson_reminders`` tells both parties of a confirmed lesson
shortly before it starts; ``unread_message_notices`` tells a participant of
messages they left unread. Both claim their rows with ``FOR UPDATE SKIP
LOCKED``, so several instances never tell anyone twice.
"""
import math
import uuid
from collections import namedtuple
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import and_, case, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from services.common import mail
from services.common.money import money
from services.common.paging import decode_cursor, encode_cursor
from services.communication import activity, people
from services.communication.models import (Conversation, ConversationRead, LessonSchedule, Message, Notification,
                                            NotificationPreference)

# Timer settings (config/communication.yaml), in minutes; fractions allowed.
REMINDER_MINUTES = 30        # how long before a confirmed lesson both parties are reminded
UNREAD_NOTICE_MINUTES = 10   # how long a message stays unread before its recipient is told
NOTICE_LOOKBACK = timedelta(days=2)  # older unread messages are not announced any more
BATCH = 200

Type = namedtuple("Type", "label in_app email")

# The closed set of notification types, with their default channels.
TYPES = {
    "welcome": Type("Welcome", True, False),
    "lesson_booked": Type("Lesson booked", True, False),
    "lesson_paid": Type("Lesson paid", True, False),
    "lesson_confirmed": Type("Lesson confirmed", True, True),
    "lesson_cancelled": Type("Lesson cancelled", True, True),
    "lesson_completed": Type("Lesson completed", True, False),
    "lesson_reminder": Type("Lesson reminder", True, True),
    "lesson_expired": Type("Lesson not paid in time", True, True),
    "payment_succeeded": Type("Payment succeeded", True, False),
    "payment_failed": Type("Payment failed", True, True),
    "refund_succeeded": Type("Refund", True, True),
    "payout_paid": Type("Payout", True, True),
    "new_message": Type("New messages", True, True),
    # "review_received" comes with reviews.
}

PREVIEW_CHARS = 120


class Draft(SimpleNamespace):
    """A notification still to be made: user_id, type, title, content, data."""


# Texts ----------------------------------------------------------------------

def _utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc)


def when(value):
    """``Tue 1 Dec, 14:00 UTC``."""
    at = _utc(value)
    return "{:%a} {} {:%b}, {:%H:%M} UTC".format(at, at.day, at, at)


def clock(value):
    """``14:00 UTC``."""
    return "{:%H:%M} UTC".format(_utc(value))


def week(start, end):
    """``23 Nov – 29 Nov 2026``."""
    start, end = (date.fromisoformat(d) if isinstance(d, str) else d for d in (start, end))
    return "{} {:%b} – {} {:%b %Y}".format(start.day, start, end.day, end)


def minutes_until(start, now):
    return max(1, math.ceil((_utc(start) - now).total_seconds() / 60))


def preview(text):
    text = " ".join(str(text).split())
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1].rstrip() + "…"


def _lesson(data, lesson, name_of):
    """The lesson's facts for a text: from communication's schedule row when
    it has one, else from the event (a lesson whose booking never reached us)."""
    def pick(attr, key=None):
        if lesson is not None:
            return getattr(lesson, attr)
        return data.get(key or attr)
    student, tutor = pick("student_user_id"), pick("tutor_user_id")
    return SimpleNamespace(
        id=lesson.lesson_id if lesson is not None else data.get("id") or data.get("lesson_id"),
        course=(pick("course_title") or "your lesson"),
        student=student, tutor=tutor,
        student_name=pick("student_name") or name_of(student),
        tutor_name=pick("tutor_name") or name_of(tutor),
        start=pick("scheduled_at"))


def _cap(text):
    return text[:1].upper() + text[1:]


def _quoted(facts):
    return "your lesson" if facts.course == "your lesson" else "“{}”".format(facts.course)


def compose(event_type, data, lesson=None, name_of=lambda user_id: "Someone"):
    """The notifications one event makes, as ``Draft``s (pure: no session).
    ``name_of`` gives a user's name when neither the lesson nor the event has it."""
    if event_type == "user_created":
        hello = "Hi {}, your account is ready. ".format(data["first_name"]) if data.get("first_name") else \
            "Your account is ready. "
        next_step = "Set up your profile and a course so students can book you." if data.get("role") == "tutor" \
            else "Find a tutor and book your first lesson."
        return [Draft(user_id=data["user_id"], type="welcome", title="Welcome to the tutoring marketplace",
                      content=hello + next_step, data={})]
    if event_type == "payout_paid":
        return [Draft(user_id=data["tutor_user_id"], type="payout_paid",
                      title="Payout of {} sent".format(money(data["amount"], data["currency"])),
                      content="Your earnings of {} for the week {} are on their way to your bank account.".format(
                          money(data["amount"], data["currency"]), week(data["period_start"], data["period_end"])),
                      data={"payout_id": str(data["payout_id"])})]
    facts = _lesson(data, lesson, name_of)
    ref = {"lesson_id": str(facts.id)} if facts.id else {}
    course = _quoted(facts)
    on = " on {}".format(when(facts.start)) if facts.start else ""

    def to(user_id, type_, title, content, **extra):
        return Draft(user_id=user_id, type=type_, title=title, content=content,
                     data=dict(ref, **{k: str(v) for k, v in extra.items()}))

    if event_type == "lesson_booked":
        if data.get("payment_due_at"):
            step = "pay {} by {} to keep it.".format(money(data["price"], data["currency"]),
                                                     clock(data["payment_due_at"]))
        else:
            step = "waiting for the tutor to confirm."
        drafts = [to(facts.student, "lesson_booked", "Lesson booked",
                     "{} with {}{} is booked: {}".format(_cap(course), facts.tutor_name, on, step))]
        if data.get("status") == "requested":  # free: nothing to pay, the tutor's to confirm now
            drafts.append(to(facts.tutor, "lesson_booked", "New booking request",
                             "{} booked {}{}. Confirm or decline it.".format(facts.student_name, course, on)))
        return drafts
    if event_type == "lesson_paid":
        return [to(facts.tutor, "lesson_paid", "New booking to confirm",
                   "{} booked and paid {}{}. Confirm or decline it.".format(facts.student_name, course, on)),
                to(facts.student, "lesson_paid", "Payment received, waiting for the tutor",
                   "{}{} is paid. {} will confirm it soon.".format(_cap(course), on, facts.tutor_name))]
    if event_type == "lesson_confirmed":
        return [to(facts.student, "lesson_confirmed", "Lesson confirmed for {}".format(when(facts.start)) if facts.start else "Lesson confirmed",
                   "{} confirmed {}. Join it from the lesson page when it starts.".format(facts.tutor_name, course))]
    if event_type == "lesson_cancelled":
        by_student = data.get("cancelled_by_role") == "student"
        who = facts.student_name if by_student else facts.tutor_name
        reason = (data.get("cancel_reason") or "").strip()
        return [to(facts.tutor if by_student else facts.student, "lesson_cancelled",
                   "Lesson cancelled by {}".format(who),
                   "Lesson cancelled by {}: {}. It was {}{}.".format(
                       who, reason.rstrip(".") if reason else "no reason given", course, on))]
    if event_type == "lesson_completed":
        return [to(facts.student, "lesson_completed", "How was your lesson?",
                   "{} with {} is complete. Leave a review to help other students choose.".format(
                       _cap(course), facts.tutor_name))]
    if event_type == "lesson_expired":
        return [to(facts.student, "lesson_expired", "Lesson not paid in time",
                   "{}{} was not paid in time, so the slot was released. Book again if you still want it."
                   .format(_cap(course), on))]
    if event_type == "payment_succeeded":
        return [to(data["student_user_id"], "payment_succeeded", "Payment succeeded",
                   "We received {} for {}{}.".format(money(data["amount"], data["currency"]), course, on),
                   payment_id=data["payment_id"])]
    if event_type == "payment_failed":
        why = (data.get("message") or "").strip()
        return [to(data["student_user_id"], "payment_failed", "Payment failed",
                   "Your payment of {} for {} did not go through{} You can try again.".format(
                       money(data["amount"], data["currency"]), course,
                       ": {}".format(why if why.endswith((".", "!", "?")) else why + ".") if why else "."),
                   payment_id=data["payment_id"])]
    if event_type == "refund_succeeded":
        return [to(data["student_user_id"], "refund_succeeded",
                   "Refund of {}".format(money(data["amount"], data["currency"])),
                   "{} for {} is on its way back to you. Reason: {}".format(
                       money(data["amount"], data["currency"]), course, data["reason"]),
                   refund_id=data["refund_id"], payment_id=data["payment_id"])]
    raise ValueError("no notification for {}".format(event_type))


def reminder_drafts(lesson, now):
    """Both parties of ``lesson`` (a ``LessonSchedule``), shortly before it starts."""
    n = minutes_until(lesson.scheduled_at, now)
    title = "Your lesson starts in {} minute{}".format(n, "" if n == 1 else "s")
    ref = {"lesson_id": str(lesson.lesson_id)}
    return [Draft(user_id=user_id, type="lesson_reminder", title=title,
                  content="“{}” with {} starts at {}. Join it from the lesson page.".format(
                      lesson.course_title, other, clock(lesson.scheduled_at)), data=ref)
            for user_id, other in ((lesson.student_user_id, lesson.tutor_name),
                                   (lesson.tutor_user_id, lesson.student_name))]


def unread_draft(recipient, conversation_id, sender_name, count, latest):
    return Draft(user_id=recipient, type="new_message",
                 title="{} new message{} from {}".format(count, "" if count == 1 else "s", sender_name),
                 content=preview(latest), data={"conversation_id": str(conversation_id)})


# Delivery --------------------------------------------------------------------

def channels(session, user_ids, type_):
    """{user id: (in_app, email)} for ``type_``: each user's choice, or the type's defaults."""
    default = TYPES[type_]
    chosen = {row.user_id: (row.in_app, row.email) for row in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id.in_(user_ids),
                                             NotificationPreference.type == type_))}
    return {user_id: chosen.get(user_id, (default.in_app, default.email)) for user_id in user_ids}


def deliver(uow, source_event_id, drafts):
    """Make each draft a notification (once per source and user), record it
    in the user's activity stream, and queue its mail; returns the new rows' ids."""
    made = []
    for draft in drafts:
        user_id = uuid.UUID(str(draft.user_id))
        in_app, by_mail = channels(uow.session, [user_id], draft.type)[user_id]
        if in_app:
            notification_id = uow.session.execute(
                insert(Notification).values(id=uuid.uuid4(), user_id=user_id, type=draft.type,
                                            title=draft.title[:200], content=draft.content, data=draft.data,
                                            source_event_id=source_event_id)
                .on_conflict_do_nothing(constraint="uq_notifications_event_user")
                .returning(Notification.id)).scalar()
            if notification_id is None:
                continue  # made before, by an earlier delivery of the same event
            activity.record(uow, user_id, "notification", notification_id)
            made.append(notification_id)
        if by_mail:
            _mail(uow.session, user_id, draft)
    return made


def notify(uow, event_type, event, lesson=None):
    """The notifications ``event`` (the inbox's event) makes; ``lesson`` is
    its ``LessonSchedule`` row, or None."""
    drafts = compose(event_type, event.data, lesson, lambda user_id: people.name_of(uow.session, user_id))
    return deliver(uow, event.event_id, drafts)


def _mail(session, user_id, draft):
    to = people.person(session, user_id)
    if to is None or to.status == "deactivated":
        return None
    footer = "You get this mail because mails for “{}” are on in your notification settings.".format(
        TYPES[draft.type].label)
    text = "{}\n\n{}\n\n--\n{}\n".format(draft.title, draft.content, footer)
    html = mail.html_page(draft.title, [draft.content], footer=footer)
    return mail.queue_mail(session, to.email, draft.title, text, html, kind=draft.type)


# Timers ----------------------------------------------------------------------

def setting(config, key, default):
    """A timer setting in minutes from the service's config (fractions allowed)."""
    value = (config or {}).get(key)
    return float(default if value in (None, "") else value)


def lesson_reminders(uow, now, config=None):
    """Remind both parties of each confirmed lesson that starts within
    ``REMINDER_MINUTES``, once (``reminded_at``)."""
    ahead = timedelta(minutes=setting(config, "REMINDER_MINUTES", REMINDER_MINUTES))
    due = uow.session.scalars(
        select(LessonSchedule)
        .where(LessonSchedule.reminded_at.is_(None), LessonSchedule.status == "confirmed",
               LessonSchedule.scheduled_at > now, LessonSchedule.scheduled_at <= now + ahead)
        .order_by(LessonSchedule.scheduled_at).limit(BATCH).with_for_update(skip_locked=True)).all()
    for lesson in due:
        deliver(uow, uuid.uuid5(lesson.lesson_id, "reminder"), reminder_drafts(lesson, now))
        lesson.reminded_at = now
    uow.session.flush()
    return len(due)


def unread_message_notices(uow, now, config=None):
    """One ``new_message`` notification per recipient and conversation once
    the oldest message they left unread has waited ``UNREAD_NOTICE_MINUTES``:
    it counts every message unread then, newer ones too, and each is
    announced once (``notified_at``). The platform's own lines never are."""
    cutoff = now - timedelta(minutes=setting(config, "UNREAD_NOTICE_MINUTES", UNREAD_NOTICE_MINUTES))
    recipient = case((Message.sender_user_id == Conversation.student_user_id, Conversation.tutor_user_id),
                     else_=Conversation.student_user_id)
    read = ConversationRead
    rows = uow.session.execute(
        select(Message.id, Message.conversation_id, Message.sender_user_id, Message.content,
               Message.timestamp, recipient.label("recipient"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(read, and_(read.conversation_id == Message.conversation_id, read.user_id == recipient))
        .where(Message.notified_at.is_(None), Message.sender_user_id.is_not(None),
               Message.timestamp > now - NOTICE_LOOKBACK,
               or_(read.last_read_at.is_(None), read.last_read_at < Message.timestamp))
        .order_by(Message.timestamp, Message.id).limit(BATCH)
        .with_for_update(of=Message, skip_locked=True)).all()
    groups = {}
    for row in rows:
        groups.setdefault((row.conversation_id, row.recipient), []).append(row)
    groups = {pair: found for pair, found in groups.items() if found[0].timestamp <= cutoff}
    for (conversation_id, recipient_id), found in groups.items():
        latest = found[-1]
        draft = unread_draft(recipient_id, conversation_id, people.name_of(uow.session, latest.sender_user_id),
                             len(found), latest.content)
        deliver(uow, uuid.uuid5(latest.id, "unread"), [draft])
    told = [r.id for found in groups.values() for r in found]
    if told:
        uow.session.execute(update(Message).where(Message.id.in_(told)).values(notified_at=now))
    return len(groups)


# Reading ---------------------------------------------------------------------

def view(notification):
    return {"id": str(notification.id), "type": notification.type, "title": notification.title,
            "content": notification.content, "data": notification.data or {}, "is_read": notification.is_read,
            "created_at": notification.created_at.isoformat()}


def page(session, user_id, first, after, unread_only):
    """The user's notifications, newest first: ``{"items", "next_cursor"}``."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    if after:
        at, last_id = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        query = query.where(tuple_(Notification.created_at, Notification.id) < tuple_(at, last_id))
    rows = session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                           .limit(first + 1)).all()
    more, rows = len(rows) > first, rows[:first]
    items = [dict(view(n), cursor=encode_cursor(n.created_at.isoformat(), n.id)) for n in rows]
    return {"items": items, "next_cursor": items[-1]["cursor"] if more else None}


def unread_count(session, user_id):
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.is_read.is_(False)))


def mark_read(uow, user_id, ids=None):
    """Mark the user's notifications ``ids`` read (all of them when None);
    ids that are not theirs are ignored. Returns how many became read."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.is_read.is_(False))
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    return uow.session.execute(query.values(is_read=True)).rowcount
