"""Analytics' handling of identity's user events: log every one it receives
and open a ``user_metrics`` row for each new user."""
from sqlalchemy.dialects.postgresql import insert

from services.analytics.models import AnalyticsEvent, UserMetrics


def log_event(session, envelope):
    data = envelope["data"]
    session.execute(insert(AnalyticsEvent).values(
        event_id=envelope["event_id"], user_id=data.get("user_id"), event_type=envelope["event_type"],
        event_metadata={"producer": envelope["producer"], "version": envelope["version"], "data": data},
        timestamp=envelope["occurred_at"]).on_conflict_do_nothing(index_elements=["event_id"]))


def user_created(session, envelope):
    log_event(session, envelope)
    session.execute(insert(UserMetrics).values(user_id=envelope["data"]["user_id"])
                    .on_conflict_do_nothing(index_elements=["user_id"]))


HANDLERS = {
    "identity.user_created": user_created,
    "identity.user_updated": log_event,
    "identity.user_deactivated": log_event,
}
