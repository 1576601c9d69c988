"""Payment's settings, read once from the service's config (config/payment.yaml)."""
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from services.payment import rules


@dataclass(frozen=True)
class PaymentSettings:
    fee_basis_points: int
    account_country: str
    onboarding_return_url: str
    onboarding_refresh_url: str
    seller: dict
    compensation_message: str = "The booking had expired before the payment arrived, so it was refunded in full."

    @classmethod
    def from_config(cls, config):
        return cls(
            fee_basis_points=rules.fee_basis_points(config.get("PLATFORM_FEE_PERCENT", "15")),
            account_country=config.get("PAYOUT_ACCOUNT_COUNTRY", "US"),
            onboarding_return_url=config.get("PAYOUT_ONBOARDING_RETURN_URL", ""),
            onboarding_refresh_url=config.get("PAYOUT_ONBOARDING_REFRESH_URL", ""),
            seller={"name": config.get("INVOICE_SELLER_NAME", ""),
                    "address": [line.strip() for line in str(config.get("INVOICE_SELLER_ADDRESS", "")).split("|")
                                if line.strip()],
                    "email": config.get("INVOICE_SELLER_EMAIL", ""),
                    "tax_id": config.get("INVOICE_SELLER_TAX_ID", "") or ""})


class Settings(DependencyProvider):
    """``settings = Settings()`` on the service: PaymentSettings from its
    config, checked when it starts (a bad fee stops it there)."""

    def setup(self):
        self.settings = PaymentSettings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
