"""Published event contracts: what each service promises outside consumers.

A service's ``events.py`` declares one marshmallow schema per event type
and version, collected in a ``Published`` catalogue. ``UnitOfWork.emit``
checks the data against it before the event reaches the outbox, so an event
is always the declared contract and never whatever dict was in scope.
``docs/events.md`` documents the same catalogue; a test keeps them equal.
"""
from dataclasses import dataclass

from marshmallow import RAISE, Schema


class ContractViolation(RuntimeError):
    """An event that does not match its declared contract: a bug in the
    producer, never a user error, so it fails the whole unit of work."""


class EventSchema(Schema):
    """Base of a published event's ``data``: an undeclared key is refused,
    so adding a field to the contract is a deliberate edit here."""
    class Meta:
        unknown = RAISE


@dataclass(frozen=True)
class Contract:
    event_type: str
    version: int
    schema: type


def contract(event_type, version, schema):
    return Contract(event_type, version, schema)


class Published:
    """The catalogue of one producer's events."""

    def __init__(self, producer, *contracts):
        self.producer = producer
        self._by_key = {(c.event_type, c.version): c for c in contracts}
        if len(self._by_key) != len(contracts):
            raise ValueError("an event type and version is declared twice")

    def __iter__(self):
        return iter(sorted(self._by_key.values(), key=lambda c: (c.event_type, c.version)))

    def __bool__(self):
        return bool(self._by_key)

    def latest_version(self, event_type):
        versions = [v for (t, v) in self._by_key if t == event_type]
        if not versions:
            raise ContractViolation("{} declares no event {!r}".format(self.producer, event_type))
        return max(versions)

    def check(self, event_type, data, version=None):
        """The version to publish under; raises ``ContractViolation``."""
        version = self.latest_version(event_type) if version is None else version
        declared = self._by_key.get((event_type, version))
        if declared is None:
            raise ContractViolation("{} declares no event {!r} v{}".format(self.producer, event_type, version))
        errors = declared.schema().validate(data)
        if errors:
            raise ContractViolation("{} v{} does not match its contract: {}".format(event_type, version, errors))
        return version
