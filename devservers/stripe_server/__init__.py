"""A local Stripe-compatible server (Connect, PaymentIntents, refunds, payouts, webhooks).

A development and test component, not a Stripe replacement: docs/stripe-local.md.
"""
from .app import StripeApp  # noqa: F401
from .store import Store  # noqa: F401
from .workers import sign  # noqa: F401
