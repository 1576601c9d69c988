"""RPC for the services: an entrypoint that a malformed request cannot kill,
and clients whose requests expire when their caller stops waiting
(docs/architecture.md, "Malformed messages" and "RPC requests expire").

Services import ``rpc`` and ``RpcProxy`` from here, never from nameko;
scripts and the gateway use ``ClusterRpcProxy`` from here
(tests/architecture/test_entrypoints.py).

**The entrypoint.** nameko's ``RpcConsumer`` answers through the request's
``reply_to``: a request without one raises ``KeyError: 'reply_to'`` after
the method has run, which kills the service, and the unacked request kills
it again after every restart. A body that is not an object with ``args``
(a list) and ``kwargs`` (an object) is as fatal when it has no
``reply_to``. ``RpcConsumer`` below checks a request before anything runs;
one that fails is refused (services/common/consumers.py): logged once,
rejected without requeue, and, where it names a ``reply_to``, answered
with ``BadInput`` so its caller does not wait for a timeout.

**The clients.** A request that waits in a stopped service's queue would
run when the service comes back, minutes after its caller gave up (the
gateway answered ``SERVICE_UNAVAILABLE``). Every request published here
carries a per-message TTL (AMQP ``expiration``) equal to its caller's
timeout, so RabbitMQ discards it instead of delivering it late: for the
standalone proxies, the timeout they wait for a reply with, read at each
call (the gateway changes it per call, api_gateway/rpc.py); for a
service's ``RpcProxy``, which in nameko waits for ever, a timeout of its
own (``RPC_TIMEOUT`` in the service's config, 30 s by default) that both
bounds the wait and sets the TTL. The TTL bounds the time a request waits
in the queue; one already taken by the service runs to its end.
"""
import logging

import eventlet
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
from nameko.exceptions import RpcTimeout, serialize
from nameko.standalone import rpc as standalone

from services.common.consumers import QueueConsumer, error_summary, log_refused
from services.common.errors import BadInput

log = logging.getLogger(__name__)

DEFAULT_RPC_TIMEOUT = 30.0
# kombu's Producer writes the TTL in whole milliseconds; 0 would mean "now
# or never", not "no TTL".
MIN_TTL = 0.001

JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "a boolean", type(None): "null"}


def malformed_request(body, message):
    """Why a decoded request cannot be run and answered, or None."""
    problems = []
    if not isinstance(body, dict):
        problems.append("the body is {}, not an object".format(JSON_TYPES.get(type(body), type(body).__name__)))
    else:
        missing = [key for key in ("args", "kwargs") if key not in body]
        if missing:
            problems.append("the body has no {}".format(" or ".join(missing)))
        if "args" in body and not isinstance(body["args"], list):
            problems.append("args is not a list")
        if "kwargs" in body and not isinstance(body["kwargs"], dict):
            problems.append("kwargs is not an object")
    reply_to = (message.properties or {}).get("reply_to")
    if not isinstance(reply_to, str) or not reply_to:
        problems.append("no reply_to, so nobody to answer")
    return "; ".join(problems) or None


class RpcConsumer(nameko_rpc.RpcConsumer):
    """nameko's ``RpcConsumer`` on the refusing consumer, checking each
    request before it reaches a method."""

    queue_consumer = QueueConsumer()

    def handle_message(self, body, message):
        reason = malformed_request(body, message)
        if reason is not None:
            self.refuse_message(message, reason)
            return
        super().handle_message(body, message)

    def refuse_message(self, message, reason):
        """Log, answer the caller if there is one, reject. Runs in a managed
        thread, where an exception would stop the container: none escapes."""
        try:
            reply_to = (message.properties or {}).get("reply_to")
            outcome = "rejected"
            if isinstance(reply_to, str) and reply_to:
                try:
                    self._answer(message, reply_to, BadInput("malformed RPC request: " + reason,
                                                             {"request": [reason]}))
                    outcome = "answered BadInput and rejected"
                except Exception as exc:
                    outcome = "could not answer ({}); rejected".format(error_summary(exc))
            log_refused(self.queue.name, message, reason, outcome)
        except Exception:
            log.exception("refusing a message on %s", self.queue.name)
        finally:
            self.queue_consumer.reject_message(message)

    def _answer(self, message, reply_to, error):
        """As nameko's ``Responder`` answers, but in the service's
        serializer: the request's own content type may be the problem."""
        config = self.container.config
        publisher = Publisher(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                              login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        publisher.publish({"result": None, "error": serialize(error)},
                          serializer=config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
                          exchange=nameko_rpc.get_rpc_exchange(config), routing_key=reply_to,
                          correlation_id=(message.properties or {}).get("correlation_id"))


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()


rpc = Rpc.decorator


# Clients ---------------------------------------------------------------------

def request_ttl(timeout):
    """The TTL, in seconds, of a request whose caller waits ``timeout``."""
    return None if timeout is None else max(float(timeout), MIN_TTL)


class MethodProxy(nameko_rpc.MethodProxy):
    """Publishes each request with ``expiration`` set to the caller's
    timeout: ``timeout`` when given (a service's ``RpcProxy``), otherwise
    the standalone proxy's reply timeout as it is at the call."""

    def __init__(self, worker_ctx, service_name, method_name, reply_listener, timeout=None, **options):
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def caller_timeout(self):
        if self.timeout is not None:
            return self.timeout
        # a standalone proxy's PollingQueueConsumer waits this long for a reply
        return getattr(self.reply_listener.queue_consumer, "timeout", None)

    def _call(self, *args, **kwargs):
        timeout = self.caller_timeout()
        # nameko's Publisher reads ``expiration`` from this attribute at each
        # publish: set before every call, it is that request's TTL.
        self.publisher.expiration = request_ttl(timeout)
        reply = super()._call(*args, **kwargs)
        if self.timeout is not None:
            return TimedReply(reply.reply_event, self.timeout, self.reply_listener)
        return reply


class TimedReply(nameko_rpc.RpcReply):
    """A reply waited for at most ``timeout`` seconds (nameko's in-service
    ``RpcReply`` waits for ever); then ``RpcTimeout``, as the standalone
    proxies raise."""

    def __init__(self, reply_event, timeout, reply_listener):
        super().__init__(reply_event)
        self.timeout, self.reply_listener = timeout, reply_listener

    def result(self):
        if self.resp_body is None:
            timer = eventlet.Timeout(self.timeout)
            try:
                self.resp_body = self.reply_event.wait()
            except eventlet.Timeout as exc:
                if exc is not timer:
                    raise
                self.reply_listener.forget(self.reply_event)
                raise RpcTimeout(self.timeout)
            finally:
                timer.cancel()
        return super().result()


class ReplyListener(nameko_rpc.ReplyListener):
    queue_consumer = QueueConsumer()

    def forget(self, reply_event):
        """Stop waiting for a reply: a late one is then dropped as unknown."""
        for correlation_id, event in list(self._reply_events.items()):
            if event is reply_event:
                del self._reply_events[correlation_id]


class ServiceProxy(nameko_rpc.ServiceProxy):
    def __getattr__(self, name):
        return MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class RpcProxy(nameko_rpc.RpcProxy):
    """``identity = RpcProxy("identity")`` on a service: calls that give up
    after ``timeout`` seconds (default: the config's ``RPC_TIMEOUT``, else
    30) and whose requests expire then."""

    rpc_reply_listener = ReplyListener()

    def __init__(self, target_service, timeout=None, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        timeout = self.timeout
        if timeout is None:
            timeout = float(self.container.config.get("RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT))
        return ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, timeout=timeout,
                            **self.options)


class ClusterProxy(standalone.ClusterProxy):
    def __getattr__(self, name):
        if name not in self._proxies:
            self._proxies[name] = ServiceProxy(self._worker_ctx, name, self._reply_listener)
        return self._proxies[name]


class ClusterRpcProxy(standalone.ClusterRpcProxy):
    """nameko's ``ClusterRpcProxy``; with a ``timeout``, each request
    expires when the wait for its reply would end."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._proxy = ClusterProxy(self._worker_ctx, self._reply_listener)


class ServiceRpcProxy(standalone.ServiceRpcProxy):
    """nameko's ``ServiceRpcProxy``, with requests that expire as above."""

    def __init__(self, service_name, *args, **kwargs):
        super().__init__(service_name, *args, **kwargs)
        self._proxy = ServiceProxy(self._worker_ctx, service_name, self._reply_listener)
