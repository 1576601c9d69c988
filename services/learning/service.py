"""Learning service entrypoints."""
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy, rpc

from services.common.auth import issue_service_token
from services.common.db import ServiceDatabase
from services.common.health import health_report
from services.common.inbox import DeadLetterRpc, Inbox, follows
from services.common.outbox import Outbox
from services.learning import user_copies
from services.learning.models import Base, FailedEvent, InboxEvent, OutboxEvent


class LearningService(DeadLetterRpc):
    name = "learning"

    db = ServiceDatabase("learning", Base)
    config = Config()
    outbox = Outbox(OutboxEvent)
    inbox = Inbox(InboxEvent, FailedEvent, user_copies.HANDLERS)
    identity = RpcProxy("identity")

    @rpc
    def health(self):
        return health_report(self.name, self.db.session, self.config)

    @follows("identity", "user_created")
    def on_user_created(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_updated")
    def on_user_updated(self, envelope):
        self.inbox.handle("identity", envelope)

    @follows("identity", "user_deactivated")
    def on_user_deactivated(self, envelope):
        self.inbox.handle("identity", envelope)

    @rpc
    def resync_users(self):
        """Repair the user copies from identity (an operator's tool)."""
        def page(cursor, limit):
            return self.identity.list_users(issue_service_token(self.name), cursor=cursor, limit=limit)
        return user_copies.resync(self.db.session, page)
