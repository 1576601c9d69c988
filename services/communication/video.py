"""Video sessions: a confirmed lesson gets an unguessable room on the video
provider (VIDEO_BASE_URL, Jitsi-style by default); learning learns its URL
from ``video_session_created`` and shows it on the lesson. Only the
lesson's two participants see it. The first join through the platform
starts the session; a participant ending it, the lesson's completion or
its end time passing ends it; the provider reports a recording through a
signed callback (docs/communication.md, "Video sessions")."""
import hashlib
import hmac
import json
import secrets
import time
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.common.callbacks import Refused
from services.common.errors import Conflict, NotFound
from services.common.validation import load
from services.communication import schedule
from services.communication.models import LessonSchedule, VideoSession
from services.communication.schemas import RecordingCallbackSchema

DEFAULT_BASE_URL = "https://meet.jit.si"
# A callback signed longer ago than this is refused, as Stripe's webhooks are.
CALLBACK_TOLERANCE_SECONDS = 300
MAX_CALLBACK_BYTES = 16 * 1024


def open_room(uow, config, lesson):
    """The confirmed lesson's room, made once."""
    if lesson is None:
        return None
    room = "edtech-" + secrets.token_urlsafe(24)
    url = "{}/{}".format((config.get("VIDEO_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"), room)
    made = uow.session.execute(insert(VideoSession).values(
        id=uuid.uuid4(), lesson_id=lesson.lesson_id, room=room, meeting_url=url,
    ).on_conflict_do_nothing(constraint="uq_video_sessions_lesson_id").returning(VideoSession.id)).scalar()
    if made is not None:
        uow.emit("video_session_created", {"video_session_id": str(made), "lesson_id": str(lesson.lesson_id),
                                           "meeting_url": url})
    return made


def _of_party(session, user_id, lesson_id, lock=False):
    row = session.execute(select(VideoSession, LessonSchedule).join(
        LessonSchedule, LessonSchedule.lesson_id == VideoSession.lesson_id).where(
        VideoSession.lesson_id == lesson_id).with_for_update(of=VideoSession) if lock else
        select(VideoSession, LessonSchedule).join(LessonSchedule, LessonSchedule.lesson_id == VideoSession.lesson_id)
        .where(VideoSession.lesson_id == lesson_id)).first()
    if row is None or schedule.party_of(row[1], user_id) is None:
        raise NotFound("no video session for this lesson", {"lesson_id": ["No video session."]})
    return row


def join(uow, user_id, lesson_id, now):
    session, lesson = _of_party(uow.session, user_id, lesson_id, lock=True)
    if lesson.status == "cancelled":
        raise Conflict("this lesson was cancelled", {"lesson_id": ["Cancelled."]})
    if session.ended_at is not None:
        raise Conflict("this video session has ended", {"lesson_id": ["Ended."]})
    if session.started_at is None:
        session.started_at = now
    uow.session.flush()
    return view(session)


def end(uow, user_id, lesson_id, now):
    session, _ = _of_party(uow.session, user_id, lesson_id, lock=True)
    if session.ended_at is None:
        session.ended_at = max(now, session.started_at or now)
        uow.session.flush()
    return view(session)


def end_room(uow, lesson, at):
    """The lesson completed: its session ends, if it has not."""
    if lesson is None:
        return
    session = uow.session.scalars(select(VideoSession).where(VideoSession.lesson_id == lesson.lesson_id)
                                  .with_for_update()).first()
    if session is not None and session.ended_at is None:
        session.ended_at = max(at, session.started_at or at)
        uow.session.flush()


def end_past_rooms(uow, now, limit=100):
    """Sessions whose lesson's time has passed end at the lesson's end."""
    rows = uow.session.execute(select(VideoSession, LessonSchedule.ends_at).join(
        LessonSchedule, LessonSchedule.lesson_id == VideoSession.lesson_id).where(
        VideoSession.ended_at.is_(None), LessonSchedule.ends_at < now).limit(limit)
        .with_for_update(of=VideoSession, skip_locked=True)).all()
    for session, ends_at in rows:
        session.ended_at = max(ends_at, session.started_at or ends_at)
    uow.session.flush()
    return len(rows)


def for_lessons(session, user_id, lesson_ids):
    """{lesson id: view or None}; only the lesson's participants see it."""
    rows = session.execute(select(VideoSession, LessonSchedule).join(
        LessonSchedule, LessonSchedule.lesson_id == VideoSession.lesson_id).where(
        VideoSession.lesson_id.in_(lesson_ids))).all()
    seen = {str(s.lesson_id): view(s) for s, lesson in rows if schedule.party_of(lesson, user_id)}
    return {str(i): seen.get(str(i)) for i in lesson_ids}


def view(session):
    return {"id": str(session.id), "lesson_id": str(session.lesson_id), "meeting_url": session.meeting_url,
            "started_at": session.started_at.isoformat() if session.started_at else None,
            "ended_at": session.ended_at.isoformat() if session.ended_at else None,
            "recording_url": session.recording_url}


# The provider's recording callback, signed as Stripe signs its webhooks:
# ``X-Video-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

def signature(secret, timestamp, body):
    return hmac.new(secret.encode(), "{}.".format(timestamp).encode() + body, hashlib.sha256).hexdigest()


def check_signature(header, body, secret, now=None, tolerance=CALLBACK_TOLERANCE_SECONDS):
    """Refused unless ``header`` signs ``body`` with ``secret`` within the tolerance."""
    if not secret:
        raise Refused(503, "recording callbacks are not configured (VIDEO_CALLBACK_SECRET)")
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise Refused(400, "bad or missing X-Video-Signature") from None
    if abs((now or time.time()) - timestamp) > tolerance:
        raise Refused(400, "bad or missing X-Video-Signature")
    if not hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", "")):
        raise Refused(400, "bad or missing X-Video-Signature")


def verified_recording(request, secret):
    """The callback's {room, recording_url}, from a signed request."""
    if (request.content_length or 0) > MAX_CALLBACK_BYTES:
        raise Refused(413, "too large for a recording callback")
    body = request.get_data(cache=False)
    check_signature(request.headers.get("X-Video-Signature"), body, secret)
    try:
        payload = json.loads(body)
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    return load(RecordingCallbackSchema(), payload)


def save_recording(uow, data):
    session = uow.session.scalars(select(VideoSession).where(VideoSession.room == data["room"])
                                  .with_for_update()).first()
    if session is None:
        raise NotFound("no such room", {"room": ["Unknown room."]})
    session.recording_url = data["recording_url"]
    uow.session.flush()
    return view(session)
