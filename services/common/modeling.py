"""Column helpers every service's models use, so the conventions (UUID keys,
UTC timestamps, PostgreSQL enums, money as cents plus currency) read the
same everywhere. Helpers only: no table is defined here."""
import uuid

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Enum, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import mapped_column


def pg_enum(cls, name):
    """A PostgreSQL enum holding the Python enum's values."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


def uuid_pk():
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def user_ref(nullable=False, **kwargs):
    """A user id from identity: a plain UUID, never a foreign key, because
    users live in another database."""
    return mapped_column(UUID(as_uuid=True), nullable=nullable, **kwargs)


def created_at():
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at():
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now())


def currency_check(table):
    return CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_{}_currency".format(table))


def money_column(nullable=False):
    """An amount in integer minor units (cents) of the row's ``currency``."""
    return mapped_column(BigInteger, nullable=nullable)


def currency_column():
    """An ISO 4217 code; pair it with ``currency_check`` in ``__table_args__``."""
    return mapped_column(String(3), nullable=False, default="USD", server_default="USD")
