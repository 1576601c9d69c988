"""Identity service entrypoints."""
from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.common.db import ServiceDatabase
from services.common.health import health_report
from services.identity.models import Base


class IdentityService:
    name = "identity"

    db = ServiceDatabase("identity", Base)
    config = Config()

    @rpc
    def health(self):
        return health_report(self.name, self.db.session, self.config)
