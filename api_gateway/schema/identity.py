"""Identity's part of the graph: the ``User`` entity it owns, and its mutations."""
import graphene
from graphene.types.generic import GenericScalar

from api_gateway.loaders import by_key
from api_gateway.schema import registry
from api_gateway.schema.context import plain, viewer


class Role(graphene.Enum):
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"


class UserStatus(graphene.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


# Marks the user a register or login mutation returns: the caller is that
# user, though the request carried no token yet.
OWN_ACCOUNT = "_own_account"


@registry.user_fields
class UserIdentityFields:
    """The fields identity owns on ``User``."""
    id = graphene.ID(required=True)
    email = graphene.String(description="Visible to the user themself and to admins only.")
    first_name = graphene.String(required=True)
    last_name = graphene.String(required=True)
    role = graphene.Field(Role, required=True)
    status = graphene.Field(UserStatus, required=True)
    email_verified = graphene.Boolean()
    created_at = graphene.String(required=True, description="ISO-8601, UTC")

    @staticmethod
    def resolve_email(user, info):
        who = info.context.viewer
        if user.get(OWN_ACCOUNT) or (who is not None and (who.is_admin or who.user_id == user["id"])):
            return user.get("email")
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
    register = graphene.Field(registry.user_type, input=RegisterInput(required=True))
    login = graphene.Field(AuthPayload, email=graphene.String(required=True), password=graphene.String(required=True))
    refresh_token = graphene.Field(AuthPayload, refresh_token=graphene.String(required=True))
    logout = graphene.Boolean()
    update_me = graphene.Field(registry.user_type, input=UpdateMeInput(required=True))

    @staticmethod
    def resolve_register(root, info, input):
        data = plain(input)
        data["role"] = _enum_value(data.get("role"))
        user = info.context.call("identity", "register", data)
        user.pop("verification_token", None)  # mailed, never shown through the API
        return dict(user, **{OWN_ACCOUNT: True})

    @staticmethod
    def resolve_login(root, info, email, password):
        session = info.context.call("identity", "login", {"email": email, "password": password})
        return dict(session, user=dict(session["user"], **{OWN_ACCOUNT: True}))

    @staticmethod
    def resolve_refresh_token(root, info, refresh_token):
        return info.context.call("identity", "refresh", {"refresh_token": refresh_token})

    @staticmethod
    def resolve_logout(root, info):
        viewer(info)
        return info.context.call("identity", "logout", info.context.token)["ok"]

    @staticmethod
    def resolve_update_me(root, info, input):
        who = viewer(info)
        return info.context.call("identity", "update_user", info.context.token, who.user_id, plain(input))
