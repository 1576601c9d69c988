"""Live delivery: ``GET /stream``, server-sent events of the caller's new
messages and notifications (docs/graphql.md, "Live updates").

Delivery goes through the broker, not a process's memory, so a message sent
through one gateway process reaches a stream held by another:

* Each gateway process has one ``Hub``: a green thread that consumes
  communication's ``activity_added`` events (a user id and an activity id,
  never what was said) from a queue of the process's own,
  ``gateway.live-<uuid>``, exclusive and auto-delete, bound to
  ``communication.events`` (declared passively: no one declares exchanges;
  services/common/broker.py, ``LIVE_EVENTS``), and wakes that user's
  streams in the process.
* A woken stream asks communication for what is new with its own client's
  token (``activity_since``), so the items reach the client over RPC, as
  the client may read them, and the broker never carries them to the gateway.

A stream registers for wake-ups *before* it reads anything, and a wake-up
that comes while it reads makes it read again: an item committed at any
moment is read either by the read in progress or by the next one (no gap),
and each read starts after the last id sent (no repeat). When the hub
(re)binds its queue it wakes every stream, for what came while it was
away.
"""
import json
import logging
import socket
import threading
import time
import uuid

from services.common.broker import LIVE_EVENTS, LIVE_QUEUES, events_exchange_name
from services.common.errors import ServiceError, Unauthenticated

log = logging.getLogger(__name__)

PAGE = 100           # items per activity_since call (its largest page)
RETRY_MS = 2000      # what EventSource-style clients wait before reconnecting
READY_WAIT = 5.0     # seconds a new stream waits for its process's queue to be bound
BACKOFF = 2.0        # seconds between reads while communication does not answer
LIVE_SOURCE, LIVE_TYPES = next(iter(LIVE_EVENTS["gateway"].items()))


# The wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html).

def frame(item):
    """One item as an SSE event: ``id`` (the activity id, for Last-Event-ID),
    ``event`` (message or notification) and ``data`` (the item as
    activity_since returns it, as one line of JSON)."""
    return "id: {}\nevent: {}\ndata: {}\n\n".format(int(item["id"]), _kind(item["kind"]),
                                                    json.dumps(item, separators=(",", ":"), sort_keys=True))


def _kind(kind):
    if kind not in ("message", "notification"):
        raise ValueError("unknown activity kind {!r}".format(kind))
    return kind


def comment(text):
    """An SSE comment: clients ignore it; it keeps proxies and the connection awake."""
    return ": {}\n\n".format(text.replace("\n", " "))


def control(event, position, message):
    """A stream's own events (``ready``, ``reauthenticate``): ``id`` carries
    the position to resume from, ``data`` a JSON object."""
    return "id: {}\nevent: {}\ndata: {}\n\n".format(position, event, json.dumps(
        {"after": position, "message": message}, separators=(",", ":")))


def parse_position(value):
    """Last-Event-ID or ``?after=``: an activity id, a whole number 0 or more;
    None when not given; ValueError otherwise."""
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 19:
        raise ValueError("must be an activity id: a whole number, 0 or more")
    return int(value)


# One stream --------------------------------------------------------------------

class Waiter:
    """A stream's wake-up: set by the hub, waited on by the stream."""

    def __init__(self, user_id):
        self.user_id = user_id
        self._event = threading.Event()  # green under the eventlet worker's monkey-patching

    def set(self):
        self._event.set()

    def wait(self, timeout):
        """True when woken within ``timeout`` seconds; clears the wake-up
        before returning, so one that comes during the read that follows is kept."""
        woke = self._event.wait(max(timeout, 0))
        self._event.clear()
        return woke


def events(fetch, waiter, after, expires_at, heartbeat=15.0, now=time.time, ready=None):
    """The text of one stream, chunk by chunk.

    ``fetch(after, limit)`` is ``activity_since`` with the client's token
    (``{"items", "last_id", "more"}``); ``waiter`` the stream's wake-up,
    registered with the hub before this starts; ``after`` the last activity
    id the client has (None: it has none, and gets only what comes from
    now); ``expires_at`` when the token expires (epoch seconds): the stream
    then ends with ``event: reauthenticate``; ``ready()`` waits for the
    process's queue to be bound."""
    yield "retry: {}\n\n".format(RETRY_MS)
    if ready is not None:
        ready()
    fresh = after is None
    position = 0 if fresh else after
    last_write = now()
    announced = False
    while True:
        if now() >= expires_at:
            yield control("reauthenticate", position, "the access token has expired: reconnect with a fresh one "
                                                      "and this id as Last-Event-ID")
            return
        try:
            for item, position in _read(fetch, position, send=not fresh):
                if item is not None:
                    yield frame(item)
                    last_write = now()
        except Unauthenticated as exc:  # the session ended, or the token expired meanwhile
            yield control("reauthenticate", position, exc.message)
            return
        except ServiceError as exc:
            log.warning("a live stream ends: communication refused activity_since: %s", exc)
            yield control("error", position, exc.message)
            return
        except Exception as exc:  # communication does not answer (ServiceUnavailable, TIMEOUT): try again
            log.warning("a live stream could not read its activity: %s", exc)
            yield comment("communication is unavailable; retrying")
            last_write = now()
            waiter.wait(min(BACKOFF, max(expires_at - now(), 0)))
            continue
        fresh = False
        if not announced:  # caught up: from here on the client gets each item as it comes
            yield control("ready", position, "caught up; new items follow as they come")
            announced, last_write = True, now()
        woke = waiter.wait(min(heartbeat - (now() - last_write), expires_at - now()))
        if not woke and now() - last_write >= heartbeat and now() < expires_at:
            yield comment("heartbeat")
            last_write = now()


def _read(fetch, position, send=True):
    """(item, new position) for every item after ``position``, in pages;
    with ``send`` false the items are skipped, and (None, position) ends
    each page (a client with no Last-Event-ID starts from now). An item at or before
    the position is never sent again."""
    while True:
        page = fetch(position, PAGE)
        for item in page["items"]:
            if int(item["id"]) > position:
                position = int(item["id"])
                if send:
                    yield item, position
        position = max(position, int(page.get("last_id") or 0))
        if not send:
            yield None, position
        if not page.get("more"):
            return


class Closing:
    """A stream's chunks, with ``close`` (called by the WSGI server when the
    response ends, the client went away, or the response never started)
    giving the stream's place back to the hub, once."""

    def __init__(self, chunks, on_close):
        self._chunks, self._on_close = chunks, on_close

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._chunks)

    def close(self):
        on_close, self._on_close = self._on_close, None
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            if on_close is not None:
                on_close()


# The process's hub -----------------------------------------------------------

class StreamsFull(Exception):
    """The process holds as many streams as it may (GATEWAY_MAX_STREAMS)."""


class Hub:
    """The streams of one gateway process, and the one broker consumer that wakes them."""

    def __init__(self, amqp_uri, max_streams, tls=None, spawn=None):
        self.amqp_uri, self.tls = amqp_uri, tls
        self.max_streams = max_streams
        self.queue_name = LIVE_QUEUES + str(uuid.uuid4())
        self.ready = threading.Event()
        self._streams = {}
        self._count = 0
        self._started = False
        self._spawn = spawn

    @property
    def count(self):
        return self._count

    def open(self, user_id):
        """A new stream's waiter, registered; StreamsFull past the cap."""
        if self._count >= self.max_streams:
            raise StreamsFull("this gateway process holds {} live streams, its limit".format(self.max_streams))
        waiter = Waiter(str(user_id))
        self._streams.setdefault(waiter.user_id, set()).add(waiter)
        self._count += 1
        self.start()
        return waiter

    def close(self, waiter):
        streams = self._streams.get(waiter.user_id)
        if streams is not None and waiter in streams:
            streams.discard(waiter)
            self._count -= 1
            if not streams:
                del self._streams[waiter.user_id]

    def wake(self, user_id):
        for waiter in list(self._streams.get(str(user_id), ())):
            waiter.set()

    def wake_all(self):
        for waiters in list(self._streams.values()):
            for waiter in list(waiters):
                waiter.set()

    def wait_ready(self, timeout=READY_WAIT):
        return self.ready.wait(timeout)

    def on_event(self, body, message=None):
        """An ``activity_added`` envelope: wake its user's streams here."""
        try:
            if isinstance(body, (bytes, str)):
                body = json.loads(body)
            user_id = body["data"]["user_id"]
        except (ValueError, KeyError, TypeError):
            log.warning("live: an activity_added event without a user id: %.200r", body)
            return
        self.wake(user_id)

    def start(self):
        if self._started:
            return
        self._started = True
        if self._spawn is not None:
            self._spawn(self.run)
        else:
            import eventlet
            eventlet.spawn_n(self.run)  # a green thread of the worker process

    def run(self):
        """Consume ``activity_added`` for as long as the process lives,
        reconnecting after a broker outage (every stream is woken then, for
        what it may have missed)."""
        delay = 0.5
        while True:
            try:
                self._consume()
                delay = 0.5
            except Exception as exc:
                self.ready.clear()
                log.warning("live: the broker consumer stopped (%s); again in %.1fs",
                            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30)

    def _consume(self):
        from kombu import Connection, Exchange, Queue
        exchange = Exchange(events_exchange_name(LIVE_SOURCE), type="topic", passive=True)
        queues = [Queue(self.queue_name, exchange=exchange, routing_key=key, exclusive=True, auto_delete=True,
                        durable=False) for key in LIVE_TYPES]
        with Connection(self.amqp_uri, ssl=self.tls or False, heartbeat=20) as conn:
            conn.ensure_connection(max_retries=1)
            with conn.Consumer(queues, callbacks=[self.on_event], no_ack=True, accept=["json"]):
                self.ready.set()
                self.wake_all()  # what came while the queue was not bound
                log.info("live: consuming %s on %s", ", ".join(LIVE_TYPES), self.queue_name)
                while True:
                    try:
                        conn.drain_events(timeout=5)
                    except socket.timeout:
                        conn.heartbeat_check()
