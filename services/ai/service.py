"""AI service entrypoints."""
from nameko.dependency_providers import Config

from services.ai.models import Base
from services.common.db import ServiceDatabase
from services.common.health import HealthRpc


class AiService(HealthRpc):
    name = "ai"

    db = ServiceDatabase("ai", Base)
    config = Config()

