"""The broker's permission table (services/common/broker.py) is what the
services declare: each ``@subscribe`` is in ``SUBSCRIPTIONS`` and each call
through an ``RpcProxy`` in ``RPC_CALLS``, no more and no less. A service
that follows a new event, or calls a new method, fails here first (its
binding or its request would be refused by RabbitMQ) until the table says so."""
import ast
import importlib
import inspect
import os

import pytest
from nameko.rpc import RpcProxy

from services.common import broker
from services.common.config import PRINCIPALS, SERVICES
from services.common.inbox import subscriptions_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def service_class(service):
    module = importlib.import_module("services.{}.service".format(service))
    return next(v for v in vars(module).values() if isinstance(v, type) and getattr(v, "name", None) == service)


def declared_subscriptions(service):
    found = {}
    for handler in subscriptions_of(service_class(service)):
        source, event_type = handler.split(".", 1)
        found.setdefault(source, set()).add(event_type)
    return found


def proxies(service):
    """{attribute: target service} for each RpcProxy on the service class."""
    return {name: value.target_service for name, value in inspect.getmembers(service_class(service))
            if isinstance(value, RpcProxy)}


def methods_in(source, attribute):
    """Every ``self.<attribute>.<method>`` in ``source``."""
    return {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == attribute and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "self"}


def methods_called(service, attribute):
    """Every ``self.<attribute>.<method>`` in the service's package."""
    folder = os.path.join(ROOT, "services", service)
    return set().union(*(methods_in(open(os.path.join(folder, name)).read(), attribute)
                         for name in sorted(os.listdir(folder)) if name.endswith(".py")))


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_are_in_the_table(service):
    table = {source: set(types) for source, types in broker.SUBSCRIPTIONS.get(service, {}).items()}
    assert declared_subscriptions(service) == table


@pytest.mark.parametrize("service", SERVICES)
def test_rpc_calls_are_in_the_table(service):
    declared = {}
    for attribute, target in proxies(service).items():
        declared.setdefault(target, set()).update(methods_called(service, attribute))
    table = {target: set(methods) for target, methods in broker.RPC_CALLS.get(service, {}).items()}
    assert declared == table


def test_the_gateway_and_operators_reach_every_service():
    for caller in ("gateway", "operator"):
        assert broker.RPC_CALLS[caller] == {s: broker.ALL for s in SERVICES}


def test_the_table_names_only_known_principals_and_services():
    assert set(broker.RPC_CALLS) <= set(PRINCIPALS) and set(broker.SUBSCRIPTIONS) <= set(SERVICES)
    for calls in broker.RPC_CALLS.values():
        assert set(calls) <= set(SERVICES)
    for follows in broker.SUBSCRIPTIONS.values():
        assert set(follows) <= set(SERVICES)


def test_the_method_check_can_fire():
    source = "class S:\n    def f(self):\n        self.identity.login(1)\n        other.identity.x()\n"
    assert methods_in(source, "identity") == {"login"}
