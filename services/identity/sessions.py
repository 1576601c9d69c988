"""Credentials: login, refresh rotation, logout, email verification and
password reset. Each function stages its changes in the caller's unit of
work; the entrypoint commits."""
from services.common.auth import ACCESS_TOKEN_TTL, issue_access_token
from services.common.errors import Forbidden, Unauthenticated
from services.identity import mails, tokens
from services.identity.models import TokenType, User, UserStatus
from services.identity.passwords import hash_password, needs_rehash, refuse_if_weak, verify_password
from services.identity.users import as_self, user_by_email, user_view

WRONG_CREDENTIALS = "wrong email or password"


def _token_pair(session, user, session_id):
    return {"access_token": issue_access_token(user.id, user.role.value, session_id),
            "refresh_token": tokens.issue(session, user.id, TokenType.refresh, session_id),
            "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL}


def _must_be_active(user):
    if user.status != UserStatus.active:
        raise Forbidden("this account is {}".format(user.status.value))


def login(uow, email, password):
    session = uow.session
    user = user_by_email(session, email)
    # One message, and the same argon2 work, whether or not the email exists:
    # the answer must not tell who has an account.
    if not verify_password(user.password_hash if user else None, password):
        raise Unauthenticated(WRONG_CREDENTIALS)
    # An address nobody has shown to be theirs signs in to nothing, with the
    # same answer as a wrong password, after the same work: otherwise
    # registering an address and signing in would tell whether it was taken.
    if user.email_verified_at is None:
        raise Unauthenticated(WRONG_CREDENTIALS)
    _must_be_active(user)
    if needs_rehash(user.password_hash):  # the cost parameters were raised since
        user.password_hash = hash_password(password)
    user_session = tokens.start_session(session, user.id)
    return dict(_token_pair(session, user, user_session.session_id), user=user_view(user, as_self(user)))


def refresh(uow, raw):
    """Rotate: the refresh token is spent and a new pair issued. A spent one
    presented again means two parties hold it, so the session is revoked.

    Returns (token pair, None), or (None, error) when the call is refused
    but its revocation must still be committed before the error is raised.
    """
    session = uow.session
    user_session = tokens.lock_session_of_refresh_token(session, raw)
    token = tokens.claim(session, raw, TokenType.refresh) if user_session else None
    if token is None:
        raise Unauthenticated("the refresh token is invalid")
    if not tokens.session_is_live(user_session) or token.expires_at <= tokens.now():
        raise Unauthenticated("the session has expired or was ended")
    if token.used_at is not None:
        tokens.revoke_session(uow, user_session.session_id)
        return None, Unauthenticated("the refresh token was already used; the session has been ended")
    user = session.get(User, token.user_id)
    _must_be_active(user)
    token.used_at = tokens.now()
    # The user as login gives it, so an app that refreshes on start-up has its
    # account in the same answer (docs/graphql.md, "Sessions").
    pair = dict(_token_pair(session, user, user_session.session_id), user=user_view(user, as_self(user)))
    return pair, None


def logout(uow, principal):
    """Ends the caller's session and spends its refresh tokens. Its access
    tokens are refused from the commit on: at once by identity, and by the
    other services once ``session_revoked`` reaches them (tokens._revoke)."""
    if principal.is_service:
        raise Forbidden("a service token has no session to end")
    session_id = tokens.parse_session_id(principal.session_id)
    if session_id is None:
        raise Unauthenticated("the access token names no session")
    tokens.revoke_session(uow, session_id)


def _spend(session, raw, kind):
    """Spend a single-use token; returns its user, locked first, as
    update_user locks it before voiding the user's tokens."""
    user = tokens.lock_owner(session, raw, kind)
    tokens.spend(session, raw, kind)
    return user


def verify_email(uow, raw):
    user = _spend(uow.session, raw, TokenType.email_verification)
    user.email_verified_at = user.email_verified_at or tokens.now()


def request_password_reset(uow, email, app_url):
    """Mail a reset link to the account with this email; nothing when there
    is none. The caller answers the same either way."""
    user = user_by_email(uow.session, email)
    if user is None:
        return
    mails.queue_password_reset(uow.session, app_url, user, tokens.issue(uow.session, user.id,
                                                                        TokenType.password_reset))


def reset_password(uow, raw, new_password):
    """Single use; spends the user's other reset links and ends every session,
    since whoever had the old password may be logged in. The schema refused
    common passwords; the account's email is known only here. A refused
    password leaves the link unspent: the caller does not commit."""
    session = uow.session
    user = _spend(session, raw, TokenType.password_reset)
    refuse_if_weak(new_password, user.email, "new_password")
    user.password_hash = hash_password(new_password)
    # The link reached this address's mailbox: that verifies it as well
    # (the way back in for someone whose verification mail was lost).
    user.email_verified_at = user.email_verified_at or tokens.now()
    tokens.void_pending(session, user.id, TokenType.password_reset)
    tokens.revoke_all_sessions(uow, user.id)
