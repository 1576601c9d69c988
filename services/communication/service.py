"""Communication service entrypoints."""
from nameko.dependency_providers import Config

from services.common import revocations
from services.common.auth import Auth
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc, Inbox, subscribe
from services.common.uow import UnitOfWorkProvider
from services.communication import welcome
from services.communication.events import PUBLISHED
from services.communication.models import Base, RevokedSession


class CommunicationService(HealthRpc, DeadLetterRpc):
    name = "communication"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    inbox = Inbox()
    config = Config()
    auth = Auth()  # the dead-letter entrypoints take an admin's or a service's token

    @subscribe("identity", "user_created", versions={1}, schema=welcome.NewUser)
    def on_user_created(self, uow, event):
        welcome.welcome(uow, event)

    # Sessions identity ended: ``self.auth`` refuses their tokens from then on.

    @subscribe("identity", "session_revoked", **revocations.SESSION_REVOKED)
    def on_session_revoked(self, uow, event):
        revocations.record(uow, RevokedSession, event.data)
