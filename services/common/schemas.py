"""Payload-schema building blocks every service shares (docs/architecture.md,
"Service shape"): the strict base, the partial-update rule, money."""
from datetime import datetime, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

# Cents. 1,000.00 a lesson or an hour is already far above any real rate;
# the database's CHECK constraints allow more, so this is the tighter rule.
MAX_AMOUNT = 100_000

# ``\Z``, not ``$``: ``$`` also matches before a final newline, so "USD\n"
# would pass here and then be refused by the database.
CURRENCY_PATTERN = r"[A-Z]{3}\Z"


class StrictSchema(Schema):
    """Unknown fields are refused, not ignored: a misspelt field is a bug."""
    class Meta:
        unknown = RAISE


class AtLeastOneField(StrictSchema):
    """A partial update: only the fields given change, and there must be one."""

    @validates_schema
    def _at_least_one_field(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


def money_field(required=True, min_amount=0, max_amount=MAX_AMOUNT, **kwargs):
    """An amount in integer minor units (cents); never a float."""
    return fields.Integer(strict=True, required=required,
                          validate=validate.Range(min=min_amount, max=max_amount), **kwargs)


def currency_field(**kwargs):
    """An ISO 4217 code in capitals (USD by default)."""
    kwargs.setdefault("load_default", "USD")
    return fields.String(validate=validate.Regexp(
        CURRENCY_PATTERN, error="Must be a 3-letter ISO currency code in capitals."), **kwargs)


class Trimmed(fields.String):
    """A string with surrounding white space removed before it is checked:
    "en\n" or " maths " pasted into a form is the value the user meant."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class UniqueList(fields.List):
    """A list whose repeats (ignoring case) are dropped, first one kept, so
    ["maths", "Maths"] is stored and searched as one subject."""

    def _deserialize(self, value, attr, data, **kwargs):
        items, seen = [], set()
        for item in super()._deserialize(value, attr, data, **kwargs):
            key = item.casefold() if isinstance(item, str) else item
            if key not in seen:
                seen.add(key)
                items.append(item)
        return items


class UtcDateTime(fields.AwareDateTime):
    """An ISO-8601 time with an offset, loaded as UTC. Times whose UTC value
    would overflow (``0001-01-01T00:30:00+01:00``) or that no lesson, payment
    or report can have are refused as bad input, not left to fail later."""
    EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
    LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = loaded.astimezone(timezone.utc)
        except OverflowError:
            utc = None
        if utc is None or not self.EARLIEST <= utc < self.LATEST:
            raise ValidationError("Must be between {} and {}.".format(self.EARLIEST.year, self.LATEST.year))
        return utc
