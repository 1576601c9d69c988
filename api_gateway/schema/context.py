"""What every resolver gets as ``info.context``, and the checks they share."""
from services.common.errors import Forbidden, Unauthenticated


class RequestContext:
    def __init__(self, rpc, loaders, token, viewer, token_error=None, throttle=None, client=None, base_url=None):
        self.rpc, self.loaders, self.token, self.viewer = rpc, loaders, token, viewer
        self.base_url = base_url  # the gateway's own URL as the client reached it, for links (Invoice.downloadUrl)
        self.token_error = token_error
        self.throttle, self.client = throttle, client  # api_gateway/throttle.py; the caller's address

    def call(self, service, method, *args, **kwargs):
        return self.rpc.call(service, method, *args, **kwargs)


def credential_call(info):
    """Counts a credential mutation (sign-in, sign-up, refresh, email
    verification, password reset) against the
    caller's address: RATE_LIMITED past the cap (api_gateway/throttle.py)."""
    if info.context.throttle is not None:
        info.context.throttle.credential_call(info.context.client)


def viewer(info, roles=None):
    """The signed-in caller, checked here as well as in the service."""
    ctx = info.context
    if ctx.viewer is None:
        raise ctx.token_error or Unauthenticated("sign in first: send Authorization: Bearer <access token>")
    if roles is not None and ctx.viewer.role not in roles:
        raise Forbidden("this needs one of the roles: {}".format(", ".join(sorted(roles))))
    return ctx.viewer


def self_or_admin(info, user_id):
    who = viewer(info)
    if not (who.is_admin or who.user_id == str(user_id)):
        raise Forbidden("only the user themself or an admin may see this")
    return who


def plain(value):
    """A graphene input object as the plain dict a service's schema reads."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
