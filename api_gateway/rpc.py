"""Pooled, long-lived RPC clients with a timeout on every call.

A new ``ClusterRpcProxy`` costs about 13 ms against 1.7 ms for a call on a
reused one (docs/architecture.md, "Runtime notes"), so clients are made
once and lent to one request at a time: a proxy is not safe to share
between concurrent requests.
"""
import logging
import time
from collections import Counter

import eventlet.queue
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

log = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """A service did not answer in time, is not running, or the broker is unreachable."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, service, reason):
        super().__init__("the {} service is unavailable ({})".format(service, reason))
        self.service = service


class BudgetExceeded(Exception):
    code = "TIMEOUT"


class TooManyRpcs(Exception):
    """The request has made as many RPCs as one request may (GATEWAY_MAX_RPCS)."""

    code = "QUERY_TOO_COSTLY"

    def __init__(self, limit):
        super().__init__("this request needs more than {} RPCs to the services, the limit for one request; "
                         "ask for fewer fields or aliases".format(limit))


class RpcPool:
    def __init__(self, amqp_uri, size, timeout):
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self.size = size
        self._idle = eventlet.queue.LightQueue()
        self._made = 0

    def _new(self):
        proxy = ClusterRpcProxy(self.config, timeout=self.timeout)
        return proxy, proxy.start()

    def acquire(self):
        try:
            return self._idle.get_nowait()
        except eventlet.queue.Empty:
            pass
        if self._made < self.size:
            self._made += 1
            try:
                return self._new()
            except Exception:
                self._made -= 1
                raise
        return self._idle.get()  # wait for one to come back

    def release(self, client, broken=False):
        if broken:
            self._made -= 1
            try:
                client[0].stop()
            except Exception:
                pass
        else:
            self._idle.put(client)


class RequestRpc:
    """The RPC calls of one GraphQL request: a borrowed client, the request's
    time budget, a count of calls (the batching test reads it) with a cap
    (``max_calls``; None for none), and a memory of services that already
    failed, so a request waits for a stopped service once, not once per field."""

    def __init__(self, pool, time_budget, max_calls=None):
        self.pool = pool
        self.deadline = time.monotonic() + time_budget
        self.max_calls = max_calls
        self.made = 0
        self.calls = Counter()
        self.down = {}
        self._client = None
        self._broken = False

    def call(self, service, method, *args, **kwargs):
        if service in self.down:
            raise ServiceUnavailable(service, self.down[service])
        if time.monotonic() > self.deadline:
            raise BudgetExceeded("the request's time budget ran out")
        if self.max_calls is not None and self.made >= self.max_calls:
            raise TooManyRpcs(self.max_calls)
        self.made += 1
        self.calls["{}.{}".format(service, method)] += 1
        try:
            return getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except RpcTimeout:
            self.down[service] = "no answer within {:g}s".format(self.pool.timeout)
        except UnknownService:
            self.down[service] = "not running"
        except (OSError, IOError) as exc:  # broker connection lost
            self._broken = True
            self.down[service] = "broker unreachable"
            log.warning("RPC to %s failed: %s", service, exc)
        raise ServiceUnavailable(service, self.down[service])

    def _proxy(self):
        if self._client is None:
            try:
                self._client = self.pool.acquire()
            except Exception as exc:
                raise ServiceUnavailable("broker", str(exc).splitlines()[0] if str(exc) else "unreachable")
        return self._client[1]

    def close(self):
        if self._client is not None:
            self.pool.release(self._client, broken=self._broken)
            self._client = None
