"""Pooled, long-lived RPC clients with a timeout on every call.

A new ``ClusterRpcProxy`` costs about 13 ms against 1.7 ms for a call on a
reused one (docs/architecture.md, "Runtime notes"), so clients are made
once and lent to one request at a time: a proxy is not safe to share
between concurrent requests.

Each request carries a TTL equal to its call's timeout
(services/common/rpc.py), so one the gateway gave up on (answered
SERVICE_UNAVAILABLE or TIMEOUT) is dropped by the broker, not run when a
stopped service comes back.
"""
import logging
import time
from collections import Counter

import eventlet.queue
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RpcTimeout, UnknownService

from services.common.broker import adapt_nameko
from services.common.config import rpc_config
from services.common.rpc import ClusterRpcProxy

log = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """A service did not answer in time, is not running, or the broker is unreachable."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, service, reason):
        super().__init__("the {} service is unavailable ({})".format(service, reason))
        self.service = service


class BudgetExceeded(Exception):
    """The request's time budget (GATEWAY_TIME_BUDGET) ran out while it
    waited for a client, a reply or its turn."""

    code = "TIMEOUT"


class TooManyRpcs(Exception):
    """The request has made as many RPCs as one request may (GATEWAY_MAX_RPCS)."""

    code = "QUERY_TOO_COSTLY"

    def __init__(self, limit):
        super().__init__("this request needs more than {} RPCs to the services, the limit for one request; "
                         "ask for fewer fields or aliases".format(limit))


class RpcPool:
    def __init__(self, amqp_uri, size, timeout):
        self.config = rpc_config(amqp_uri)  # with the TLS options of an amqps:// URI
        adapt_nameko()  # reply queues and keys the gateway's broker user may use (services/common/broker.py)
        self.timeout = timeout
        self.size = size
        self._idle = eventlet.queue.LightQueue()
        self._made = 0

    def _new(self):
        proxy = ClusterRpcProxy(self.config, timeout=self.timeout)
        return proxy, proxy.start()

    def acquire(self, timeout):
        """An idle client, a new one while fewer than ``size`` exist, or the
        next one given back within ``timeout`` seconds; BudgetExceeded after
        that. Under load this wait is where the time goes, so it must count
        against the request's budget like the reply does."""
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
        try:
            return self._idle.get(timeout=max(timeout, 0))
        except eventlet.queue.Empty:
            raise BudgetExceeded("the request's time budget ran out while it waited for a free RPC client "
                                 "(the gateway is busy; try again)")

    def release(self, client, broken=False):
        # A reply that came after its call gave up would stay in the
        # consumer's dict for good; with one call at a time per client,
        # anything left there now is such a reply.
        if not broken:
            client[0]._reply_listener.queue_consumer.replies.clear()
        if broken:
            self._made -= 1
            try:
                client[0].stop()
            except Exception:
                pass
        else:
            self._idle.put(client)


class RequestRpc:
    """The RPC calls of one GraphQL request: the request's time budget, a
    count of calls (the batching test reads it) with a cap (``max_calls``;
    None for none), and a memory of services that already failed, so a
    request waits for a stopped service once, not once per field.

    A client is borrowed from the pool for one call at a time and given back
    at once, so requests that are busy in Python between calls do not hold
    clients that others wait for. Each wait (for a client, for a reply) is
    bounded by what is left of the budget, so an over-budget request answers
    TIMEOUT promptly instead of queueing on."""

    def __init__(self, pool, time_budget, max_calls=None):
        self.pool = pool
        self.deadline = time.monotonic() + time_budget
        self.max_calls = max_calls
        self.made = 0
        self.calls = Counter()
        self.down = {}

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BudgetExceeded("the request's time budget ran out")
        return left

    def call(self, service, method, *args, **kwargs):
        return self.call_within(self.pool.timeout, service, method, *args, **kwargs)

    def call_within(self, limit, service, method, *args, **kwargs):
        """``call`` with its own per-call timeout ``limit``, for the few calls
        that do slow work on purpose (drawing a document), still bounded by
        the request's budget."""
        if service in self.down:
            raise ServiceUnavailable(service, self.down[service])
        self.remaining()
        if self.max_calls is not None and self.made >= self.max_calls:
            raise TooManyRpcs(self.max_calls)
        self.made += 1
        self.calls["{}.{}".format(service, method)] += 1
        client = self._borrow()
        broken = False
        try:
            timeout = min(limit, self.remaining())
            _set_reply_timeout(client[0], timeout)
            return getattr(getattr(client[1], service), method)(*args, **kwargs)
        except RpcTimeout:
            if timeout < limit:  # cut short by the budget, not a silent service
                raise BudgetExceeded("the request's time budget ran out while it waited for {}".format(service))
            self.down[service] = "no answer within {:g}s".format(limit)
        except UnknownService:
            self.down[service] = "not running"
        except (OSError, IOError, KombuOperationalError) as exc:  # broker connection lost (kombu wraps it)
            broken = True
            self.down[service] = "broker unreachable"
            log.warning("RPC to %s failed: %s", service, exc)
        finally:
            self.pool.release(client, broken=broken)
        raise ServiceUnavailable(service, self.down[service])

    def _borrow(self):
        try:
            return self.pool.acquire(self.remaining())
        except BudgetExceeded:
            raise
        except Exception as exc:
            raise ServiceUnavailable("broker", str(exc).splitlines()[0] if str(exc) else "unreachable")


def _set_reply_timeout(proxy, seconds):
    """nameko's standalone proxy takes one timeout when it is made; the
    wait for a reply reads it from the reply listener's queue consumer on
    every call (nameko/standalone/rpc.py, PollingQueueConsumer.get_message),
    so setting it there bounds this call by what is left of the budget. The
    request's TTL is read from there too (services/common/rpc.py, MethodProxy)."""
    proxy._reply_listener.queue_consumer.timeout = seconds
