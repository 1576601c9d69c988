"""Every service's history runs forward, back to base, and forward again,
and its head matches the models exactly."""
import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text

from services.common import migrations, provision
from services.common.config import SERVICES


@pytest.fixture
def scratch(databases, request):
    service = request.param
    settings = databases[service].with_name(databases[service].name + "_mig")
    provision.ensure_service_database(settings)
    yield service, settings
    provision.drop_service_database(settings, drop_role=False)


def tables(url):
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def model_drift(service, url):
    metadata = importlib.import_module("services.{}.models".format(service)).Base.metadata
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("scratch", SERVICES, indirect=True)
def test_upgrade_downgrade_upgrade(scratch):
    service, settings = scratch
    own = set(importlib.import_module("services.{}.models".format(service)).Base.metadata.tables)

    migrations.upgrade(service, url=settings.url)
    assert tables(settings.url) == own | {"alembic_version"}
    assert migrations.current(service, url=settings.url) is not None

    migrations.downgrade(service, "base", url=settings.url)
    assert tables(settings.url) == {"alembic_version"}
    assert migrations.current(service, url=settings.url) is None

    migrations.upgrade(service, url=settings.url)
    assert tables(settings.url) == own | {"alembic_version"}
    assert model_drift(service, settings.url) == []


@pytest.mark.parametrize("scratch", ["learning"], indirect=True)
def test_learning_0004_normalises_subjects_and_languages(scratch):
    """Run as the service's own role (no superuser): pg_trgm is created and
    rows written under the old rules are folded into the new form."""
    service, settings = scratch
    migrations.upgrade(service, "0003", url=settings.url)
    engine = create_engine(settings.url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tutors (id, user_id, email, name, subjects, languages) VALUES "
                              "(gen_random_uuid(), gen_random_uuid(), 'a@example.com', 'A', "
                              ":s, :l)"), {"s": ["  Maths ", "maths", "Computer  Science"],
                                            "l": ["en", "pt-br", "EN", "eng"]})
        migrations.upgrade(service, url=settings.url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT subjects, languages FROM tutors")).one() == \
                (["maths", "computer science"], ["en", "pt-BR", "eng"])
            assert conn.execute(text("SELECT similarity('maths', 'mathz')")).scalar() == 0.5
    finally:
        engine.dispose()
