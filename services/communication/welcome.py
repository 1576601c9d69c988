"""The welcome notification each new user gets."""
from services.common.inbox import DeadLetter
from services.communication.models import Notification


def user_created(session, envelope):
    data = envelope["data"]
    if envelope["version"] != 1 or "user_id" not in data:
        raise DeadLetter("unsupported user_created event")
    name = str(data.get("first_name") or "there")[:100]
    session.add(Notification(
        user_id=data["user_id"], type="welcome", title="Welcome to the tutoring marketplace",
        content="Hi {}, your account is ready. Find a tutor and book your first lesson.".format(name),
        source_event_id=envelope["event_id"]))


HANDLERS = {"identity.user_created": user_created}
