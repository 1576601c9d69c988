"""Who may do what on RabbitMQ: one user per principal (the six services,
the gateway, operators' tools), the one table of their permissions, and
provisioning (docs/architecture.md, "The broker: a user each").

RabbitMQ grants a user, in a vhost, three regular expressions over resource
names: **configure** (declare or delete a queue or exchange), **write**
(publish to an exchange; bind a queue, which also needs read on the
exchange) and **read** (consume from or purge a queue; bind to an
exchange). On a topic exchange, *topic permissions* add two more, over
routing keys: **write**, the key a message is published with, and
**read**, the key a queue is bound with. Where a user has no topic
permission for an exchange RabbitMQ allows every key, so every user here
gets one for each exchange its regular permissions reach.

From the table below, ``grants`` computes for each principal:

* **Queues** (configure, write and read): only its own. A service's RPC
  queue ``rpc-<service>`` and its event queues
  ``evt-<source>-<type>--<service>.<method>`` (nameko's names,
  nameko/rpc.py and nameko/events.py); a caller's reply queues
  ``rpc.reply-<its broker user>-<uuid>`` (``adapt_nameko`` below); an
  operator's ``operator.*`` queues for watching events.
* **Exchanges**: nobody may configure one, since configure also deletes:
  a user that could delete ``nameko-rpc`` could declare it again as a
  direct exchange, where topic permissions do not apply, and bind
  ``identity.login``. ``provision`` declares them all; the platform's
  processes only check that they exist (``adapt_nameko``).
* **Events**: a service publishes only to its own ``<service>.events``; it
  binds to another's only with the event types it follows
  (``SUBSCRIPTIONS``). The gateway binds queues of its own
  (``gateway.live-<uuid>``) to ``communication.events`` with
  ``activity_added`` only, for its live streams (``LIVE_EVENTS``).
* **RPC** on ``nameko-rpc``: a request ``<service>.<method>`` is published
  only by that service's callers (``RPC_CALLS``); only the service binds
  ``<service>.*``; a reply goes only to a reply key of one of its callers,
  and a caller binds only its own reply keys, so no one else can read a
  request or its reply (a password in ``identity.login``, its tokens).
* **The default exchange** (``amq.default``, which delivers to any queue
  by name) is in no one's write permission.

tests/integration/test_broker_permissions.py tries each forgery and
wiretap with each other principal's credentials;
tests/architecture/test_broker_table.py holds the table to what the
services declare.

    python -m services.common.broker provision [--management-url URL]
    python -m services.common.broker secrets FILE [--admin]  # add the passwords FILE lacks
    python -m services.common.broker uri PRINCIPAL  # its AMQP URI, password included (from .run/broker.env)
    python -m services.common.broker table          # the permission table, as in docs/architecture.md
    python -m services.common.broker remove-users
"""
import base64
import hashlib
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from services.common.config import (PRINCIPALS, SERVICES, broker_settings, broker_user, check_principal,
                                    mask_uri)

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"  # nameko's default name (nameko/rpc.py, get_rpc_exchange)
ALL = "*"                    # every method of a service

# Who follows which events: one entry per ``@subscribe`` in the services
# (tests/architecture/test_broker_table.py fails when they differ). A new
# subscription is a change to what that service may read, made here.
SUBSCRIPTIONS = {
    "learning": {"identity": ("user_created", "user_updated", "user_deactivated", "session_revoked"),
                 "payment": ("payment_succeeded",),
                 # It carries the meeting's URL: granted to learning alone (services/communication/events.py).
                 "communication": ("video_session_created",)},
    "communication": {"identity": ("user_created", "user_updated", "user_deactivated", "session_revoked"),
                      "learning": ("lesson_booked", "lesson_paid", "lesson_confirmed", "lesson_cancelled",
                                   "lesson_completed", "lesson_expired"),
                      "payment": ("payment_succeeded", "payment_failed", "refund_succeeded", "payout_paid")},
    "payment": {"learning": ("lesson_booked", "lesson_expired", "lesson_cancelled", "lesson_completed"),
                "identity": ("session_revoked",)},
    "analytics": {"identity": ("user_created", "user_updated", "user_deactivated", "session_revoked")},
}

# Who calls which of a service's methods over RPC (ALL: any). The gateway
# and operators reach every service; learning's resync_users reads users
# from identity (services/learning/service.py).
RPC_CALLS = {
    "gateway": {service: ALL for service in SERVICES},
    "operator": {service: ALL for service in SERVICES},
    "learning": {"identity": ("list_users", "get_users")},
}

# The events the gateway follows itself, to wake its live streams (GET
# /stream, api_gateway/live.py): each gateway process binds a queue of its
# own (``LIVE_QUEUES`` + a uuid, exclusive and auto-delete) with these keys
# only. ``activity_added`` carries a user id and an activity id, never what
# was said: a stream reads the items over RPC with its client's token.
LIVE_EVENTS = {"gateway": {"communication": ("activity_added",)}}
LIVE_QUEUES = "gateway.live-"

# Where scripts/up keeps the development platform's passwords (scripts/lib.sh, load_broker_secrets).
SECRETS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            ".run", "broker.env")

# The queues an operator may declare, to watch events (docs/operations.md).
WATCH_QUEUES = "operator."

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NAME = "[A-Za-z_][A-Za-z0-9_]*"  # a method or an event type: one routing-key word

DENY = "^$"           # no resource name (a name is never empty; the default exchange is amq.default)
DENY_KEY = "^(?!)$"   # no routing key, not even the empty one


def events_exchange_name(service):
    return "{}.events".format(service)


def reply_key(user, reply_uuid):
    """The routing key of a caller's reply queue: one word (no dot), so it
    can never match a service's ``<service>.*`` binding."""
    return "reply-{}-{}".format(user, reply_uuid)


def reply_queue(user, reply_uuid):
    return "rpc.reply-{}-{}".format(user, reply_uuid)  # nameko's RPC_REPLY_QUEUE_TEMPLATE


@dataclass(frozen=True)
class Grant:
    """One principal's permissions in the platform's vhost."""
    principal: str
    user: str
    configure: str
    write: str
    read: str
    topics: tuple  # ((exchange, write, read), ...)

    def topic(self, exchange):
        return next(((w, r) for e, w, r in self.topics if e == exchange), None)


def _escape(text):
    """``text`` as a literal in RabbitMQ's regular expressions (Erlang's
    re, PCRE): only the metacharacters are escaped, so the table stays readable."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def _one_of(patterns, deny=DENY):
    patterns = list(patterns)
    return "^({})$".format("|".join(patterns)) if patterns else deny


def _words(names):
    return "|".join(_escape(n) for n in names)


def grants(environ=None, subscriptions=None, rpc_calls=None, services=SERVICES, live_events=None):
    """{principal: Grant}, computed from the services, who follows which
    events and who calls whom; user names from ``<PRINCIPAL>_AMQP_USER``."""
    subscriptions = SUBSCRIPTIONS if subscriptions is None else subscriptions
    live_events = LIVE_EVENTS if live_events is None else live_events
    rpc_calls = RPC_CALLS if rpc_calls is None else rpc_calls
    users = {p: broker_user(p, environ) for p in PRINCIPALS}
    table = {}
    for p in PRINCIPALS:
        queues, writes, reads, topics = [], set(), set(), {}

        def topic(exchange):
            return topics.setdefault(exchange, ([], []))

        if p in services:
            # Its RPC queue, bound with <service>.* (nameko/rpc.py, RpcConsumer).
            queues.append(_escape("rpc-" + p))
            writes.add(RPC_EXCHANGE)
            reads.add(RPC_EXCHANGE)
            topic(RPC_EXCHANGE)[1].append(_escape(p) + r"\.\*")
            # Replies go to its callers' reply keys only.
            callers = [users[c] for c in PRINCIPALS if p in rpc_calls.get(c, {})]
            if callers:
                topic(RPC_EXCHANGE)[0].append("reply-({})-{}".format(_words(callers), UUID))
            # Its own events, any type (services/common/outbox.py).
            own = events_exchange_name(p)
            writes.add(own)
            topic(own)[0].append(NAME)
            # The events it follows (services/common/inbox.py, subscribe).
            for source, types in sorted(subscriptions.get(p, {}).items()):
                exchange = events_exchange_name(source)
                reads.add(exchange)
                topic(exchange)[1].append("({})".format(_words(types)))
                queues.append(r"evt-{}-({})--{}\.{}".format(_escape(source), _words(types), _escape(p), NAME))
        for source, types in sorted(live_events.get(p, {}).items()):
            # The gateway's live streams (LIVE_EVENTS): its own queues, these keys only.
            exchange = events_exchange_name(source)
            reads.add(exchange)
            topic(exchange)[1].append("({})".format(_words(types)))
            queues.append(_escape(LIVE_QUEUES) + UUID)
        calls = rpc_calls.get(p, {})
        if calls:
            # Its reply queues and their keys (adapt_nameko), and its requests.
            queues.append(_escape(reply_queue(users[p], "")) + UUID)
            writes.add(RPC_EXCHANGE)
            reads.add(RPC_EXCHANGE)
            topic(RPC_EXCHANGE)[1].append(_escape(reply_key(users[p], "")) + UUID)
            for service, methods in sorted(calls.items()):
                which = NAME if methods == ALL else "({})".format(_words(methods))
                topic(RPC_EXCHANGE)[0].append(r"{}\.{}".format(_escape(service), which))
        if p == "operator":
            # Operators may watch any service's events, on queues of their own.
            queues.append(_escape(WATCH_QUEUES) + ".+")
            for service in services:
                exchange = events_exchange_name(service)
                reads.add(exchange)
                topic(exchange)[1].append(".*")
        table[p] = Grant(
            principal=p, user=users[p], configure=_one_of(queues),
            write=_one_of(queues + [_escape(e) for e in sorted(writes)]),
            read=_one_of(queues + [_escape(e) for e in sorted(reads)]),
            topics=tuple((e, _one_of(topics[e][0], DENY_KEY), _one_of(topics[e][1], DENY_KEY))
                         for e in sorted(topics)))
    return table


def exchanges(services=SERVICES):
    """Every exchange of the platform, as provisioning declares them:
    ``nameko-rpc`` and each service's ``<service>.events``, all durable
    topic exchanges (as nameko and services/common/outbox.py declare them)."""
    return [RPC_EXCHANGE] + [events_exchange_name(s) for s in services]


def password_hash(password, salt=None):
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64 of a 4-byte
    salt followed by SHA-256(salt + password), so no definitions document
    carries a password."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def definitions(environ=None):
    """A RabbitMQ definitions document (https://www.rabbitmq.com/definitions.html)
    with the vhost, every principal's user (tagless, so none can use the
    management API), their permissions and topic permissions, and the
    exchanges. Needs every principal's password (``<PRINCIPAL>_AMQP_PASSWORD``)."""
    settings = {p: broker_settings(p, environ) for p in PRINCIPALS}
    vhost = settings["operator"].vhost
    table = grants(environ)
    return {
        "vhosts": [{"name": vhost}],
        "users": [{"name": s.user, "password_hash": password_hash(s.password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""} for s in settings.values()],
        "permissions": [{"user": g.user, "vhost": vhost, "configure": g.configure, "write": g.write,
                         "read": g.read} for g in table.values()],
        "topic_permissions": [{"user": g.user, "vhost": vhost, "exchange": e, "write": w, "read": r}
                              for g in table.values() for e, w, r in g.topics],
        "exchanges": [{"name": e, "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False,
                       "internal": False, "arguments": {}} for e in exchanges()],
    }


def rabbitmqctl(*args, input=None):
    return subprocess.run(["rabbitmqctl", "-q", *args], input=input, check=True, capture_output=True,
                          text=True, timeout=120)


def _management(url, method, path, body=None):
    """One call to RabbitMQ's management HTTP API at ``url``
    (``http://user:password@host:15672``, an administrator's login)."""
    parts = urlsplit(url)
    request = urllib.request.Request(
        "{}://{}{}{}".format(parts.scheme, parts.hostname, ":{}".format(parts.port) if parts.port else "", path),
        method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Basic " + base64.b64encode(
            "{}:{}".format(unquote(parts.username or ""), unquote(parts.password or "")).encode()).decode()})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        if method == "DELETE" and exc.code == 404:
            return exc.code
        raise RuntimeError("RabbitMQ management API {} {}: {} {}".format(
            method, path, exc.code, exc.read().decode(errors="replace")[:500])) from None


def management_url(environ=None):
    env = os.environ if environ is None else environ
    return env.get("RABBITMQ_MANAGEMENT_URL") or None


def provision(environ=None, management=None):
    """Create or update every principal's user with its password and
    permissions, and declare the exchanges: one definitions import, through
    the management API when ``management`` (or ``RABBITMQ_MANAGEMENT_URL``)
    names one, else ``rabbitmqctl import_definitions``. Safe to run again:
    a user's password, permissions and topic permissions are set anew.
    Returns the grants."""
    document = definitions(environ)
    management = management or management_url(environ)
    if management:
        _management(management, "POST", "/api/definitions", document)
    else:
        # On stdin: the password hashes never touch a file.
        rabbitmqctl("import_definitions", "--format", "json", input=json.dumps(document))
    return grants(environ)


def remove_users(environ=None, management=None):
    """Delete every principal's user (the tests' and benchmarks' throwaway
    ones); a user that is not there is skipped."""
    management = management or management_url(environ)
    for p in PRINCIPALS:
        user = broker_user(p, environ)
        if management:
            _management(management, "DELETE", "/api/users/" + quote(user, safe=""))
        else:
            try:
                rabbitmqctl("delete_user", user)
            except subprocess.CalledProcessError as exc:
                if "does not exist" not in (exc.stderr or "") + (exc.stdout or ""):
                    raise


def new_password():
    return secrets.token_urlsafe(32)  # letters, digits, - and _: safe in env files, URIs and supervisord


def ensure_secrets(path, admin=False):
    """Add to ``path`` (``KEY=value`` lines, mode 0600) a password for each
    principal it has none for, and with ``admin`` one for RabbitMQ's
    administrator (docker-compose.yml); returns the names added."""
    have = set(read_secrets(path))
    wanted = ["{}_AMQP_PASSWORD".format(p.upper()) for p in PRINCIPALS] + (["RABBITMQ_ADMIN_PASSWORD"] if admin else [])
    added = [name for name in wanted if name not in have]
    if added:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.writelines("{}={}\n".format(name, new_password()) for name in added)
    return added


def read_secrets(path):
    """The ``KEY=value`` lines of ``path`` (empty when there is none)."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line and not line.startswith("#"))


def markdown_table(environ=None):
    """The permission table, as docs/architecture.md shows it."""
    rows = ["| user | configure | write | read | topic permissions (exchange: write / read) |",
            "|---|---|---|---|---|"]
    def code(text):
        return "`{}`".format(text.replace("|", "\\|"))  # a | inside a table cell must be escaped
    for g in grants(environ).values():
        topics = "<br>".join("{}: {} / {}".format(code(e), code(w), code(r)) for e, w, r in g.topics)
        rows.append("| {} | {} | {} | {} | {} |".format(code(g.user), code(g.configure), code(g.write),
                                                        code(g.read), topics))
    return "\n".join(rows)


# nameko, as the table needs it ------------------------------------------------

def _uri_user(uri):
    """The user of ``uri`` (the first of a failover list), or None."""
    if not isinstance(uri, str) or "://" not in uri:
        return None
    try:
        user = urlsplit(uri.split(";")[0].strip()).username
    except ValueError:
        return None
    return unquote(user) if user else None


def adapt_nameko():
    """Make nameko work within the table. Each process of the platform
    calls this before nameko connects: services/common/nameko_cli.py (the
    services, nameko shell), api_gateway/rpc.py, scripts/platformctl.py,
    tests/conftest.py. Without it nameko's first declare is refused, so a
    process that misses it fails at once rather than running with more
    rights. Idempotent.

    * nameko declares ``nameko-rpc`` and an event source's exchange each
      time it binds a queue (nameko/rpc.py ``get_rpc_exchange``,
      nameko/events.py ``get_event_exchange``); declaring needs configure,
      which no one has. Here the exchange is only checked (a passive
      declare): ``provision`` made it.
    * nameko names a reply queue after the caller's service and binds it
      with a bare uuid, which any caller could bind too once it saw the
      uuid as the ``reply_to`` of a request it served (learning serves the
      gateway and calls identity: it could read the gateway's replies from
      ``identity.login``). Here the queue and its key carry the broker user
      that made them (``rpc.reply-<user>-<uuid>``, key
      ``reply-<user>-<uuid>``), and only that user may bind such a key.
    * A caller names the ``reply_to`` of its request. Where it names a key
      the service may not publish to, the broker refuses the reply; nameko
      would take that for a disaster and kill the service, and the request,
      never acked, would kill it again after each restart. Here the refusal
      is one WARNING line and the request is acked (nameko/rpc.py, Responder).
    * nameko's log of a failed connection hides only the first password of
      a failover URI (nameko/messaging.py); here it hides them all.
    """
    import nameko
    import nameko.events
    import nameko.messaging
    import nameko.rpc
    from amqp.exceptions import AccessRefused
    from kombu import Queue

    if getattr(nameko.rpc.get_rpc_exchange, "adapted", False):
        return
    version = getattr(nameko, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version
        version = dist_version("nameko")
    if not version.startswith("2.14."):
        # ReplyListener.setup below follows nameko 2.14's (nameko/rpc.py).
        raise RuntimeError("services/common/broker.py adapts nameko 2.14, not {}: check adapt_nameko".format(version))

    def passive(get_exchange):
        def get(*args):
            exchange = get_exchange(*args)
            exchange.passive = True
            return exchange
        get.adapted = True
        return get

    def reply_listener_setup(self):
        """nameko 2.14's ReplyListener.setup, with names of the broker user's."""
        config = self.container.config
        owner = _uri_user(config.get("AMQP_URI")) or self.container.service_name
        reply_uuid = uuid.uuid4()
        self.routing_key = reply_key(owner, reply_uuid)
        self.queue = Queue(reply_queue(owner, reply_uuid), exchange=nameko.rpc.get_rpc_exchange(config),
                           routing_key=self.routing_key,
                           queue_arguments={"x-expires": nameko.rpc.RPC_REPLY_QUEUE_TTL})
        self.queue_consumer.register_provider(self)

    send_response = nameko.rpc.Responder.send_response

    def send_response_or_warn(self, result, exc_info):
        try:
            return send_response(self, result, exc_info)
        except AccessRefused as exc:
            log.warning("refused reply to %.200r (the broker: %s)", self.message.properties.get("reply_to"),
                        str(exc).splitlines()[0][:300])
            return result, exc_info

    nameko.events.get_event_exchange = passive(nameko.events.get_event_exchange)
    nameko.rpc.ReplyListener.setup = reply_listener_setup
    nameko.rpc.Responder.send_response = send_response_or_warn
    nameko.messaging.sanitize_url = mask_uri
    nameko.rpc.get_rpc_exchange = passive(nameko.rpc.get_rpc_exchange)  # last: marks it done


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    # What scripts/up made, unless this shell says otherwise.
    env = {**read_secrets(SECRETS_FILE), **os.environ}
    if cmd == "provision":
        management = rest[rest.index("--management-url") + 1] if "--management-url" in rest else None
        table = provision(env, management=management)
        vhost = broker_settings("operator", env).vhost
        for g in table.values():
            print("  {:<14} user {} in vhost {}".format(g.principal, g.user, vhost))
        print("  exchanges: {}".format(", ".join(exchanges())))
    elif cmd == "secrets" and rest and set(rest[1:]) <= {"--admin"}:
        added = ensure_secrets(rest[0], admin="--admin" in rest)
        if added:
            print("  added {} to {}".format(", ".join(added), rest[0]), file=sys.stderr)
    elif cmd == "uri" and len(rest) == 1:
        print(broker_settings(check_principal(rest[0]), env).uri)
    elif cmd == "table":
        print(markdown_table(env))
    elif cmd == "remove-users":
        remove_users(env)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, subprocess.CalledProcessError, RuntimeError) as exc:
        detail = getattr(exc, "stderr", None)
        print("error: {}{}".format(exc, "\n" + detail if detail else ""), file=sys.stderr)
        sys.exit(2)
