"""Each service's role reaches its own database and no other."""
import importlib
import itertools

import pytest
from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.exc import OperationalError

from services.common.config import SERVICES

EVENT_STORE = {"outbox", "inbox", "failed_events", "alembic_version"}
# Tables of one shape that several services map on their own bases
# (services/common/eventstore.py, services/common/revocations.py, services/common/mail.py).
SHARED_SHAPES = EVENT_STORE | {"revoked_sessions", "mail_outbox"}

PAIRS = [p for p in itertools.product(SERVICES, SERVICES) if p[0] != p[1]]


def connect(settings, database_name):
    engine = create_engine(settings.with_name(database_name).url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT current_user, current_database()")).one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_service_role_reaches_its_own_database(databases, service):
    st = databases[service]
    assert tuple(connect(st, st.name)) == (st.user, st.name)


@pytest.mark.parametrize("intruder,owner", PAIRS, ids=["{}->{}".format(a, b) for a, b in PAIRS])
def test_service_role_is_refused_by_other_databases(databases, intruder, owner):
    with pytest.raises(OperationalError, match="permission denied for database"):
        connect(databases[intruder], databases[owner].name)


@pytest.mark.parametrize("service", SERVICES)
def test_database_holds_only_its_own_tables(databases, service):
    st = databases[service]
    engine = create_engine(st.url, poolclass=pool.NullPool)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    own = set(importlib.import_module("services.{}.models".format(service)).Base.metadata.tables)
    assert tables == own | {"alembic_version"}
    assert EVENT_STORE <= tables
    for other in SERVICES:
        if other != service:
            theirs = set(importlib.import_module("services.{}.models".format(other)).Base.metadata.tables)
            assert not (tables & (theirs - SHARED_SHAPES)), "{} holds {}'s tables".format(service, other)


def test_public_cannot_connect(databases):
    """CONNECT is granted to the owner role only, not to PUBLIC."""
    st = databases["identity"]
    engine = create_engine(st.url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            acl = conn.execute(text("SELECT datacl::text FROM pg_database WHERE datname = :d"),
                               {"d": st.name}).scalar()
    finally:
        engine.dispose()
    grants = acl.strip("{}").split(",")
    assert not any(g.startswith("=") for g in grants), acl  # '=' with no role is PUBLIC
    assert any(g.startswith(st.user + "=") and "c" in g.split("=")[1] for g in grants), acl
