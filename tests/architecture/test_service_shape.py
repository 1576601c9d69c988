"""Every service has the same shape (docs/architecture.md, "Service shape"):
entrypoints in service.py, published contracts in events.py, domain modules
that take a unit of work and never commit, subscriptions declared once."""
import ast
import importlib
import os

import pytest

from services.common.config import SERVICES
from services.common.contracts import Published
from services.common.inbox import Inbox, subscriptions_of
from services.common.uow import UnitOfWorkProvider

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where a transaction may end: entrypoints, operator scripts, and the
# shared machinery that runs units of work for them.
MAY_COMMIT = {"service.py", "manage.py"}


def domain_modules(service):
    folder = os.path.join(ROOT, "services", service)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.endswith(".py") and f not in MAY_COMMIT | {"__init__.py"}]


def commits_in(path):
    """Lines that call ``.commit()`` or ``.rollback()`` on anything."""
    tree = ast.parse(open(path).read(), path)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback")]


@pytest.mark.parametrize("service", SERVICES)
def test_domain_modules_never_commit(service):
    offences = ["{}:{}".format(os.path.relpath(p, ROOT), line)
                for p in domain_modules(service) for line in commits_in(p)]
    assert not offences, "domain modules take a unit of work; the entrypoint commits: {}".format(offences)


def test_the_commit_check_can_fire(tmp_path):
    bad = tmp_path / "lessons.py"
    bad.write_text("def book(uow):\n    uow.session.commit()\n")
    assert commits_in(str(bad)) == [2]


def service_class(service):
    module = importlib.import_module("services.{}.service".format(service))
    return next(v for v in vars(module).values() if isinstance(v, type) and getattr(v, "name", None) == service)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_declares_its_published_events(service):
    events = importlib.import_module("services.{}.events".format(service))
    assert isinstance(events.PUBLISHED, Published) and events.PUBLISHED.producer == service
    cls = service_class(service)
    assert isinstance(cls.uow, UnitOfWorkProvider), "{} has no unit of work".format(service)
    assert cls.uow.published is events.PUBLISHED


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_are_declared_once_with_an_inbox(service):
    cls = service_class(service)
    subscriptions = subscriptions_of(cls)  # raises on a second handler for one event
    if subscriptions:
        assert isinstance(getattr(cls, "inbox", None), Inbox), "{} subscribes without an inbox".format(service)
    for name, method in subscriptions.items():
        subscription = getattr(cls, method).subscription
        assert subscription.versions, "{} names no version it understands".format(name)
        assert subscription.schema is not None, "{} declares no shape for its data".format(name)
