"""Analytics service entrypoints."""
from nameko.dependency_providers import Config

from services.analytics import event_log
from services.analytics.events import PUBLISHED
from services.analytics.models import Base, RevokedSession
from services.common import revocations
from services.common.auth import Auth
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.uow import UnitOfWorkProvider

USER_EVENT = {"versions": {1}, "schema": event_log.UserEvent}


class AnalyticsService(HealthRpc, DeadLetterRpc):
    name = "analytics"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()
    auth = Auth()  # the dead-letter entrypoints take an admin's or a service's token

    @subscribe("identity", "user_created", **USER_EVENT)
    def on_user_created(self, uow, event):
        event_log.log_event(uow, event)
        event_log.open_metrics(uow, event.data["user_id"])

    @subscribe("identity", "user_updated", **USER_EVENT)
    def on_user_updated(self, uow, event):
        event_log.log_event(uow, event)

    @subscribe("identity", "user_deactivated", **USER_EVENT)
    def on_user_deactivated(self, uow, event):
        event_log.log_event(uow, event)

    # Sessions identity ended: ``self.auth`` refuses their tokens from then on.

    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)
