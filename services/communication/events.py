"""The events communication publishes: none yet. Messages and video
sessions will add theirs here, each with its schema and version
(docs/events.md)."""
from services.common.contracts import Published

PUBLISHED = Published("communication")
