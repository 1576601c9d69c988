"""The events analytics publishes: none yet. Reviews and metrics will add
theirs here, each with its schema and version (docs/events.md)."""
from services.common.contracts import Published

PUBLISHED = Published("analytics")
