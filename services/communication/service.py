"""Communication service entrypoints."""
from nameko.dependency_providers import Config

from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.uow import UnitOfWorkProvider
from services.communication import welcome
from services.communication.events import PUBLISHED
from services.communication.models import Base


class CommunicationService(HealthRpc, DeadLetterRpc):
    name = "communication"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()

    @subscribe("identity", "user_created", versions={1}, schema=welcome.NewUser)
    def on_user_created(self, uow, event):
        welcome.welcome(uow, event)
