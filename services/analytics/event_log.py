"""Analytics' record of identity's user events: log every one it receives
and open a ``user_metrics`` row for each new user."""
from marshmallow import Schema, fields
from sqlalchemy.dialects.postgresql import insert

from services.analytics.models import AnalyticsEvent, UserMetrics


class UserEvent(Schema):
    """What analytics reads of identity's user events, version 1
    (docs/events.md); the rest of the data is logged as published."""
    user_id = fields.UUID(required=True)


def log_event(uow, event):
    uow.session.execute(insert(AnalyticsEvent).values(
        event_id=event.event_id, user_id=event.data["user_id"], event_type=event.event_type,
        event_metadata={"producer": event.producer, "version": event.version, "data": event.raw_data},
        timestamp=event.occurred_at).on_conflict_do_nothing(index_elements=["event_id"]))


def open_metrics(uow, user_id):
    uow.session.execute(insert(UserMetrics).values(user_id=user_id)
                        .on_conflict_do_nothing(index_elements=["user_id"]))
