"""Ai service entrypoints."""
from nameko.dependency_providers import Config

from services.ai.events import PUBLISHED
from services.ai.models import Base
from services.common.health import HealthRpc
from services.common.uow import UnitOfWorkProvider


class AiService(HealthRpc):
    name = "ai"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    config = Config()
