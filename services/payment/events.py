"""The events payment publishes: none yet. Payments, refunds and payouts will add
theirs here, each with its schema and version (docs/events.md)."""
from services.common.contracts import Published

PUBLISHED = Published("payment")
