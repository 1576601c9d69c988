"""Consumers that a malformed message cannot kill (docs/architecture.md,
"Malformed messages").

nameko's ``QueueConsumer`` leaves a body it cannot decode (not JSON, not
UTF-8, or of a content type the service does not accept) to kombu's
``ConsumerMixin``, which logs it at ERROR **with the raw body** and acks it:
a password in it lands in the log, and a caller waiting for the answer
waits for its timeout. A body without a content type is handed over
undecoded, as bytes, and reaches the RPC entrypoint or the inbox as such,
and a ``nameko.call_id_stack`` header that is not a list of strings stops
the container when a worker starts. Here all three are **refused**:
logged once, with the queue, routing key, properties and headers but never
the body, and rejected without requeue. RabbitMQ then drops the message,
or dead-letters it where an operator has set a dead-letter policy on the
queue (docs/operations.md, "Malformed messages").

A provider (an entrypoint or the reply listener registered with the
consumer) may answer the refusal itself by defining
``refuse_message(message, reason)``; services/common/rpc.py's
``RpcConsumer`` does, to answer a caller that gave a ``reply_to``. Every
entrypoint that consumes (``rpc``, ``event_handler``) uses this consumer:
services import them from here and services/common/rpc.py, never from nameko
(tests/architecture/test_entrypoints.py).
"""
import logging
from functools import partial

from amqp.exceptions import ConnectionError
from kombu.serialization import prepare_accept_content
from nameko.constants import CALL_ID_STACK_CONTEXT_KEY, HEADER_PREFIX
from nameko.events import EventHandler as NamekoEventHandler
from nameko.messaging import QueueConsumer as NamekoQueueConsumer

log = logging.getLogger(__name__)

# The longest repr of a message's headers in the log: enough for nameko's
# context headers, bounded whatever a sender put there.
MAX_HEADERS_LOGGED = 500

# The headers nameko reads the caller's call stack from (it strips the
# prefix, so both names land on the same context key). A worker joins the
# stack as strings before its own error handling starts, so anything but a
# list of strings there stops the container.
CALL_ID_STACK_HEADERS = (CALL_ID_STACK_CONTEXT_KEY, "{}.{}".format(HEADER_PREFIX, CALL_ID_STACK_CONTEXT_KEY))


def describe(message):
    """Where a message came from and what it claimed to be, without its body."""
    delivery, props = message.delivery_info or {}, message.properties or {}
    headers = repr(message.headers or {})
    if len(headers) > MAX_HEADERS_LOGGED:
        headers = headers[:MAX_HEADERS_LOGGED - 3] + "..."
    return "routing key {!r}, content type {!r}, reply_to {!r}, correlation_id {!r}, headers {}".format(
        delivery.get("routing_key"), message.content_type, props.get("reply_to"), props.get("correlation_id"),
        headers)


def log_refused(queue, message, reason, outcome="rejected"):
    """The one line a refused message gets."""
    log.warning("refused a message on %s (%s): %s; %s", queue, describe(message), reason, outcome)


def malformed_headers(message):
    """Why nameko could not make a worker context of the headers, or None."""
    headers = message.headers or {}
    for name in CALL_ID_STACK_HEADERS:
        stack = headers.get(name, [])
        if not isinstance(stack, list) or not all(isinstance(call_id, str) for call_id in stack):
            return "the {} header is not a list of strings".format(name)
    return None


def error_summary(exc):
    """An exception's type and first line, bounded: decoders name what they
    failed on (a position, a content type), not the body."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return "{}: {}".format(type(exc).__name__, text[:200]) if text else type(exc).__name__


class QueueConsumer(NamekoQueueConsumer):
    """nameko's ``QueueConsumer``, refusing what its providers cannot take:
    a body that cannot be decoded, a content type the service does not
    accept (the config's ``serializer``; kombu also lets through untyped
    ``application/data`` and ``application/text`` bodies, which no caller of
    ours sends), and a call-stack header that is not a list of strings."""

    def setup(self):
        super().setup()
        self.accepted_types = set(prepare_accept_content(self.accept))

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        # With on_decode_error set, kombu's Consumer hands it the message
        # instead of raising out of the consume loop, which would end it.
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self.handle_undecodable, provider)
        return consumers

    def handle_message(self, provider, body, message):
        if message.content_type not in self.accepted_types:
            self.refuse(provider, message, "content type {!r} is not accepted (expected {})".format(
                message.content_type, " or ".join(sorted(self.accepted_types))))
            return
        reason = malformed_headers(message)
        if reason is not None:
            self.refuse(provider, message, reason)
            return
        super().handle_message(provider, body, message)

    def handle_undecodable(self, provider, message, exc):
        self.refuse(provider, message, "the body cannot be decoded ({})".format(error_summary(exc)))

    def refuse(self, provider, message, reason):
        """Called in the consumer's own thread: a provider's own answer runs
        in a thread of its own, as nameko runs ``handle_message``."""
        refuse_message = getattr(provider, "refuse_message", None)
        if refuse_message is None:
            log_refused(provider.queue.name, message, reason)
            self.reject_message(message)
        else:
            ident = "{}.refuse_message[{}]".format(type(provider).__name__,
                                                   (message.delivery_info or {}).get("routing_key"))
            self.container.spawn_managed_thread(partial(refuse_message, message, reason), identifier=ident)

    def reject_message(self, message):
        """Reject without requeue (dropped, or dead-lettered by a queue
        policy); as ``ack_message``, only while the message's connection
        lives, since otherwise the broker has reclaimed it already."""
        if message.channel.connection:
            try:
                message.reject(requeue=False)
            except ConnectionError:  # pragma: no cover
                pass


class EventHandler(NamekoEventHandler):
    """nameko's ``event_handler`` on the consumer above (services/common/inbox.py's
    ``subscribe``). A body that decodes but is not an event envelope reaches the
    inbox, which makes it a dead letter in ``failed_events``."""

    queue_consumer = QueueConsumer()


event_handler = EventHandler.decorator
