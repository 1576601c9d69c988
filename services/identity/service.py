"""Identity service entrypoints: check the token, validate the payload, hand
over to the module that owns the rule (users, sessions) in one unit of work.
A user error raises a typed error from services.common.errors."""
import time
from contextlib import contextmanager

from nameko.dependency_providers import Config

from services.common.access import public
from services.common.auth import Auth
from services.common.health import HealthRpc
from services.common.mail import DeadMailRpc, Mailer, MailSender
from services.common.rpc import rpc
from services.common.uow import UnitOfWorkProvider
from services.common.validation import load, parse_uuid, parse_uuid_list
from services.identity import sessions, tokens, users
from services.identity.events import PUBLISHED
from services.identity.models import Base
from services.identity.schemas import (FindUserSchema, ListUsersSchema, LoginSchema, PasswordResetRequestSchema,
                                       PasswordResetSchema, RefreshSchema, RegisterSchema, StatusSchema,
                                       TokenSchema, UpdateUserSchema)

ADMIN, ADMIN_OR_SERVICE = {"admin"}, {"admin", "service"}

# Seconds before register and request_password_reset may answer, from the
# call's start: well above what either does on its slower path (about 25 ms
# and 3 ms on the development machine), so the known-email and unknown-email
# paths end at the same moment (docs/architecture.md, "Accounts and enumeration").
REGISTER_FLOOR = 0.1
PASSWORD_RESET_FLOOR = 0.05


@contextmanager
def no_sooner_than(seconds):
    """Pad the block to ``seconds`` from its start, whatever its outcome.
    ``nameko run`` patches time.sleep with eventlet's, so the wait holds
    this worker only, not the service."""
    started = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, started + seconds - time.monotonic()))


class IdentityService(HealthRpc, DeadMailRpc):
    name = "identity"

    uow = UnitOfWorkProvider(Base, PUBLISHED)
    config = Config()
    # Identity owns the sessions: a token is checked against user_sessions
    # itself, not against copies of identity's events.
    auth = Auth(session_check=tokens.session_is_current, signs=True)  # users' tokens, with its own key
    # Identity mails its own verification and reset links, so their tokens
    # never cross the broker (docs/architecture.md, "Mail").
    mailer = Mailer()
    mail_sender = MailSender()

    @property
    def app_url(self):
        """Where the links in mails point: the app's address."""
        return str(self.config.get("APP_URL") or "http://127.0.0.1:8000")

    # Accounts and credentials -----------------------------------------------

    @rpc
    @public("signing up: the caller has no account yet")
    def register(self, payload):
        """``{"ok": True}`` for a valid payload, whether or not the email
        already has an account, and in the same time; the user comes from
        ``login`` (docs/architecture.md, "Accounts and enumeration")."""
        with no_sooner_than(REGISTER_FLOOR):
            data = load(RegisterSchema(), payload)
            with self.uow() as uow:
                users.register(uow, data, self.app_url)
                uow.commit()
        return {"ok": True}

    @rpc
    @public("signing in: the email and password are the credential")
    def login(self, payload):
        data = load(LoginSchema(), payload)
        with self.uow() as uow:
            result = sessions.login(uow, data["email"], data["password"])
            uow.commit()
        return result

    @rpc
    @public("the refresh token in the payload is the credential, checked against its session")
    def refresh(self, payload):
        data = load(RefreshSchema(), payload)
        with self.uow() as uow:
            pair, refused = sessions.refresh(uow, data["refresh_token"])
            uow.commit()  # a reused token's session ends even though the call is refused
        if refused is not None:
            raise refused
        return pair

    @rpc
    def logout(self, token):
        principal = self.auth.require(token)
        with self.uow() as uow:
            sessions.logout(uow, principal)
            uow.commit()
        return {"ok": True}

    @rpc
    @public("the mailed verification token in the payload is the credential")
    def verify_email(self, payload):
        data = load(TokenSchema(), payload)
        with self.uow() as uow:
            sessions.verify_email(uow, data["token"])
            uow.commit()
        return {"ok": True}

    @rpc
    @public("for someone who cannot sign in; answers the same whoever asks")
    def request_password_reset(self, payload):
        """Always ``{"ok": True}``, and in the same time, so neither the answer
        nor its timing tells who has an account."""
        with no_sooner_than(PASSWORD_RESET_FLOOR):
            data = load(PasswordResetRequestSchema(), payload)
            with self.uow() as uow:
                sessions.request_password_reset(uow, data["email"], self.app_url)
                uow.commit()
        return {"ok": True}

    @rpc
    @public("the mailed reset token in the payload is the credential")
    def reset_password(self, payload):
        data = load(PasswordResetSchema(), payload)
        with self.uow() as uow:
            sessions.reset_password(uow, data["token"], data["new_password"])
            uow.commit()
        return {"ok": True}

    # Users -------------------------------------------------------------------

    @rpc
    def get_user(self, token, user_id):
        viewer = self.auth.require(token)
        user_id = parse_uuid(user_id, "user_id")
        with self.uow() as uow:
            return users.user_view(users.user_by_id(uow.session, user_id), viewer)

    @rpc
    def get_users(self, token, user_ids):
        viewer = self.auth.require(token)
        user_ids = parse_uuid_list(user_ids, "user_ids")
        with self.uow() as uow:
            return users.users_by_ids(uow.session, user_ids, viewer)

    @rpc
    def list_users(self, token, cursor=None, limit=50, role=None):
        viewer = self.auth.require(token, ADMIN_OR_SERVICE)
        query = load(ListUsersSchema(), {"cursor": cursor, "limit": limit, "role": role})
        with self.uow() as uow:
            return users.list_page(uow.session, viewer, query)

    @rpc
    def find_user_by_email(self, token, email):
        """An operator's lookup (docs/operations.md): the full view of the
        user with this email, or ``NotFound``. Admins and services only, as
        ``list_users``: anyone else could learn who has an account."""
        viewer = self.auth.require(token, ADMIN_OR_SERVICE)
        email = load(FindUserSchema(), {"email": email})["email"]
        with self.uow() as uow:
            return users.user_view(users.user_by_email_or_404(uow.session, email), viewer)

    @rpc
    def update_user(self, token, user_id, payload):
        user_id = parse_uuid(user_id, "user_id")
        viewer = self.auth.require_self_or_admin(token, user_id)
        data = load(UpdateUserSchema(), payload)
        with self.uow() as uow:
            view = users.update(uow, user_id, data, viewer, self.app_url)
            uow.commit()
        return view

    @rpc
    def set_status(self, token, user_id, payload):
        viewer = self.auth.require(token, ADMIN)
        user_id = parse_uuid(user_id, "user_id")
        data = load(StatusSchema(), payload)
        with self.uow() as uow:
            view = users.set_status(uow, user_id, data["status"], viewer)
            uow.commit()
        return view
