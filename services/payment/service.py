"""Payment service entrypoints."""
from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.common.db import ServiceDatabase
from services.common.health import health_report
from services.payment.models import Base


class PaymentService:
    name = "payment"

    db = ServiceDatabase("payment", Base)
    config = Config()

    @rpc
    def health(self):
        return health_report(self.name, self.db.session, self.config)
