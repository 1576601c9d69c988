"""Identity service entrypoints: check the token, validate the payload, hand
over to the module that owns the rule (users, sessions). Each call is one
transaction; a user error raises a typed error from services.common.errors."""
import os

from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.common.auth import Auth
from services.common.db import ServiceDatabase
from services.common.health import HealthRpc
from services.common.outbox import Outbox
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.identity import sessions, users
from services.identity.models import Base, OutboxEvent
from services.identity.schemas import (ListUsersSchema, LoginSchema, PasswordResetRequestSchema,
                                       PasswordResetSchema, RefreshSchema, RegisterSchema, StatusSchema,
                                       TokenSchema, UpdateUserSchema)

ADMIN, ADMIN_OR_SERVICE = {"admin"}, {"admin", "service"}


def with_mailed_token(result, key, raw):
    """There is no mail sender yet. The verification and reset tokens that
    would be mailed are returned under ``key`` only when the identity process
    runs with IDENTITY_EXPOSE_TOKENS=1 (tests, local development); otherwise
    they would let anyone verify an address or reset a password they do not own."""
    if raw is not None and os.environ.get("IDENTITY_EXPOSE_TOKENS") == "1":
        return dict(result, **{key: raw})
    return result


class IdentityService(HealthRpc):
    name = "identity"

    db = ServiceDatabase("identity", Base)
    config = Config()
    auth = Auth()
    outbox = Outbox(OutboxEvent)

    # Accounts and credentials -----------------------------------------------

    @rpc
    def register(self, payload):
        data = load(RegisterSchema(), payload)
        view, raw = users.register(self.db.session, self.outbox, data)
        return with_mailed_token(view, "verification_token", raw)

    @rpc
    def login(self, payload):
        data = load(LoginSchema(), payload)
        return sessions.login(self.db.session, data["email"], data["password"])

    @rpc
    def refresh(self, payload):
        data = load(RefreshSchema(), payload)
        return sessions.refresh(self.db.session, data["refresh_token"])

    @rpc
    def logout(self, token):
        sessions.logout(self.db.session, self.auth.require(token))
        return {"ok": True}

    @rpc
    def verify_email(self, payload):
        data = load(TokenSchema(), payload)
        sessions.verify_email(self.db.session, data["token"])
        return {"ok": True}

    @rpc
    def request_password_reset(self, payload):
        """Always ``{"ok": True}``, so the answer does not tell who has an account."""
        data = load(PasswordResetRequestSchema(), payload)
        raw = sessions.request_password_reset(self.db.session, data["email"])
        return with_mailed_token({"ok": True}, "reset_token", raw)

    @rpc
    def reset_password(self, payload):
        data = load(PasswordResetSchema(), payload)
        sessions.reset_password(self.db.session, data["token"], data["new_password"])
        return {"ok": True}

    # Users -------------------------------------------------------------------

    @rpc
    def get_user(self, token, user_id):
        viewer = self.auth.require(token)
        return users.user_view(users.user_by_id(self.db.session, parse_uuid(user_id, "user_id")), viewer)

    @rpc
    def get_users(self, token, user_ids):
        viewer = self.auth.require(token)
        return users.users_by_ids(self.db.session, parse_uuid_list(user_ids, "user_ids"), viewer)

    @rpc
    def list_users(self, token, cursor=None, limit=50, role=None):
        viewer = self.auth.require(token, ADMIN_OR_SERVICE)
        query = load(ListUsersSchema(), {"cursor": cursor, "limit": limit, "role": role})
        return users.list_page(self.db.session, viewer, query)

    @rpc
    def update_user(self, token, user_id, payload):
        user_id = parse_uuid(user_id, "user_id")
        viewer = self.auth.require_self_or_admin(token, user_id)
        data = load(UpdateUserSchema(), payload)
        return users.update(self.db.session, self.outbox, user_id, data, viewer)

    @rpc
    def set_status(self, token, user_id, payload):
        viewer = self.auth.require(token, ADMIN)
        user_id = parse_uuid(user_id, "user_id")
        data = load(StatusSchema(), payload)
        return users.set_status(self.db.session, self.outbox, user_id, data["status"], viewer)
