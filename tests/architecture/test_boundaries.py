"""The layout is the architecture: these tests fail when code crosses a
service boundary that only RPC and events may cross."""
import ast
import importlib
import inspect
import os
import pkgutil

import pytest
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

import services.common
from services.common.config import SERVICES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES_DIR = os.path.join(ROOT, "services")


def imported_modules(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # "from services import learning" names the package in the alias
            yield from ("{}.{}".format(node.module, alias.name) for alias in node.names)


def python_files(package_dir):
    for folder, _, files in os.walk(package_dir):
        yield from (os.path.join(folder, f) for f in files if f.endswith(".py"))


def service_packages_imported(path):
    found = set()
    for module in imported_modules(path):
        parts = module.split(".")
        if parts[0] == "services" and len(parts) > 1:
            found.add(parts[1])
    return found


def test_every_service_has_a_package_of_its_own():
    packages = {d for d in os.listdir(SERVICES_DIR) if os.path.isfile(os.path.join(SERVICES_DIR, d, "__init__.py"))}
    assert packages == set(SERVICES) | {"common"}


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_no_other_service(service):
    offences = []
    for path in python_files(os.path.join(SERVICES_DIR, service)):
        for other in service_packages_imported(path) - {service, "common"}:
            offences.append("{} imports services.{}".format(os.path.relpath(path, ROOT), other))
    assert not offences, offences


def test_common_imports_no_service():
    offences = ["{} imports services.{}".format(os.path.relpath(p, ROOT), s)
                for p in python_files(os.path.join(SERVICES_DIR, "common"))
                for s in service_packages_imported(p) - {"common"}]
    assert not offences, offences


def test_the_import_check_can_fire(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import services.learning.models\nfrom services import payment\n")
    assert service_packages_imported(str(bad)) == {"learning", "payment"}


def test_common_holds_no_tables():
    """No declarative base, Table or populated MetaData is defined in common;
    the outbox/inbox shapes there are mixins each service maps itself."""
    found = []
    for info in pkgutil.walk_packages(services.common.__path__, "services.common."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if getattr(value, "__module__", module.__name__) != module.__name__:
                continue  # imported from elsewhere, e.g. nameko-sqlalchemy
            if inspect.isclass(value) and issubclass(value, DeclarativeBase) and value is not DeclarativeBase:
                found.append("{}.{} is a declarative base".format(info.name, name))
            if inspect.isclass(value) and getattr(value, "__tablename__", None):
                found.append("{}.{} maps a table".format(info.name, name))
            if isinstance(value, Table) or (isinstance(value, MetaData) and value.tables):
                found.append("{}.{} holds tables".format(info.name, name))
    assert not found, found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_own_base_and_migrations(service):
    models = importlib.import_module("services.{}.models".format(service))
    assert issubclass(models.Base, DeclarativeBase)
    assert models.Base.metadata.tables, "{} defines no tables".format(service)
    for other in SERVICES:
        if other != service:
            other_base = importlib.import_module("services.{}.models".format(other)).Base
            assert models.Base is not other_base
    assert os.path.isfile(os.path.join(SERVICES_DIR, service, "migrations", "env.py"))
    assert os.path.isfile(os.path.join(ROOT, "config", service + ".yaml"))


def test_gateway_reaches_services_only_by_rpc():
    """The gateway may use the shared contracts in services.common (errors,
    token checking, config) but no service's package: no models, no database."""
    offences = ["{} imports services.{}".format(os.path.relpath(p, ROOT), s)
                for p in python_files(os.path.join(ROOT, "api_gateway"))
                for s in service_packages_imported(p) - {"common"}]
    assert not offences, offences
    for path in python_files(os.path.join(ROOT, "api_gateway")):
        source = open(path).read()
        assert "sqlalchemy" not in source and "psycopg2" not in source, path
