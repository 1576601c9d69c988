"""Signed tokens: services act for a user only on a verified JWT (docs/architecture.md, "Identity on RPC").

nameko's ``context_data`` is plain AMQP headers that anyone who can publish
can forge, so every RPC that acts for a user takes the caller's access token
as its first argument and checks it here. Identity issues the tokens; every
service verifies them with the shared ``AUTH_JWT_SECRET``, and then asks its
own database whether the token's session has ended since: identity its
``user_sessions``, every other service the ``revoked_sessions`` it keeps from
identity's ``session_revoked`` events (services/common/revocations.py).
"""
import os
import time
import uuid
from dataclasses import dataclass

import jwt
from nameko.extensions import DependencyProvider

from services.common.errors import Forbidden, Unauthenticated

ALGORITHM = "HS256"
ISSUER = "edtech-identity"
ACCESS_TOKEN_TTL = int(os.environ.get("AUTH_ACCESS_TOKEN_TTL", "900"))  # seconds
SERVICE_TOKEN_TTL = 300
SESSION_ENDED = "the session has ended"


def jwt_secret(environ=None):
    env = os.environ if environ is None else environ
    secret = env.get("AUTH_JWT_SECRET", "")
    if len(secret) < 32:  # RFC 7518 §3.2: an HS256 key of at least 256 bits
        raise RuntimeError("AUTH_JWT_SECRET must be set to at least 32 characters "
                           "(scripts/up writes one to .run/secrets.env)")
    return secret


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for: a user, or another service."""
    user_id: str | None
    role: str
    session_id: str | None = None
    service: str | None = None

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def is_service(self):
        return self.role == "service"


def issue_access_token(user_id, role, session_id, ttl=None, secret=None):
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "sid": str(session_id), "iss": ISSUER,
              "iat": now, "exp": now + (ACCESS_TOKEN_TTL if ttl is None else ttl),
              "jti": uuid.uuid4().hex, "typ": "access"}
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def issue_service_token(service, secret=None):
    """For service-to-service calls made on no user's behalf (e.g. resync)."""
    now = int(time.time())
    claims = {"sub": "service:" + service, "role": "service", "svc": service, "iss": ISSUER,
              "iat": now, "exp": now + SERVICE_TOKEN_TTL, "typ": "access"}
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def verify_token(token, secret=None):
    if not token or not isinstance(token, str):
        raise Unauthenticated("an access token is required")
    try:
        claims = jwt.decode(token, secret or jwt_secret(), algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "role"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired")
    except jwt.InvalidTokenError:
        raise Unauthenticated("the access token is invalid")
    if claims.get("typ") != "access":
        raise Unauthenticated("not an access token")
    if claims["role"] == "service":
        return Principal(user_id=None, role="service", service=claims.get("svc"))
    return Principal(user_id=claims["sub"], role=claims["role"], session_id=claims.get("sid"))


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class Authenticator:
    """``session_live(session_id, user_id) -> bool`` is asked about every
    verified user token (``Auth`` gives it); without one, as in unit tests
    that hand a worker an ``Authenticator(secret)``, the signature alone decides."""

    def __init__(self, secret, session_live=None):
        self.secret = secret
        self.session_live = session_live

    def require(self, token, roles=None):
        """The verified principal, whose session has not ended;
        ``Forbidden`` unless its role is in ``roles``."""
        principal = verify_token(token, self.secret)
        if self.session_live is not None and not principal.is_service:
            # Before the role: a token of an ended session speaks for nobody.
            session_id, user_id = _uuid(principal.session_id), _uuid(principal.user_id)
            if session_id is None or user_id is None:
                raise Unauthenticated("the access token names no session")
            if not self.session_live(session_id, user_id):
                raise Unauthenticated(SESSION_ENDED)
        if roles is not None and principal.role not in roles:
            raise Forbidden("this action needs one of the roles: {}".format(", ".join(sorted(roles))))
        return principal

    def require_self_or_admin(self, token, user_id):
        principal = self.require(token)
        if not (principal.is_admin or principal.user_id == str(user_id)):
            raise Forbidden("you may only act on your own account")
        return principal


def session_checker(engine, check):
    """``Authenticator``'s ``session_live`` over ``check(connection,
    session_id, user_id) -> bool``: one pooled connection per call,
    returned before the entrypoint opens its unit of work."""
    def session_live(session_id, user_id):
        with engine.connect() as connection:
            return check(connection, session_id, user_id)
    return session_live


class Auth(DependencyProvider):
    """``self.auth.require(token)`` in an entrypoint. The secret is read at
    start-up, so a service without one fails at once, not on the first call.

    ``session_check(connection, session_id, user_id) -> bool`` says whether a
    token's session is live, on the service's own database (its
    ``UnitOfWorkProvider``'s engine). Identity passes its own; by default it
    is ``revocations.not_revoked`` over the service's ``revoked_sessions``, and
    a service that checks tokens without that table does not start.
    """

    def __init__(self, session_check=None):
        self.session_check = session_check
        self._session_live = None

    def setup(self):
        self.secret = jwt_secret()

    def start(self):
        self._resolve()

    def _resolve(self):
        if self._session_live is None:
            # Imported here: the gateway imports this module for verify_token and needs no database code.
            from services.common import revocations
            from services.common.uow import UnitOfWorkProvider
            units = [d for d in self.container.dependencies if isinstance(d, UnitOfWorkProvider)]
            if len(units) != 1:
                raise TypeError("Auth needs exactly one UnitOfWorkProvider on the service")
            check = self.session_check
            if check is None:
                model = revocations.revoked_sessions_of(units[0].declarative_base)
                if model is None:
                    raise TypeError("{} checks tokens but maps no {} table (docs/architecture.md, "
                                    "\"Adding a service\")".format(self.container.service_name, revocations.TABLE))
                check = revocations.not_revoked(model)
            self._session_live = session_checker(units[0].engine, check)
        return self._session_live

    def get_dependency(self, worker_ctx):
        return Authenticator(self.secret, self._resolve())
