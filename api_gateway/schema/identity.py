"""Identity's part of the graph: the ``User`` entity it owns, and its mutations."""
import graphene
from graphene.types.generic import GenericScalar

from api_gateway.errors import client_fields
from api_gateway.loaders import by_key
from api_gateway.schema import registry
from api_gateway.schema.context import credential_call, plain, viewer


class Role(graphene.Enum):
    """What an account is for, chosen at registration; it decides which queries and mutations it may use."""
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"

    @property
    def description(self):
        return {"STUDENT": "books lessons and posts matching requests",
                "TUTOR": "keeps a tutor profile, courses and availability, and confirms and completes lessons",
                "ADMIN": "staff: may read and change any user's data"}[self.name]


class UserStatus(graphene.Enum):
    """Whether an account may be used. Shown to the user themself and admins only."""
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"

    @property
    def description(self):
        return {"ACTIVE": "the account may sign in and be used",
                "SUSPENDED": "suspended: it cannot sign in or refresh a session",
                "DEACTIVATED": "closed: it cannot sign in or refresh a session"}[self.name]


# Marks the user a login mutation returns: the caller is that user, though
# the request carried no token yet.
OWN_ACCOUNT = "_own_account"
OWN_OR_ADMIN = "Only for yourself or an admin; null for anyone else."


@registry.user_fields
class UserIdentityFields:
    """The fields identity owns on ``User``."""
    id = graphene.ID(required=True, description="The user's id (a UUID), as used by user(id:) and every userId.")
    email = graphene.String(description=OWN_OR_ADMIN)
    first_name = graphene.String(required=True, description="Given name; anyone signed in may read it.")
    last_name = graphene.String(required=True, description="Family name; anyone signed in may read it.")
    role = graphene.Field(Role, required=True, description="Student, tutor or admin; set at registration.")
    status = graphene.Field(UserStatus, description=OWN_OR_ADMIN)
    email_verified = graphene.Boolean(description=OWN_OR_ADMIN)
    created_at = graphene.String(required=True, description="ISO-8601, UTC")
    bio = graphene.String(required=True, description=(
        "The account's short \"about me\", set with updateMe; anyone signed in may read it. "
        "Not a tutor's teaching profile text, which is TutorProfile.bio."))
    preferences = GenericScalar(description=(
        "A JSON object the app keeps for this user, set with updateMe. " + OWN_OR_ADMIN))
    settings = GenericScalar(description=(
        "A JSON object of the account's settings, set with updateMe. " + OWN_OR_ADMIN))

    # identity leaves these out of the public view it gives anyone else
    # (services/identity/users.py, public_view); checked here as well.

    @staticmethod
    def resolve_email(user, info):
        return _own_or_admin(user, info, "email")

    @staticmethod
    def resolve_status(user, info):
        return _own_or_admin(user, info, "status")

    @staticmethod
    def resolve_email_verified(user, info):
        return _own_or_admin(user, info, "email_verified")

    # identity keeps these three in the user's profile (services/identity/users.py,
    # user_view); its public view carries the bio only.

    @staticmethod
    def resolve_bio(user, info):
        return (user.get("profile") or {}).get("bio") or ""

    @staticmethod
    def resolve_preferences(user, info):
        return _own_or_admin(user.get("profile") or {}, info, "preferences", user)

    @staticmethod
    def resolve_settings(user, info):
        return _own_or_admin(user.get("profile") or {}, info, "settings", user)


def _own_or_admin(user, info, key, owner=None):
    """``user[key]``, or of ``owner``'s part ``user`` (its profile), for the
    user themself or an admin."""
    owner = user if owner is None else owner
    who = info.context.viewer
    if owner.get(OWN_ACCOUNT) or (who is not None and (who.is_admin or who.user_id == owner["id"])):
        return user.get(key)
    return None


@registry.loader
def users(rpc, token, ids):
    return by_key(rpc.call("identity", "get_users", token, ids), "id")


class AuthPayload(graphene.ObjectType):
    """A new session, from login or refreshToken: send the access token as
    ``Authorization: Bearer <accessToken>``."""
    access_token = graphene.String(required=True, description=(
        "The token to send as Authorization: Bearer <token>; valid for expiresIn seconds."))
    refresh_token = graphene.String(required=True, description=(
        "Spend it once with refreshToken for a new pair; logout and a password reset end it."))
    token_type = graphene.String(required=True, description="Always \"Bearer\".")
    expires_in = graphene.Int(required=True, description="Seconds until the access token expires.")
    user = graphene.Field(registry.user_type, description=(
        "The signed-in user, with the fields only they may see; login and refreshToken both return it."))


# register cannot return tokens: it would have to for a free email and could
# not for a taken one, and that difference is what it must not show
# (docs/architecture.md, "Accounts and enumeration"). So the message tells the
# app its next steps: confirm the address with the mailed link, then login
# with the credentials just sent.
REGISTERED = ("Thank you. Check your inbox and open the link we sent to confirm your address. Sign in then "
              "with the email and password you just chose. If you already had an account with this email, "
              "sign in with its password or reset it.")
EMAIL_VERIFIED = "Thank you: your email address is verified."
RESET_REQUESTED = ("If an account has this email, a link to choose a new password is on its way: "
                   "check your inbox.")
PASSWORD_RESET = ("Your password is changed and every session of the account was ended. "
                  "Sign in with the new password.")


class RegisterPayload(graphene.ObjectType):
    """The answer to ``register``: the same whether or not the email already
    had an account, so that it does not tell who has one. Sign in with
    ``login`` to get the user."""
    ok = graphene.Boolean(required=True, description=(
        "True: the registration was accepted. Input that is refused is an error (BAD_USER_INPUT), "
        "never ok: false."))
    message = graphene.String(required=True, description=(
        "What to tell the person, and the app's next step: call login with the same email and password."))


class VerifyEmailPayload(graphene.ObjectType):
    """The answer to ``verifyEmail``."""
    ok = graphene.Boolean(required=True, description=(
        "True: the address is verified. A link that is unknown, used or expired is an error (UNAUTHENTICATED)."))
    message = graphene.String(required=True, description="What to tell the person.")


class RequestPasswordResetPayload(graphene.ObjectType):
    """The answer to ``requestPasswordReset``: the same whether or not an
    account has the email, so that it does not tell who has one."""
    ok = graphene.Boolean(required=True, description=(
        "Always true for a well-formed email, whether or not an account has it."))
    message = graphene.String(required=True, description="What to tell the person: check the inbox.")


class ResetPasswordPayload(graphene.ObjectType):
    """The answer to ``resetPassword``."""
    ok = graphene.Boolean(required=True, description=(
        "True: the password is changed and every session of the account is ended. A link that is unknown, "
        "used or expired is an error (UNAUTHENTICATED); a weak new password is BAD_USER_INPUT naming "
        "newPassword, and leaves the link usable."))
    message = graphene.String(required=True, description="What to tell the person: sign in with the new password.")


class RegisterInput(graphene.InputObjectType):
    """A new account's details, for register."""
    email = graphene.String(required=True, description="The address to sign in with and to verify.")
    password = graphene.String(required=True, description=(
        "At least 10 characters, not common, not one character repeated, not containing the email's local part."))
    first_name = graphene.String(required=True, description="Given name, shown to other signed-in users.")
    last_name = graphene.String(required=True, description="Family name, shown to other signed-in users.")
    role = graphene.Field(Role, required=True, description="STUDENT or TUTOR.")


class UpdateMeInput(graphene.InputObjectType):
    """The caller's account fields to change: only those given change, at least one."""
    email = graphene.String(description="A new sign-in address; one taken by another account is a CONFLICT.")
    first_name = graphene.String(description="A new given name.")
    last_name = graphene.String(description="A new family name.")
    bio = graphene.String(description=(
        "The account's short \"about me\" (User.bio), up to 5000 characters. A tutor's teaching profile text "
        "is set with setTutorProfile."))
    preferences = GenericScalar(description="A JSON object, replacing User.preferences.")
    settings = GenericScalar(description="A JSON object, replacing User.settings.")


@registry.query
class IdentityQuery:
    me = graphene.Field(registry.user_type, description="The signed-in caller's own user (UNAUTHENTICATED without a token).")
    user = graphene.Field(registry.user_type, id=graphene.ID(required=True, description="The user's id."), description=(
        "A user by id, for a signed-in caller; fields only the user themself and admins may see are null for "
        "others. An unknown id answers null with NOT_FOUND naming id."))

    @staticmethod
    def resolve_me(root, info):
        who = viewer(info)
        return info.context.loaders.users.load(who.user_id)

    @staticmethod
    def resolve_user(root, info, id):
        viewer(info)
        with client_fields(user_id="id"):
            return info.context.call("identity", "get_user", info.context.token, id)


def _enum_value(value):
    return getattr(value, "value", value)


@registry.mutation
class IdentityMutation:
    register = graphene.Field(RegisterPayload, input=RegisterInput(required=True, description=(
        "The new account's details.")), description=(
        "Sign up as a student or tutor. The answer is the same whether or not the email already had an account; "
        "sign in with login afterwards."))
    login = graphene.Field(AuthPayload, email=graphene.String(required=True, description="The account's email."),
                           password=graphene.String(required=True, description="The account's password."),
                           description=("Sign in: a new session's tokens and the user. Failed attempts are "
                                        "throttled per address and client."))
    refresh_token = graphene.Field(AuthPayload, refresh_token=graphene.String(
        required=True, description="The refresh token of the session, spent by this call."), description=(
        "Spend a refresh token for a new access and refresh token pair, with the user as login returns it."))
    logout = graphene.Boolean(description="End the caller's session (its access and refresh tokens); true when done.")
    verify_email = graphene.Field(VerifyEmailPayload, token=graphene.String(
        required=True, description="The token from the verification link mailed at sign-up."),
        description="Mark the account's email address verified, with the token mailed to it.")
    request_password_reset = graphene.Field(RequestPasswordResetPayload, email=graphene.String(
        required=True, description="The account's email address."), description=(
        "Mail a link to choose a new password to the account with this email, if there is one. "
        "The answer is the same either way."))
    reset_password = graphene.Field(ResetPasswordPayload, token=graphene.String(
        required=True, description="The token from the password-reset link."), new_password=graphene.String(
        required=True, description="At least 10 characters, not common, not containing the email's local part."),
        description="Choose a new password with a mailed reset token; ends every session of the account.")
    update_me = graphene.Field(registry.user_type, input=UpdateMeInput(
        required=True, description="The fields to change."), description=(
        "Change the signed-in caller's own account; answers the updated user."))

    @staticmethod
    def resolve_register(root, info, input):
        credential_call(info)
        data = plain(input)
        data["role"] = _enum_value(data.get("role"))
        answer = info.context.call("identity", "register", data)
        # Only ``ok`` is passed on: a verification token the service returns
        # in development is mailed, never shown through the API.
        return {"ok": answer["ok"], "message": REGISTERED}

    @staticmethod
    def resolve_login(root, info, email, password):
        credential_call(info)
        ctx = info.context
        if ctx.throttle is not None:
            ctx.throttle.login_attempt(email, ctx.client)  # counted as failed until it succeeds
        session = ctx.call("identity", "login", {"email": email, "password": password})
        if ctx.throttle is not None:
            ctx.throttle.login_succeeded(email, ctx.client)
        return dict(session, user=dict(session["user"], **{OWN_ACCOUNT: True}))

    @staticmethod
    def resolve_refresh_token(root, info, refresh_token):
        credential_call(info)
        session = info.context.call("identity", "refresh", {"refresh_token": refresh_token})
        # Like login's, the user is the caller's own account though the
        # request carried no access token.
        return dict(session, user=dict(session["user"], **{OWN_ACCOUNT: True}))

    @staticmethod
    def resolve_logout(root, info):
        viewer(info)
        return info.context.call("identity", "logout", info.context.token)["ok"]

    # The three below answer ``ok`` and a fixed message only: the tokens
    # reach people by mail alone (identity mails them itself,
    # docs/architecture.md "Mail"); one shown to whoever asked for a reset
    # would let them take over the account.

    @staticmethod
    def resolve_verify_email(root, info, token):
        credential_call(info)
        answer = info.context.call("identity", "verify_email", {"token": token})
        return {"ok": answer["ok"], "message": EMAIL_VERIFIED}

    @staticmethod
    def resolve_request_password_reset(root, info, email):
        credential_call(info)
        answer = info.context.call("identity", "request_password_reset", {"email": email})
        return {"ok": answer["ok"], "message": RESET_REQUESTED}

    @staticmethod
    def resolve_reset_password(root, info, token, new_password):
        credential_call(info)
        answer = info.context.call("identity", "reset_password", {"token": token, "new_password": new_password})
        return {"ok": answer["ok"], "message": PASSWORD_RESET}

    @staticmethod
    def resolve_update_me(root, info, input):
        who = viewer(info)
        with client_fields(_schema="input"):  # "give at least one field" is about the input as a whole
            return info.context.call("identity", "update_user", info.context.token, who.user_id, plain(input))
