"""Every RPC is authorised (docs/architecture.md, "Identity on RPC"): each
``@rpc`` entrypoint of every service, those its mixins bring included
(HealthRpc, DeadLetterRpc), either checks the caller's token, its first
argument, with ``self.auth.require...`` (in its own body or a helper method
it calls on ``self``), or is marked ``@public("why")`` on purpose
(services/common/access.py)."""
import ast
import inspect
import textwrap

import pytest
from nameko.rpc import Rpc, rpc

from services.common.access import public, public_reason
from services.common.auth import Auth
from services.common.config import SERVICES
from services.common.health import HealthRpc
from services.common.inbox import DeadLetterRpc
from services.common.mail import DeadMailRpc
from tests.architecture.test_service_shape import service_class


def rpc_entrypoints(cls):
    """{name: function} of every ``@rpc`` method of ``cls`` and its bases."""
    found = {}
    for name in dir(cls):
        method = getattr(cls, name, None)
        if any(isinstance(e, Rpc) for e in getattr(method, "nameko_entrypoints", ())):
            found[name] = method
    return found


def _is_auth_require(call):
    """``self.auth.require(...)``, ``self.auth.require_self_or_admin(...)``."""
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr.startswith("require")
            and isinstance(func.value, ast.Attribute) and func.value.attr == "auth"
            and isinstance(func.value.value, ast.Name) and func.value.value.id == "self")


def _self_calls(tree):
    """Names of the methods a body calls on ``self`` (``self._move_lesson(...)``)."""
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"}


def _body(function):
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def checks_token(cls, function, seen=None):
    """Whether ``function`` calls ``self.auth.require...``, itself or through
    the methods of ``cls`` it calls on ``self``."""
    seen = set() if seen is None else seen
    if function in seen:
        return False
    seen.add(function)
    tree = _body(function)
    if any(isinstance(node, ast.Call) and _is_auth_require(node) for node in ast.walk(tree)):
        return True
    helpers = (getattr(cls, name, None) for name in _self_calls(tree))
    return any(checks_token(cls, helper, seen) for helper in helpers if inspect.isfunction(helper))


def unauthorised(cls):
    """What is wrong with each entrypoint of ``cls`` that is not authorised."""
    problems = []
    for name, method in sorted(rpc_entrypoints(cls).items()):
        reason = public_reason(method)
        if reason is not None:
            if checks_token(cls, method):
                problems.append("{}: marked public, yet checks a token".format(name))
            continue
        if not checks_token(cls, method):
            problems.append("{}: neither checks a token (self.auth.require...) nor is @public(reason)".format(name))
            continue
        params = list(inspect.signature(method).parameters)
        if params[1:2] != ["token"]:
            problems.append("{}: checks a token, but its first argument is {}, not token".format(
                name, params[1] if len(params) > 1 else "missing"))
        if not isinstance(getattr(cls, "auth", None), Auth):
            problems.append("{}: checks a token, but {} has no auth = Auth()".format(name, cls.__name__))
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_every_rpc_checks_a_token_or_is_public_on_purpose(service):
    problems = unauthorised(service_class(service))
    assert not problems, "{}: {}".format(service, "; ".join(problems))


def test_mixins_are_listed_with_each_service():
    for service in SERVICES:
        names = set(rpc_entrypoints(service_class(service)))
        assert {"health", "ping"} <= names, service
        if issubclass(service_class(service), DeadLetterRpc):
            assert {"dead_letters", "dead_letter", "replay_dead_letter"} <= names, service
        if issubclass(service_class(service), DeadMailRpc):
            assert {"dead_mails", "retry_mail"} <= names, service


@pytest.mark.parametrize("service, name", [
    ("learning", "dead_letters"), ("learning", "dead_letter"), ("learning", "replay_dead_letter"),
    ("analytics", "dead_letters"), ("communication", "replay_dead_letter"),
    ("learning", "resync_users"), ("learning", "enrolled_courses"), ("learning", "lessons_for_users"),
    ("identity", "find_user_by_email"), ("identity", "list_users"),
    ("identity", "dead_mails"), ("identity", "retry_mail"), ("communication", "dead_mails"),
])
def test_operator_and_private_entrypoints_are_not_public(service, name):
    method = rpc_entrypoints(service_class(service))[name]
    assert public_reason(method) is None and checks_token(service_class(service), method)


def test_the_check_can_fire():
    """A planted service with one entrypoint of each kind: the check names
    exactly the ones it must."""
    class Planted(HealthRpc, DeadLetterRpc):
        name = "planted"
        auth = Auth()

        @rpc
        def leaky(self, user_id):  # reads private data, takes no token
            return {"user_id": user_id}

        @rpc
        def checked(self, token, user_id):
            self.auth.require(token, {"admin"})

        @rpc
        def via_helper(self, token):
            return self._mine(token)

        def _mine(self, token):
            return self.auth.require_self_or_admin(token, "42")

        @rpc
        def token_second(self, user_id, token):
            self.auth.require(token)

        @rpc
        @public("a probe")
        def probe(self):
            return "ok"

        @rpc
        @public("says public, but checks a token anyway")
        def confused(self, token):
            self.auth.require(token)

    assert unauthorised(Planted) == [
        "confused: marked public, yet checks a token",
        "leaky: neither checks a token (self.auth.require...) nor is @public(reason)",
        "token_second: checks a token, but its first argument is user_id, not token",
    ]
    del Planted.auth  # the dead-letter mixin then has nothing to check tokens with
    assert "dead_letters: checks a token, but Planted has no auth = Auth()" in unauthorised(Planted)


def test_a_reason_is_required():
    with pytest.raises(TypeError):
        public("  ")
    with pytest.raises(TypeError):
        public(None)
