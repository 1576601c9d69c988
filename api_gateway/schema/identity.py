"""Identity's part of the graph: the ``User`` entity it owns, and its mutations."""
import graphene
from graphene.types.generic import GenericScalar

from api_gateway.loaders import by_key
from api_gateway.schema import registry
from api_gateway.schema.context import credential_call, plain, viewer


class Role(graphene.Enum):
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


class UserStatus(graphene.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


# Marks the user a login mutation returns: the caller is that user, though
# the request carried no token yet.
OWN_ACCOUNT = "_own_account"
OWN_OR_ADMIN = "Only for yourself or an admin; null for anyone else."


@registry.user_fields
class UserIdentityFields:
    """The fields identity owns on ``User``."""
    id = graphene.ID(required=True)
    email = graphene.String(description=OWN_OR_ADMIN)
    first_name = graphene.String(required=True)
    last_name = graphene.String(required=True)
    role = graphene.Field(Role, required=True)
    status = graphene.Field(UserStatus, description=OWN_OR_ADMIN)
    email_verified = graphene.Boolean(description=OWN_OR_ADMIN)
    created_at = graphene.String(required=True, description="ISO-8601, UTC")

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


def _own_or_admin(user, info, key):
    who = info.context.viewer
    if user.get(OWN_ACCOUNT) or (who is not None and (who.is_admin or who.user_id == user["id"])):
        return user.get(key)
    return None


@registry.loader
def users(rpc, token, ids):
    return by_key(rpc.call("identity", "get_users", token, ids), "id")


class AuthPayload(graphene.ObjectType):
    access_token = graphene.String(required=True)
    refresh_token = graphene.String(required=True)
    token_type = graphene.String(required=True)
    expires_in = graphene.Int(required=True, description="seconds")
    user = graphene.Field(registry.user_type)


REGISTERED = ("Thank you. Check your inbox for a message from us, then sign in. "
              "If you already have an account, sign in or reset your password.")


class RegisterPayload(graphene.ObjectType):
    """The answer to ``register``: the same whether or not the email already
    had an account, so that it does not tell who has one. Sign in with
    ``login`` to get the user."""
    ok = graphene.Boolean(required=True, description=(
        "True: the registration was accepted. Input that is refused is an error (BAD_USER_INPUT), "
        "never ok: false."))
    message = graphene.String(required=True, description="What to tell the person: check the inbox, then sign in.")


class RegisterInput(graphene.InputObjectType):
    email = graphene.String(required=True)
    password = graphene.String(required=True)
    first_name = graphene.String(required=True)
    last_name = graphene.String(required=True)
    role = graphene.Field(Role, required=True)


class UpdateMeInput(graphene.InputObjectType):
    email = graphene.String()
    first_name = graphene.String()
    last_name = graphene.String()
    bio = graphene.String()
    preferences = GenericScalar()
    settings = GenericScalar()


@registry.query
class IdentityQuery:
    me = graphene.Field(registry.user_type)
    user = graphene.Field(registry.user_type, id=graphene.ID(required=True))

    @staticmethod
    def resolve_me(root, info):
        who = viewer(info)
        return info.context.loaders.users.load(who.user_id)

    @staticmethod
    def resolve_user(root, info, id):
        viewer(info)
        return info.context.call("identity", "get_user", info.context.token, id)


def _enum_value(value):
    return getattr(value, "value", value)


@registry.mutation
class IdentityMutation:
    register = graphene.Field(RegisterPayload, input=RegisterInput(required=True), description=(
        "Sign up as a student or tutor. The answer is the same whether or not the email already had an account; "
        "sign in with login afterwards."))
    login = graphene.Field(AuthPayload, email=graphene.String(required=True), password=graphene.String(required=True))
    refresh_token = graphene.Field(AuthPayload, refresh_token=graphene.String(required=True))
    logout = graphene.Boolean()
    update_me = graphene.Field(registry.user_type, input=UpdateMeInput(required=True))

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
        return info.context.call("identity", "refresh", {"refresh_token": refresh_token})

    @staticmethod
    def resolve_logout(root, info):
        viewer(info)
        return info.context.call("identity", "logout", info.context.token)["ok"]

    @staticmethod
    def resolve_update_me(root, info, input):
        who = viewer(info)
        return info.context.call("identity", "update_user", info.context.token, who.user_id, plain(input))
