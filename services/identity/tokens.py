"""Sessions and tokens: login, refresh rotation, logout, email verification
and password reset. Random tokens are stored only as SHA-256 hashes."""
import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from services.common.auth import ACCESS_TOKEN_TTL, issue_access_token
from services.common.errors import Forbidden, Unauthenticated
from services.identity.models import AuthToken, TokenType, User, UserSession, UserStatus
from services.identity.passwords import hash_password, needs_rehash, verify_password
from services.identity.users import as_self, user_by_email, user_view

SESSION_TTL = timedelta(days=30)
TTL = {TokenType.refresh: SESSION_TTL, TokenType.email_verification: timedelta(hours=48),
       TokenType.password_reset: timedelta(hours=1)}


def now():
    return datetime.now(timezone.utc)


def token_hash(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(session, user_id, kind, session_id=None):
    raw = secrets.token_urlsafe(32)
    session.add(AuthToken(user_id=user_id, token_hash=token_hash(raw), type=kind, session_id=session_id,
                          expires_at=now() + TTL[kind]))
    return raw


def _pair(session, user, user_session):
    return {"access_token": issue_access_token(user.id, user.role.value, user_session.session_id),
            "refresh_token": issue(session, user.id, TokenType.refresh, user_session.session_id),
            "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL}


def _must_be_active(user):
    if user.status != UserStatus.active:
        raise Forbidden("this account is {}".format(user.status.value))


def login(session, email, password):
    user = user_by_email(session, email)
    # Same message, and the same argon2 work, whether or not the email exists.
    if not verify_password(user.password_hash if user else None, password):
        raise Unauthenticated("wrong email or password")
    _must_be_active(user)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user_session = UserSession(user_id=user.id, expires_at=now() + SESSION_TTL)
    session.add(user_session)
    session.flush()
    result = dict(_pair(session, user, user_session), user=user_view(user, as_self(user)))
    session.commit()
    return result


def _claim(session, raw, kind):
    """The unexpired token row of this kind, locked; None if unknown."""
    return session.execute(select(AuthToken).where(AuthToken.token_hash == token_hash(raw),
                                                   AuthToken.type == kind).with_for_update()).scalar()


def refresh(session, raw):
    """Rotate: the old refresh token is spent and a new pair issued. Using a
    spent one again means it was stolen: the whole session is revoked."""
    token = _claim(session, raw, TokenType.refresh)
    if token is None:
        raise Unauthenticated("unknown refresh token")
    user_session = session.get(UserSession, token.session_id, with_for_update=True)
    if token.used_at is not None:
        revoke_session(session, user_session)
        session.commit()
        raise Unauthenticated("refresh token already used; the session has been revoked")
    if token.expires_at <= now() or user_session.revoked_at is not None or user_session.expires_at <= now():
        raise Unauthenticated("the session has expired or was revoked")
    user = session.get(User, token.user_id)
    _must_be_active(user)
    token.used_at = now()
    result = _pair(session, user, user_session)
    session.commit()
    return result


def revoke_session(session, user_session):
    if user_session is None:
        return
    user_session.revoked_at = user_session.revoked_at or now()
    session.execute(update(AuthToken).where(AuthToken.session_id == user_session.session_id,
                                            AuthToken.used_at.is_(None)).values(used_at=now()))


def revoke_all_sessions(session, user_id):
    for user_session in session.execute(select(UserSession).where(UserSession.user_id == user_id,
                                                                  UserSession.revoked_at.is_(None))).scalars():
        revoke_session(session, user_session)


def logout(session, principal):
    """Revokes the session and its refresh tokens. The access token itself
    stays valid until it expires (15 minutes): it is checked without a lookup."""
    revoke_session(session, session.get(UserSession, principal.session_id))
    session.commit()


def use_single_use(session, raw, kind):
    token = _claim(session, raw, kind)
    if token is None or token.used_at is not None or token.expires_at <= now():
        raise Unauthenticated("this link is invalid, used or expired")
    token.used_at = now()
    return session.get(User, token.user_id)
