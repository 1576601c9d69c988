"""Payment service entrypoints."""
from nameko.dependency_providers import Config

from services.common.db import ServiceDatabase
from services.common.health import HealthRpc
from services.payment.models import Base


class PaymentService(HealthRpc):
    name = "payment"

    db = ServiceDatabase("payment", Base)
    config = Config()

