"""Signed tokens: services act for a user only on a verified JWT (docs/architecture.md, "Identity on RPC").

nameko's ``context_data`` is plain AMQP headers that anyone who can publish
can forge, so every RPC that acts for a user takes the caller's access token
as its first argument and checks it here. Identity issues the tokens; every
service verifies them with the shared ``AUTH_JWT_SECRET``.
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


class Authenticator:
    def __init__(self, secret):
        self.secret = secret

    def require(self, token, roles=None):
        """The verified principal; ``Forbidden`` unless its role is in ``roles``."""
        principal = verify_token(token, self.secret)
        if roles is not None and principal.role not in roles:
            raise Forbidden("this action needs one of the roles: {}".format(", ".join(sorted(roles))))
        return principal

    def require_self_or_admin(self, token, user_id):
        principal = self.require(token)
        if not (principal.is_admin or principal.user_id == str(user_id)):
            raise Forbidden("you may only act on your own account")
        return principal


class Auth(DependencyProvider):
    """``self.auth.require(token)`` in an entrypoint. The secret is read at
    start-up, so a service without one fails at once, not on the first call."""

    def setup(self):
        self.secret = jwt_secret()

    def get_dependency(self, worker_ctx):
        return Authenticator(self.secret)
