"""Stored tokens and sessions: the primitives the credential flows are built on.

Refresh, email-verification and password-reset tokens are random strings
the caller keeps; the table holds only their SHA-256, so a leaked table
gives no usable token. Rows are locked in one order everywhere (user, then
session, then token), so concurrent calls on one account never deadlock.
"""
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, func, select, update

from services.common.errors import Unauthenticated
from services.identity.events import revocation
from services.identity.models import AuthToken, TokenType, User, UserSession

SESSION_TTL = timedelta(days=30)
TTL = {TokenType.refresh: SESSION_TTL, TokenType.email_verification: timedelta(hours=48),
       TokenType.password_reset: timedelta(hours=1)}


def now():
    return datetime.now(timezone.utc)


def token_hash(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(session, user_id, kind, session_id=None):
    """A new random token of ``kind``; returns the raw value, stores its hash."""
    raw = secrets.token_urlsafe(32)
    session.add(AuthToken(user_id=user_id, token_hash=token_hash(raw), type=kind, session_id=session_id,
                          expires_at=now() + TTL[kind]))
    return raw


def claim(session, raw, kind):
    """The token row of this kind, locked; None if unknown."""
    return session.execute(select(AuthToken).where(AuthToken.token_hash == token_hash(raw), AuthToken.type == kind)
                           .with_for_update()).scalar()


def lock_owner(session, raw, kind):
    """The user a token belongs to, locked before the token itself; None if unknown."""
    owner = (select(AuthToken.user_id).where(AuthToken.token_hash == token_hash(raw), AuthToken.type == kind)
             .scalar_subquery())
    return session.execute(select(User).where(User.id == owner).with_for_update(of=User)).unique().scalar()


def spend(session, raw, kind):
    """Use a single-use token once; one message for unknown, used and expired,
    so the answer does not say which."""
    token = claim(session, raw, kind)
    if token is None or token.used_at is not None or token.expires_at <= now():
        raise Unauthenticated("this link is invalid, used or expired")
    token.used_at = now()
    return token


def void_pending(session, user_id, *kinds):
    """Spend every unused token of ``kinds``: e.g. a verification link sent to
    an old address must not verify the new one."""
    session.execute(update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.type.in_(kinds),
                                            AuthToken.used_at.is_(None)).values(used_at=now()))


def start_session(session, user_id):
    user_session = UserSession(user_id=user_id, expires_at=now() + SESSION_TTL)
    session.add(user_session)
    session.flush()  # its id goes into the tokens issued next
    return user_session


def lock_session_of_refresh_token(session, raw):
    """The session a refresh token belongs to, locked before the token itself."""
    owner = (select(AuthToken.session_id)
             .where(AuthToken.token_hash == token_hash(raw), AuthToken.type == TokenType.refresh)
             .scalar_subquery())
    return session.execute(select(UserSession).where(UserSession.session_id == owner).with_for_update()).scalar()


def session_is_live(user_session):
    return user_session.revoked_at is None and user_session.expires_at > now()


# Built once: it runs on every call that carries a user's token.
_sessions = UserSession.__table__.c
_CURRENT_SESSION = select(_sessions.session_id).where(
    _sessions.session_id == bindparam("session_id"), _sessions.user_id == bindparam("user_id"),
    _sessions.revoked_at.is_(None), _sessions.expires_at > func.now())


def session_is_current(connection, session_id, user_id):
    """Identity's ``Auth`` check (services/identity/service.py): an access
    token is good only while its session here is neither revoked nor expired."""
    return connection.execute(_CURRENT_SESSION, {"session_id": session_id, "user_id": user_id}).first() is not None


def revoke_session(uow, session_id):
    """End one session and spend its refresh tokens."""
    _revoke(uow, UserSession.session_id == session_id)


def revoke_all_sessions(uow, user_id):
    _revoke(uow, UserSession.user_id == user_id)


def _revoke(uow, which):
    """The one place sessions end. ``session_revoked`` is staged in the same
    unit of work, so the event exists exactly when the revocation does, and
    the other services refuse the sessions' access tokens once it reaches
    them (services/common/revocations.py)."""
    session = uow.session
    # clock_timestamp(), not the transaction's start: this update may have
    # waited for a refresh that held the row's lock, and the token that
    # refresh issued must fall within revoked_at + ACCESS_TOKEN_TTL.
    revoked = session.execute(update(UserSession).where(which, UserSession.revoked_at.is_(None))
                              .values(revoked_at=func.clock_timestamp())
                              .returning(UserSession.session_id, UserSession.user_id, UserSession.revoked_at)).all()
    if revoked:
        session.execute(update(AuthToken).where(AuthToken.session_id.in_([r.session_id for r in revoked]),
                                                AuthToken.used_at.is_(None)).values(used_at=now()))
    by_user = {}
    for row in revoked:
        by_user.setdefault(row.user_id, []).append(row)
    for user_id, rows in by_user.items():
        uow.emit("session_revoked", revocation(user_id, [r.session_id for r in rows],
                                               max(r.revoked_at for r in rows)))


def parse_session_id(value):
    """The ``sid`` claim of a verified token as a UUID, or None."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
