"""Small helpers shared by the integration tests."""
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, pool, text

from services.common.config import broker_settings


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for(predicate, timeout=30, interval=0.1, message="condition"):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after {}s waiting for {}".format(timeout, message))
        time.sleep(interval)


class Db:
    """A plain connection to one service's database, for looking (and, in
    fault tests, breaking things) from outside the service."""

    def __init__(self, url):
        self.engine = create_engine(url, poolclass=pool.NullPool)

    def scalar(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def all(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def execute(self, sql, **params):
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)


def user_snapshot(user_id=None, version=1, role="student", **changes):
    data = {"user_id": str(user_id or uuid.uuid4()), "email": "snap-{}@example.com".format(uuid.uuid4().hex[:8]),
            "first_name": "Snap", "last_name": "Shot", "role": role, "status": "active", "version": version}
    data.update(changes)
    return data


def make_envelope(event_type, data, version=1, producer="identity"):
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "version": version,
            "occurred_at": datetime.now(timezone.utc).isoformat(), "producer": producer, "data": data}


def as_principal(amqp_uri, principal):
    """``amqp_uri`` with ``principal``'s own broker login instead (a service,
    ``gateway`` or ``operator``; services/common/broker.py)."""
    own, parts = broker_settings(principal), urlsplit(amqp_uri)
    return urlunsplit(parts._replace(netloc="{}:{}@{}".format(
        quote(own.user, safe=""), quote(own.password, safe=""), parts.netloc.rsplit("@", 1)[-1])))


def publish(amqp_uri, source, envelope, routing_key=None):
    """Publish as ``source``'s relay would, with confirms and ``source``'s
    own login: no other broker user may publish to ``<source>.events``."""
    with Connection(as_principal(amqp_uri, source), transport_options={"confirm_publish": True}) as conn:
        exchange = Exchange("{}.events".format(source), type="topic", durable=True, passive=True)
        Producer(conn.default_channel, exchange=exchange, serializer="json", auto_declare=False).publish(
            envelope, routing_key=routing_key or envelope["event_type"], delivery_mode=2)


def payment_succeeded(lesson_id, student_user_id, tutor_user_id=None, amount=4500, currency="EUR"):
    """A ``payment_succeeded`` v1 envelope as payment publishes it on
    ``payment.events`` (its data as docs/events.md describes it)."""
    fee = amount * 15 // 100
    return make_envelope("payment_succeeded", {
        "payment_id": str(uuid.uuid4()), "lesson_id": str(lesson_id), "student_user_id": str(student_user_id),
        "tutor_user_id": str(tutor_user_id or uuid.uuid4()), "amount": amount, "platform_fee": fee,
        "currency": currency, "stripe_payment_intent_id": "pi_test_" + uuid.uuid4().hex[:24],
        "succeeded_at": datetime.now(timezone.utc).isoformat()}, producer="payment")


def mark_lesson_paid(amqp_uri, learning_db, lesson, envelope=None, timeout=30):
    """Pay for a booked lesson as the payment service would: publish its
    ``payment_succeeded`` (as payment, the only user that may publish to
    ``payment.events``) and wait until learning has made the lesson
    ``requested``. ``lesson`` is learning's view (``id``,
    ``student_user_id``, ``tutor_user_id``); returns the envelope sent, so
    a test can send it again."""
    envelope = envelope or payment_succeeded(lesson["id"], lesson["student_user_id"], lesson.get("tutor_user_id"))
    publish(amqp_uri, "payment", envelope)
    wait_for(lambda: learning_db.scalar("SELECT status::text FROM lessons WHERE id = :id",
                                        id=lesson["id"]) == "requested",
             timeout=timeout, message="lesson {} paid".format(lesson["id"]))
    return envelope


def messages_in(amqp_uri, queue):
    """Ready and unacknowledged messages in ``queue``, as the broker counts them."""
    vhost = unquote(urlsplit(amqp_uri).path[1:]) or "/"
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == queue:
            return int(fields[1])
    raise AssertionError("no queue {} in {}".format(queue, out))


def sink_dir():
    """Where this session's SMTP sink keeps the mail (tests/conftest.py)."""
    return os.environ["SMTP_SINK_DIR"]


def mails_to(address, subject=None):
    """Every mail the sink has kept for ``address`` (whose subject contains
    ``subject``), oldest first, parsed (``email.message.EmailMessage``)."""
    from devservers.smtp_sink import read
    return [read.load(sink_dir(), e) for e in read.matching(sink_dir(), address, subject)]


def mail_to(address, subject=None, timeout=30, count=1):
    """The ``count``-th mail to ``address`` (with ``subject`` in its
    subject), waiting until the services have sent it."""
    found = wait_for(lambda: len(mails_to(address, subject)) >= count and mails_to(address, subject),
                     timeout=timeout, message="mail {}to {}".format(
                         "'{}' ".format(subject) if subject else "", address))
    return found[count - 1]


def text_of(mail, kind="plain"):
    from devservers.smtp_sink import read
    return read.body(mail, kind)


TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-%]+)")


def token_from(mail):
    """The token of the link in a mail (verification or reset)."""
    found = TOKEN.search(text_of(mail))
    assert found, "no link with a token in:\n" + text_of(mail)
    return unquote(found.group(1))


VERIFICATION, RESET, TAKEN = "Confirm your email address", "Reset your password", "Someone tried to sign up"


def verify_by_mail(rpc, email, timeout=30):
    """Verify ``email`` with the token of the verification mail sent to it."""
    assert rpc.identity.verify_email({"token": token_from(mail_to(email, VERIFICATION, timeout))}) == {"ok": True}


def registered(rpc, *payloads):
    """Register each payload with identity, verify each address through the
    mail it was sent and sign each in; their users, in order. register
    answers only ``ok`` whether or not the email was taken
    (docs/architecture.md, "Accounts and enumeration"): the user comes from
    login, which an unverified address cannot do. The calls go out
    together, as each costs an argon2 hash."""
    for call in [rpc.identity.register.call_async(p) for p in payloads]:
        assert call.result()["ok"] is True
    for p in payloads:
        verify_by_mail(rpc, p["email"])
    sessions = [rpc.identity.login.call_async({"email": p["email"], "password": p["password"]}) for p in payloads]
    return [call.result()["user"] for call in sessions]


def create_admin_with_cli(email, password):
    """The operator's command (services/identity/manage.py), run as the operator runs it."""
    env = dict(os.environ, IDENTITY_ADMIN_PASSWORD=password)
    return subprocess.run([sys.executable, "-m", "services.identity.manage", "create-admin", "--email", email,
                           "--first-name", "Site", "--last-name", "Admin"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def operator_token():
    """An operator's token for the operator entrypoints (dead letters,
    resync_users, find_user_by_email), minted as docs/operations.md says; a
    fresh one per call, as it lives five minutes."""
    from services.identity.manage import operator_token as mint
    return mint()


def new_user(n=None, role="student"):
    tag = uuid.uuid4().hex[:10]
    return {"email": "user-{}{}@example.com".format(tag, n or ""), "password": "correct horse battery",
            "first_name": "Ada", "last_name": "Lovelace-{}".format(tag), "role": role}
