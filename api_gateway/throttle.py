"""Login throttling and a per-client cap on credential mutations, kept in
Redis so that it survives a gateway restart and holds across every gateway
process (docs/graphql.md, "Limits"; docs/architecture.md, "The public edge").

Two kinds of key, each per account (a hash of the normalised email, so
Redis never holds an address) and per client (its IP address):

* **Failures with backoff.** Every login attempt counts as a failure when it
  starts, so a burst of parallel guesses is counted before any of them is
  answered; a success forgives the account (see ``login_succeeded``). The first ``free`` attempts pass;
  after that each attempt that passes locks the key for ``base * 2**n``
  seconds (n = attempts beyond ``free``), up to ``max_lock``. While a key is
  locked the gateway answers RATE_LIMITED without asking identity, so no
  argon2 work is spent on it. Counters expire a day after the last failure.
* **A fixed window** on every credential mutation (login, register,
  refreshToken, requestPasswordReset, resetPassword, verifyEmail): at most
  ``per_minute`` per client per minute.

Each check is one Lua script: one round trip, atomic across gateways.
"""
import hashlib
import math

import redis

from api_gateway.errors import GatewayError

# KEYS: account failures, account lock, client failures, client lock.
# ARGV: account free, client free, base ms, max lock ms, counter ttl ms.
# Returns {0, 0} when the attempt may go ahead, else {which (1 account,
# 2 client), remaining ms}. Both locks are read before either counter moves,
# so a refused attempt is not counted.
_ATTEMPT = """
for i = 1, 2 do
  local locked = redis.call('PTTL', KEYS[2 * i])
  if locked > 0 then return {i, locked} end
end
for i = 1, 2 do
  local n = redis.call('INCR', KEYS[2 * i - 1])
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[5])
  local free = tonumber(ARGV[i])
  if n > free then
    local lock = math.min(tonumber(ARGV[3]) * 2 ^ (n - free - 1), tonumber(ARGV[4]))
    redis.call('SET', KEYS[2 * i], '1', 'PX', math.floor(lock))
  end
end
return {0, 0}
"""

# KEYS: account failures, account lock, client failures.
_FORGIVE = """
redis.call('DEL', KEYS[1], KEYS[2])
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
return 0
"""

# KEYS: window key. ARGV: limit, window ms. Returns 0 or the window's remaining ms.
_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return left
end
return 0
"""

DAY_MS = 86_400_000


class RateLimited(GatewayError):
    def __init__(self, message, retry_after):
        super().__init__(message, "RATE_LIMITED")
        self.extensions = {"retryAfter": retry_after}


class ThrottleUnavailable(GatewayError):
    def __init__(self):
        # Closed rather than open: without the store, nothing would stop
        # guessing, and login is the one door worth guarding.
        super().__init__("sign-in is unavailable for a moment (the throttle store does not answer); "
                         "try again shortly", "SERVICE_UNAVAILABLE")


class Throttle:
    def __init__(self, url, prefix, account_free=5, client_free=20, base_seconds=1.0, max_lock_seconds=900,
                 per_minute=60):
        self.redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix
        self.account_free, self.client_free = account_free, client_free
        self.base_ms, self.max_lock_ms = int(base_seconds * 1000), int(max_lock_seconds * 1000)
        self.per_minute = per_minute
        self._attempt = self.redis.register_script(_ATTEMPT)
        self._window = self.redis.register_script(_WINDOW)
        self._forgive = self.redis.register_script(_FORGIVE)

    def credential_call(self, client):
        """Count one credential mutation from ``client``; RateLimited past the window's cap."""
        left = self._run(self._window, [self._key("window", client)], [self.per_minute, 60_000])
        if left:
            raise RateLimited("too many sign-in requests from this address; try again in {} s"
                              .format(_seconds(left)), _seconds(left))

    def login_attempt(self, email, client):
        """Count a login attempt against the account and the client before it is
        checked; RateLimited while either is locked."""
        account = _account(email)
        which, left = self._run(self._attempt, [self._key("account", account), self._key("account-lock", account),
                                                self._key("client", client), self._key("client-lock", client)],
                                [self.account_free, self.client_free, self.base_ms, self.max_lock_ms, DAY_MS])
        if which:
            what = "this account" if which == 1 else "this address"
            raise RateLimited("too many failed sign-ins for {}; try again in {} s".format(what, _seconds(left)),
                              _seconds(left))

    def login_succeeded(self, email, client):
        """The right password forgives the account its failures and its lock.
        For the client it only takes back this attempt's count: forgiving
        more would let an attacker reset the address's count by signing in
        to an account of their own between guesses."""
        account = _account(email)
        self._run(self._forgive, [self._key("account", account), self._key("account-lock", account),
                                  self._key("client", client)], [])

    def health(self):
        try:
            self.redis.ping()
            return {"service": "redis", "status": "ok"}
        except redis.RedisError as exc:
            return {"service": "redis", "status": "unavailable", "error": str(exc)}

    def _run(self, script, keys, args):
        try:
            return script(keys=keys, args=args)
        except redis.RedisError:
            raise ThrottleUnavailable()

    def _key(self, kind, who):
        return "{}{}:{}".format(self.prefix, kind, who)


def _account(email):
    """The key for an account: identity compares emails case-insensitively
    once trimmed, so the throttle must too, or case games would reset it."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def _seconds(ms):
    return max(1, math.ceil(ms / 1000))
