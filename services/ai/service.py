"""AI service entrypoints."""
from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.common.db import ServiceDatabase
from services.common.health import health_report
from services.ai.models import Base


class AiService:
    name = "ai"

    db = ServiceDatabase("ai", Base)
    config = Config()

    @rpc
    def health(self):
        return health_report(self.name, self.db.session, self.config)
