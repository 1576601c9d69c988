"""Payment service entrypoints."""
from nameko.dependency_providers import Config

from services.payment.events import PUBLISHED
from services.payment.models import Base
from services.common.health import HealthRpc
from services.common.uow import UnitOfWorkProvider


class PaymentService(HealthRpc):
    name = "payment"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    config = Config()
