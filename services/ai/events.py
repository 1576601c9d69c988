"""The events ai publishes: none yet. Recommendations and learning paths will add
theirs here, each with its schema and version (docs/events.md)."""
from services.common.contracts import Published

PUBLISHED = Published("ai")
