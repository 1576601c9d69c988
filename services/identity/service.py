"""Identity service entrypoints: validate, check the token, hand over."""
import os

from nameko.dependency_providers import Config
from nameko.rpc import rpc

from services.common.auth import Auth
from services.common.db import ServiceDatabase
from services.common.health import HealthRpc
from services.common.outbox import Outbox
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.identity import tokens, users
from services.identity.models import Base, OutboxEvent, TokenType
from services.identity.passwords import hash_password
from services.identity.schemas import (ListUsersSchema, LoginSchema, PasswordResetRequestSchema,
                                       PasswordResetSchema, RefreshSchema, RegisterSchema, StatusSchema,
                                       TokenSchema, UpdateUserSchema)

ADMIN_OR_SERVICE = {"admin", "service"}


def expose_tokens():
    """There is no mail sender yet: with IDENTITY_EXPOSE_TOKENS=1 (tests,
    local development) the verification and reset tokens that would be
    mailed are returned in the response instead."""
    return os.environ.get("IDENTITY_EXPOSE_TOKENS") == "1"


class IdentityService(HealthRpc):
    name = "identity"

    db = ServiceDatabase("identity", Base)
    config = Config()
    auth = Auth()
    outbox = Outbox(OutboxEvent)

    @rpc
    def register(self, payload):
        data = load(RegisterSchema(), payload)
        session = self.db.session
        user = users.create(session, self.outbox, data)
        verification = tokens.issue(session, user.id, TokenType.email_verification)
        session.commit()
        view = users.user_view(user, users.as_self(user))
        return dict(view, verification_token=verification) if expose_tokens() else view

    @rpc
    def login(self, payload):
        data = load(LoginSchema(), payload)
        return tokens.login(self.db.session, data["email"], data["password"])

    @rpc
    def refresh(self, payload):
        return tokens.refresh(self.db.session, load(RefreshSchema(), payload)["refresh_token"])

    @rpc
    def logout(self, token):
        tokens.logout(self.db.session, self.auth.require(token))
        return {"ok": True}

    @rpc
    def verify_email(self, payload):
        session = self.db.session
        user = tokens.use_single_use(session, load(TokenSchema(), payload)["token"], TokenType.email_verification)
        user.email_verified_at = user.email_verified_at or tokens.now()
        session.commit()
        return {"ok": True}

    @rpc
    def request_password_reset(self, payload):
        """Always ``ok``, so the answer does not tell who has an account."""
        email = load(PasswordResetRequestSchema(), payload)["email"]
        session = self.db.session
        user = users.user_by_email(session, email)
        result = {"ok": True}
        if user is not None:
            raw = tokens.issue(session, user.id, TokenType.password_reset)
            session.commit()
            if expose_tokens():
                result["reset_token"] = raw
        return result

    @rpc
    def reset_password(self, payload):
        data = load(PasswordResetSchema(), payload)
        session = self.db.session
        user = tokens.use_single_use(session, data["token"], TokenType.password_reset)
        user.password_hash = hash_password(data["new_password"])
        tokens.revoke_all_sessions(session, user.id)
        session.commit()
        return {"ok": True}

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
        viewer = self.auth.require(token, {"admin"})
        status = load(StatusSchema(), payload)["status"]
        session = self.db.session
        view, changed = users.set_status(session, self.outbox, parse_uuid(user_id, "user_id"), status, viewer)
        if changed and status != "active":
            tokens.revoke_all_sessions(session, parse_uuid(user_id, "user_id"))
        session.commit()
        return view
