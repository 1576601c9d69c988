"""Signed tokens: services act for a user only on a verified JWT (docs/architecture.md, "Identity on RPC").

nameko's ``context_data`` is plain AMQP headers that anyone who can publish
can forge, so every RPC that acts for a user takes the caller's access token
as its first argument and checks it here. Tokens are signed with Ed25519
(EdDSA) keys (services/common/keys.py): identity alone holds the private key
that signs users' tokens, each service holds the one that signs its own
service tokens, and everyone verifies with the public keys. A token's ``kid``
names the key, and the key names its issuer, so a service's key can speak
only for that service and never for a user. After the signature each
service asks its own database whether the token's session has ended since:
identity its ``user_sessions``, every other service the ``revoked_sessions``
it keeps from identity's ``session_revoked`` events
(services/common/revocations.py).
"""
import base64
import json
import os
import time
import uuid
from dataclasses import dataclass

import jwt
from nameko.extensions import DependencyProvider

from services.common import keys as token_keys
from services.common.errors import Forbidden, Unauthenticated
from services.common.validation import parse_uuid_list

ALGORITHM = "EdDSA"  # Ed25519 here: keys.py makes and loads no other kind of key
AUTHORITY = token_keys.AUTHORITY
ISSUER = "edtech-" + AUTHORITY  # the ``iss`` of users' tokens
# A service token's principal that no running service is: the operator's,
# minted on identity's host with identity's key (services/identity/manage.py).
OPERATOR = "operator"
ACCESS_TOKEN_TTL = int(os.environ.get("AUTH_ACCESS_TOKEN_TTL", "900"))  # seconds
SERVICE_TOKEN_TTL = 300
SESSION_ENDED = "the session has ended"
INVALID = "the access token is invalid"


def issuer_claim(issuer):
    """The ``iss`` of a token signed with one of ``issuer``'s keys."""
    return "edtech-" + issuer


def may_speak_for(issuer, service):
    """Whether a key of ``issuer`` may sign a service token naming
    ``service``: its own, and identity's the operator's as well."""
    return service == issuer or (issuer == AUTHORITY and service == OPERATOR)


_signing_keys, _public_keys = {}, {}


def signing_key(environ=None):
    """This process's own private key (the newest in ``AUTH_PRIVATE_KEYS``),
    read once; ``token_keys.KeyMaterialError`` when it has none."""
    path = (os.environ if environ is None else environ).get(token_keys.PRIVATE_ENV, "")
    if path not in _signing_keys:
        _signing_keys[path] = token_keys.load_signing_key(path)
    return _signing_keys[path]


def public_keys(environ=None):
    """Every issuer's public keys, from the directory ``AUTH_PUBLIC_KEYS``
    names, kept current (``token_keys.DirectoryKeyRing``); ``token_keys.KeyMaterialError``
    when there are none."""
    path = (os.environ if environ is None else environ).get(token_keys.PUBLIC_ENV, "")
    if path not in _public_keys:
        _public_keys[path] = token_keys.DirectoryKeyRing(path)
    return _public_keys[path]


def _sign(claims, key):
    return jwt.encode(claims, key.key, algorithm=ALGORITHM, headers={"kid": key.kid})


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


def issue_access_token(user_id, role, session_id, ttl=None, key=None):
    """A user's token: only identity's key signs one (``key``, by default
    this process's own)."""
    key = key or signing_key()
    if key.issuer != AUTHORITY:
        raise ValueError("only {}'s key signs users' tokens, not {}'s".format(AUTHORITY, key.issuer))
    now = int(time.time())
    claims = {"sub": str(user_id), "role": role, "sid": str(session_id), "iss": ISSUER,
              "iat": now, "exp": now + (ACCESS_TOKEN_TTL if ttl is None else ttl),
              "jti": uuid.uuid4().hex, "typ": "access"}
    return _sign(claims, key)


def issue_service_token(service, key=None, ttl=SERVICE_TOKEN_TTL):
    """For service-to-service calls made on no user's behalf (e.g. resync),
    signed with ``service``'s own key (``key``, by default this process's)."""
    key = key or signing_key()
    if not may_speak_for(key.issuer, service):
        raise ValueError("a key of {} cannot sign a token of {}".format(key.issuer, service))
    now = int(time.time())
    claims = {"sub": "service:" + service, "role": "service", "svc": service, "iss": issuer_claim(key.issuer),
              "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, "typ": "access"}
    return _sign(claims, key)


def _kid(token):
    """The header's ``kid``, or None. It only picks the key to try, and
    jwt.decode checks the whole token after; read here because
    jwt.get_unverified_header costs a sixth of a verification
    (scripts/bench_auth.py)."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):  # binascii.Error, JSONDecodeError: ValueErrors
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def verify_token(token, keys=None):
    """The ``Principal`` a token speaks for. ``keys``: a ``token_keys.KeyRing``,
    by default the public keys of ``AUTH_PUBLIC_KEYS``.

    The header's ``kid`` picks the one key to try, and only EdDSA is
    accepted (so neither ``alg: none`` nor an HMAC "signed" with a public
    key gets through); then the key's issuer must be the token's: ``iss``,
    identity's for a user's token, the named service's for a service token.
    """
    if not token or not isinstance(token, str):
        raise Unauthenticated("an access token is required")
    ring = public_keys() if keys is None else keys
    key = ring.get(_kid(token))
    if key is None:
        raise Unauthenticated("the access token is signed with a key this service does not know")
    try:
        claims = jwt.decode(token, key.key, algorithms=[ALGORITHM], issuer=issuer_claim(key.issuer),
                            options={"require": ["exp", "iat", "sub", "role", "iss"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired")
    except jwt.InvalidTokenError:
        raise Unauthenticated(INVALID)
    if claims.get("typ") != "access":
        raise Unauthenticated("not an access token")
    if claims["role"] == "service":
        service = claims.get("svc")
        if not isinstance(service, str) or not may_speak_for(key.issuer, service):
            raise Unauthenticated(INVALID)
        return Principal(user_id=None, role="service", service=service)
    if key.issuer != AUTHORITY:  # a service's key never speaks for a user
        raise Unauthenticated(INVALID)
    return Principal(user_id=claims["sub"], role=claims["role"], session_id=claims.get("sid"))


def check_signing_key(service, ring):
    """This process's private key, after checking that it is ``service``'s
    and that its public key is in ``ring``: a token no one can verify must
    not be issued (docs/architecture.md, "Rotating a key")."""
    key = signing_key()
    if key.issuer != service:
        raise token_keys.KeyMaterialError("{}={} holds {}'s key, not {}'s".format(
            token_keys.PRIVATE_ENV, os.environ.get(token_keys.PRIVATE_ENV), key.issuer, service))
    known = ring.get(key.kid)
    if known is None or token_keys.public_pem(known.key) != token_keys.public_pem(key.key.public_key()):
        raise token_keys.KeyMaterialError("the public key of {} is not in {}={}: add {}.pub there first".format(
            key.kid, token_keys.PUBLIC_ENV, os.environ.get(token_keys.PUBLIC_ENV), key.kid))
    return key


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class Authenticator:
    """``keys``: the ``token_keys.KeyRing`` tokens are verified with.
    ``session_live(session_id, user_id) -> bool`` is asked about every
    verified user token (``Auth`` gives it); without one, as in unit tests
    that hand a worker an ``Authenticator(keys)``, the signature alone decides."""

    def __init__(self, keys, session_live=None):
        self.keys = keys
        self.session_live = session_live

    def require(self, token, roles=None):
        """The verified principal, whose session has not ended;
        ``Forbidden`` unless its role is in ``roles``."""
        principal = verify_token(token, self.keys)
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

    def require_own(self, token, user_ids, field):
        """(principal, ``user_ids`` as UUIDs) when every id is the caller's
        own, or the caller is an admin or a service; else ``Forbidden``."""
        principal = self.require(token)
        ids = parse_uuid_list(user_ids, field)
        if not (principal.is_admin or principal.is_service or all(str(i) == principal.user_id for i in ids)):
            raise Forbidden("this action needs one of the roles: admin, service")
        return principal, ids

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
    """``self.auth.require(token)`` in an entrypoint. The public keys are
    read at start-up, and with ``signs=True`` (a service that issues tokens)
    the service's own private key too, so a service without them fails at
    once, not on the first call.

    ``session_check(connection, session_id, user_id) -> bool`` says whether a
    token's session is live, on the service's own database (its
    ``UnitOfWorkProvider``'s engine). Identity passes its own; by default it
    is ``revocations.not_revoked`` over the service's ``revoked_sessions``, and
    a service that checks tokens without that table does not start.
    """

    def __init__(self, session_check=None, signs=False):
        self.session_check = session_check
        self.signs = signs
        self._session_live = None

    def setup(self):
        self.keys = public_keys()
        if self.signs:
            check_signing_key(self.container.service_name, self.keys)

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
        return Authenticator(self.keys, self._resolve())
