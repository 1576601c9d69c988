"""Analytics service entrypoints."""
from nameko.dependency_providers import Config

from services.analytics import event_log
from services.analytics.models import Base, FailedEvent, InboxEvent
from services.common.db import ServiceDatabase
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, follows


class AnalyticsService(HealthRpc, DeadLetterRpc):
    name = "analytics"

    db = ServiceDatabase("analytics", Base)
    config = Config()
    inbox = Inbox(InboxEvent, FailedEvent, event_log.HANDLERS)

    @follows("identity", "user_created")
    def on_user_created(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_updated")
    def on_user_updated(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_deactivated")
    def on_user_deactivated(self, envelope):
        self.inbox.handle("identity", envelope)
