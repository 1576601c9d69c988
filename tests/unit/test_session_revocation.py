"""A token must not outlive its session, without a broker or database: the
session check in ``Authenticator``, what ``Auth`` wires up, and the
``session_revoked`` payload as identity writes it and a consumer reads it."""
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import DeclarativeBase

from services.common.auth import (ACCESS_TOKEN_TTL, SESSION_ENDED, Auth, Authenticator, issue_access_token,
                                  issue_service_token)
from services.common.errors import Forbidden, Unauthenticated
from services.common.eventstore import event_store_models
from services.common.revocations import SessionRevoked
from services.common.uow import UnitOfWorkProvider
from services.identity.events import PUBLISHED, revocation
from services.learning.models import Base as LearningBase
from tests.token_keys import UnitKeys

KEYS = UnitKeys()


class Sessions:
    """A stand-in for the database: the ended sessions, and who was asked."""

    def __init__(self, *ended):
        self.ended, self.asked = set(ended), []

    def __call__(self, session_id, user_id):
        self.asked.append((session_id, user_id))
        return session_id not in self.ended


def token(session_id, role="student", user_id=None):
    return issue_access_token(user_id or uuid.uuid4(), role, session_id, key=KEYS["identity"])


def test_a_token_of_an_ended_session_is_refused():
    ended, live = uuid.uuid4(), uuid.uuid4()
    sessions = Sessions(ended)
    auth = Authenticator(KEYS.ring, sessions)
    with pytest.raises(Unauthenticated, match=SESSION_ENDED):
        auth.require(token(ended))
    user_id = uuid.uuid4()
    assert auth.require(token(live, user_id=user_id)).user_id == str(user_id)
    assert sessions.asked[-1] == (live, user_id)  # as UUIDs, ready for the query


def test_an_ended_session_is_unauthenticated_before_its_role_is_forbidden():
    ended = uuid.uuid4()
    auth = Authenticator(KEYS.ring, Sessions(ended))
    with pytest.raises(Unauthenticated):
        auth.require(token(ended, "student"), {"admin"})
    with pytest.raises(Forbidden):
        auth.require(token(uuid.uuid4(), "student"), {"admin"})
    with pytest.raises(Unauthenticated):
        auth.require_self_or_admin(token(ended, "admin"), uuid.uuid4())


def test_a_user_token_without_a_session_is_refused_unasked():
    sessions = Sessions()
    auth = Authenticator(KEYS.ring, sessions)
    for sid in (None, "not-a-uuid"):
        with pytest.raises(Unauthenticated, match="names no session"):
            auth.require(token(sid))
    assert sessions.asked == []


def test_service_tokens_have_no_session_to_check():
    sessions = Sessions()
    principal = Authenticator(KEYS.ring, sessions).require(issue_service_token("learning", key=KEYS["learning"]))
    assert principal.is_service and sessions.asked == []


def test_without_a_check_the_signature_alone_decides():
    assert Authenticator(KEYS.ring).require(token(uuid.uuid4())).role == "student"


def test_the_event_names_until_when_tokens_of_the_sessions_could_verify():
    user_id, sessions = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    revoked_at = datetime(2026, 11, 25, 11, 15, 2, 123456, tzinfo=timezone(timedelta(hours=1)))
    data = revocation(user_id, sessions, revoked_at)
    assert data == {"user_id": str(user_id), "session_ids": [str(s) for s in sessions],
                    "revoked_at": "2026-11-25T10:15:02.123456+00:00",  # in UTC, as docs/events.md says
                    "until": "2026-11-25T10:30:02.123456+00:00"}
    assert ACCESS_TOKEN_TTL == 900
    assert PUBLISHED.check("session_revoked", data) == 1


def test_the_contract_refuses_an_empty_revocation():
    from services.common.contracts import ContractViolation
    data = revocation(uuid.uuid4(), [], datetime.now(timezone.utc))
    with pytest.raises(ContractViolation):
        PUBLISHED.check("session_revoked", data)


def test_consumers_read_what_identity_writes():
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    revoked_at = datetime.now(timezone.utc)
    read = SessionRevoked().load(dict(revocation(user_id, [session_id], revoked_at), added_later="ignored"),
                                 unknown="exclude")
    assert read == {"user_id": user_id, "session_ids": [session_id], "revoked_at": revoked_at,
                    "until": revoked_at + timedelta(seconds=ACCESS_TOKEN_TTL)}


def wired(base):
    """An ``Auth`` bound to a service whose unit of work maps ``base``."""
    provider = UnitOfWorkProvider(base)
    provider.engine = SimpleNamespace(connect=lambda: pytest.fail("no query while wiring"))
    auth = Auth()
    auth.container = SimpleNamespace(dependencies=[provider], service_name="payment")
    auth.keys = KEYS.ring  # what setup() reads from AUTH_PUBLIC_KEYS
    return auth


def test_a_service_that_checks_tokens_without_the_table_does_not_start():
    class Base(DeclarativeBase):
        pass
    event_store_models(Base)
    with pytest.raises(TypeError, match="payment checks tokens but maps no revoked_sessions table"):
        wired(Base).start()


def test_auth_uses_the_services_revoked_sessions():
    auth = wired(LearningBase)
    auth.start()
    assert callable(auth.get_dependency(None).session_live)
