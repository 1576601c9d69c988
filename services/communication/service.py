"""Communication service entrypoints."""
from nameko.dependency_providers import Config

from services.common.db import ServiceDatabase
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, follows
from services.communication import welcome
from services.communication.models import Base, FailedEvent, InboxEvent


class CommunicationService(HealthRpc, DeadLetterRpc):
    name = "communication"

    db = ServiceDatabase("communication", Base)
    config = Config()
    inbox = Inbox(InboxEvent, FailedEvent, welcome.HANDLERS)

    @follows("identity", "user_created")
    def on_user_created(self, envelope):
        self.inbox.handle("identity", envelope)
