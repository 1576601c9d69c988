"""A token must not outlive its session (docs/architecture.md, "Identity on
RPC"): every service that checks tokens also learns of ended sessions.
Identity asks its own user_sessions; every other service that declares
``Auth()`` follows identity's ``session_revoked`` into a ``revoked_sessions``
table of its own (services/common/revocations.py)."""
import importlib

import pytest
from sqlalchemy.orm import DeclarativeBase

from services.common.auth import Auth
from services.common.config import SERVICES
from services.common.eventstore import event_store_models
from services.common.inbox import Inbox, subscribe, subscriptions_of
from services.common.revocations import SESSION_REVOKED, revoked_sessions_model, revoked_sessions_of
from services.common.uow import UnitOfWorkProvider
from tests.architecture.test_service_shape import service_class

SUBSCRIPTION = "identity.session_revoked"


def auth_of(cls):
    found = [getattr(cls, a) for a in dir(cls) if isinstance(getattr(cls, a, None), Auth)]
    return found[0] if found else None


def revocation_gaps(cls):
    """What a service class lacks to refuse the tokens of ended sessions."""
    auth, base = auth_of(cls), cls.uow.declarative_base
    subscriptions = subscriptions_of(cls)
    follows = SUBSCRIPTION in subscriptions
    table = revoked_sessions_of(base) is not None
    if auth is None:
        # A table nobody checks, or one nothing fills, is a mistake either way.
        return ["follows session_revoked but checks no token"] if follows else []
    if auth.session_check is not None:
        return []  # it asks an authority of its own (identity's user_sessions)
    gaps = []
    if not table:
        gaps.append("maps no revoked_sessions table (revocations.revoked_sessions_model)")
    if not follows:
        gaps.append("does not @subscribe to identity's session_revoked")
    else:
        subscription = getattr(cls, subscriptions[SUBSCRIPTION]).subscription
        if 1 not in subscription.versions:
            gaps.append("does not read session_revoked v1")
    if not isinstance(getattr(cls, "inbox", None), Inbox):
        gaps.append("has no inbox")
    return gaps


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_that_checks_tokens_learns_of_ended_sessions(service):
    gaps = revocation_gaps(service_class(service))
    assert not gaps, "{}: {}".format(service, "; ".join(gaps))


def test_identity_checks_its_own_sessions():
    auth = auth_of(service_class("identity"))
    assert auth is not None and auth.session_check is not None
    assert SUBSCRIPTION not in subscriptions_of(service_class("identity"))


def test_the_check_can_fire():
    class Base(DeclarativeBase):
        pass
    event_store_models(Base)

    class Forgetful:  # checks tokens, and nothing tells it of ended sessions
        name = "forgetful"
        uow = UnitOfWorkProvider(Base)
        auth = Auth()

    assert revocation_gaps(Forgetful) == [
        "maps no revoked_sessions table (revocations.revoked_sessions_model)",
        "does not @subscribe to identity's session_revoked", "has no inbox"]


def test_a_service_declaring_the_same_things_passes():
    class Base(DeclarativeBase):
        pass
    event_store_models(Base)
    RevokedSession = revoked_sessions_model(Base)

    class Careful:
        name = "careful"
        uow = UnitOfWorkProvider(Base)
        inbox = Inbox()
        auth = Auth()

        @subscribe("identity", "session_revoked", **SESSION_REVOKED)
        def on_session_revoked(self, uow, event):
            pass

    assert revoked_sessions_of(Base) is RevokedSession
    assert revocation_gaps(Careful) == []
    del Careful.auth  # the table and the subscriber alone: nothing would read them
    assert revocation_gaps(Careful) == ["follows session_revoked but checks no token"]


def test_models_map_the_table_where_the_service_follows_the_event():
    for service in SERVICES:
        follows = SUBSCRIPTION in subscriptions_of(service_class(service))
        base = importlib.import_module("services.{}.models".format(service)).Base
        assert follows == (revoked_sessions_of(base) is not None), service
