"""Mail that is really sent: a transactional mail outbox, an SMTP client
behind an outside resource, and a sender loop (docs/architecture.md, "Mail").

A domain function queues a mail in the caller's unit of work::

    queue_mail(uow.session, user.email, subject, text, html, kind="email_verification", sensitive=True)

so the mail exists exactly when the change that causes it commits. The
service's ``MailSender`` (a green thread, like the inbox's retry loop)
claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease, sends each
through the service's ``Mailer`` and marks it ``sent``; a failure is tried
again with exponential backoff from ``MAIL_RETRY_BASE_SECONDS`` until
``MAIL_MAX_ATTEMPTS``, then the row is ``dead``: logged at ERROR and listed
by the operator entrypoints of ``DeadMailRpc`` (``dead_mails``,
``retry_mail``), never dropped. A ``sensitive`` mail (it carries a live
token) has its bodies blanked once it is sent.

Like services/common/eventstore.py this module defines no table: each
service maps ``MailOutboxMixin`` on its own base with ``mail_outbox_model``
and creates it with ``create_mail_outbox`` (services/common/migrations.py).
"""
import html as html_lib
import logging
import socket
from datetime import datetime, timedelta, timezone
from email.utils import make_msgid, parseaddr

import eventlet
from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, DateTime, Index, Integer, String, Text, case, func,
                        select, text, update)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from services.common.access import OPERATORS
from services.common.errors import BadInput, NotFound
from services.common.eventstore import event_store_model
from services.common.resources import OutsideResource
from services.common.rpc import rpc

log = logging.getLogger(__name__)

MAIL_STATUSES = ("pending", "sent", "dead")
TABLE = "mail_outbox"
BATCH = 20
BACKOFF_CAP = 3600.0  # an hour between tries at most


class MailOutboxMixin:
    """One mail to send. ``pending`` until it is sent (``sent``) or has
    failed ``MAIL_MAX_ATTEMPTS`` times (``dead``). ``next_attempt_at`` is
    when it is due; while a sender holds it, the end of that sender's lease."""
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    # Its bodies carry a live token: blanked once it is sent.
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    sent_at = mapped_column(DateTime(timezone=True), nullable=True)

    @declared_attr.directive
    def __table_args__(cls):
        return (CheckConstraint("status IN ('pending', 'sent', 'dead')", name="ck_{}_status".format(cls.__tablename__)),
                Index("ix_{}_due".format(cls.__tablename__), "next_attempt_at",
                      postgresql_where=text("status = 'pending'")),
                Index("ix_{}_status".format(cls.__tablename__), "status", "id"))


def mail_outbox_model(base):
    """Map ``mail_outbox`` on a service's own declarative base."""
    return type("MailOutbox", (MailOutboxMixin, base), {"__tablename__": TABLE})


def _model_of(session):
    base = session.info.get("declarative_base")
    if base is None:
        raise RuntimeError("this session does not know its service's base: open it through a unit of work")
    return event_store_model(base, TABLE)


def queue_mail(session, to, subject, text, html, kind, sensitive=False, model=None):
    """Stage a mail in the caller's transaction: it is sent only if the
    transaction commits. Returns the row (its id once flushed)."""
    model = model or _model_of(session)
    row = model(to_address=to, subject=subject[:300], text_body=text, html_body=html, kind=kind,
                sensitive=bool(sensitive), status="pending", attempts=0)
    session.add(row)
    return row


def backoff(attempts, base, cap=BACKOFF_CAP):
    """Seconds before the next try after ``attempts`` failed ones: base,
    2 base, 4 base, ... up to ``cap``."""
    return min(base * (2 ** max(attempts - 1, 0)), cap)


# Bodies ---------------------------------------------------------------------

def html_page(heading, paragraphs, button=None, footer="", after=()):
    """A mail's HTML body in one plain, table-based layout that mail clients
    render alike: a heading, paragraphs (plain text, escaped here), an
    optional ``(label, url)`` button with the link written out below it,
    paragraphs ``after`` it, and a footer line."""
    esc = html_lib.escape
    para = '<p style="margin:0 0 16px;font-size:15px;line-height:1.55;color:#33384a">{}</p>'
    parts = [para.format(esc(p)) for p in paragraphs]
    if button:
        label, url = button
        parts.append(
            '<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 24px"><tr>'
            '<td style="border-radius:6px;background:#2f5bea">'
            '<a href="{url}" style="display:inline-block;padding:12px 22px;font-size:15px;font-weight:600;'
            'color:#ffffff;text-decoration:none;border-radius:6px">{label}</a></td></tr></table>'
            '<p style="margin:0 0 16px;font-size:13px;line-height:1.5;color:#6b7185">If the button does not work, '
            'copy this link into your browser:<br><a href="{url}" style="color:#2f5bea;word-break:break-all">'
            '{url}</a></p>'.format(url=esc(url, quote=True), label=esc(label)))
    parts.extend(para.format(esc(p)) for p in after)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title></head>'
        '<body style="margin:0;padding:0;background:#f3f4f8;font-family:-apple-system,BlinkMacSystemFont,'
        '\'Segoe UI\',Roboto,Helvetica,Arial,sans-serif">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f8">'
        '<tr><td align="center" style="padding:32px 12px">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px">'
        '<tr><td style="padding:0 4px 16px;font-size:17px;font-weight:700;color:#2f5bea">Tutoring Marketplace</td></tr>'
        '<tr><td style="background:#ffffff;border-radius:10px;padding:32px 32px 16px;border:1px solid #e3e5ee">'
        '<h1 style="margin:0 0 20px;font-size:21px;line-height:1.3;color:#1d2130">{title}</h1>{body}</td></tr>'
        '<tr><td style="padding:16px 8px;font-size:12px;line-height:1.5;color:#8a8fa3">{footer}</td></tr>'
        '</table></td></tr></table></body></html>\n').format(
            title=esc(heading), body="".join(parts), footer=esc(footer))


# The SMTP client ------------------------------------------------------------

class MailError(Exception):
    """The SMTP server could not be reached or refused the mail."""


class SmtpMailer:
    """Sends through an SMTP server with python-emails (text and HTML
    alternatives, headers encoded). One connection per batch."""

    def __init__(self, host, port, mail_from, username=None, password=None, starttls=False, timeout=10.0):
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.mail_from = parseaddr(str(mail_from))
        if "@" not in self.mail_from[1]:
            raise ValueError("MAIL_FROM has no address: {!r}".format(mail_from))
        # nameko's config parses each value as YAML: a number comes back as one.
        self.username = str(username) if username not in (None, "") else None
        self.password = str(password) if password not in (None, "") else None
        self.starttls = bool(starttls)
        self.domain = self.mail_from[1].rpartition("@")[2] or "localhost"

    def connection(self):
        from emails.backend.smtp import SMTPBackend
        options = {"host": self.host, "port": self.port, "tls": self.starttls, "timeout": self.timeout,
                   # Named here: emails would ask DNS for this host's FQDN.
                   "local_hostname": socket.gethostname(), "fail_silently": False}
        if self.username:
            options.update(user=self.username, password=self.password or "")
        return SMTPBackend(**options)

    def send(self, to, subject, text, html, connection=None, message_id=None):
        """Send one mail; raises ``MailError`` when it was not accepted."""
        import emails
        message = emails.html(html=html, text=text, subject=subject, mail_from=self.mail_from,
                              message_id=message_id or make_msgid(domain=self.domain))
        backend = connection or self.connection()
        try:
            response = message.send(to=to, smtp=backend)
            if response is None or not response.success:
                raise MailError("not accepted: {} {}".format(
                    getattr(response, "status_code", None), getattr(response, "status_text", b"") or b""))
        except MailError:
            raise
        except Exception as exc:  # refused, unreachable, timed out: all retried alike
            raise MailError("{}: {}".format(type(exc).__name__, exc)) from exc
        finally:
            if connection is None:
                backend.close()

    def close(self):
        pass


class FakeMailer:
    """Keeps what it is asked to send in ``sent``; ``failing = True`` (or an
    exception) makes every send raise, as an unreachable server would."""

    def __init__(self):
        self.sent, self.failing = [], False

    def connection(self):
        return None

    domain = "localhost"

    def send(self, to, subject, text, html, connection=None, message_id=None):
        if self.failing:
            raise self.failing if isinstance(self.failing, Exception) else MailError("connection refused")
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html, "message_id": message_id})


class Mailer(OutsideResource):
    """``mailer = Mailer()`` on a service that sends mail: an ``SmtpMailer``
    from ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USERNAME``, ``SMTP_PASSWORD``,
    ``SMTP_STARTTLS`` and ``MAIL_FROM``; ``Mailer(FakeMailer())`` in tests."""

    def make_client(self, config):
        return SmtpMailer(host=config.get("SMTP_HOST") or "127.0.0.1", port=config.get("SMTP_PORT") or 1025,
                          mail_from=config.get("MAIL_FROM") or "Tutoring Marketplace <no-reply@localhost>",
                          username=config.get("SMTP_USERNAME"), password=config.get("SMTP_PASSWORD"),
                          starttls=_flag(config.get("SMTP_STARTTLS")),
                          timeout=float(config.get("SMTP_TIMEOUT_SECONDS") or 10))


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


# The sender -----------------------------------------------------------------

class MailQueue:
    """The mail outbox of one service: claiming, outcomes and the operator
    view. ``units`` makes a unit of work on the service's engine."""

    def __init__(self, units, model, max_attempts, retry_base, lease):
        self.units, self.model = units, model
        self.max_attempts, self.retry_base, self.lease = max_attempts, retry_base, lease

    def claim_due(self, limit=BATCH):
        """Claim due mails: each gets a lease (``next_attempt_at`` moves
        ``lease`` seconds ahead) and its attempt is counted, so two senders
        never hold one mail, and a claim a crash leaves unfinished is due
        again when the lease ends."""
        m, now = self.model, datetime.now(timezone.utc)
        with self.units() as uow:
            due = select(m.id).where(m.status == "pending", m.next_attempt_at <= now) \
                .order_by(m.next_attempt_at, m.id).limit(limit).with_for_update(skip_locked=True)
            rows = uow.session.execute(
                update(m).where(m.id.in_(due.scalar_subquery()))
                .values(next_attempt_at=now + timedelta(seconds=self.lease), attempts=m.attempts + 1)
                .returning(m.id, m.to_address, m.subject, m.text_body, m.html_body, m.kind, m.attempts,
                           m.created_at)).all()
            uow.commit()
        return sorted(rows, key=lambda r: r.id)

    def mark_sent(self, mail_id):
        m = self.model
        with self.units() as uow:
            # A sensitive mail's token is not kept once it has gone out.
            uow.session.execute(update(m).where(m.id == mail_id).values(
                status="sent", sent_at=datetime.now(timezone.utc), last_error=None,
                text_body=_blank_if(m.sensitive, m.text_body), html_body=_blank_if(m.sensitive, m.html_body)))
            uow.commit()

    def mark_failed(self, mail_id, attempts, error):
        m = self.model
        error = (error or "unknown error")[:2000]
        with self.units() as uow:
            if attempts >= self.max_attempts:
                uow.session.execute(update(m).where(m.id == mail_id).values(status="dead", last_error=error))
                row = uow.session.get(m, mail_id)
                log.error("mail %s (%s to %s) is dead after %d attempt(s): %s; an operator can retry it "
                          "(retry_mail)", mail_id, row.kind, row.to_address, attempts, error.splitlines()[0])
            else:
                delay = backoff(attempts, self.retry_base)
                uow.session.execute(update(m).where(m.id == mail_id).values(
                    last_error=error, next_attempt_at=datetime.now(timezone.utc) + timedelta(seconds=delay)))
                log.warning("mail %s: attempt %d failed (%s); trying again in %.1fs", mail_id, attempts,
                            error.splitlines()[0], delay)
            uow.commit()

    # Operator API -------------------------------------------------------------

    def list(self, status="dead", limit=100):
        if status not in MAIL_STATUSES:
            raise BadInput("invalid status", {"status": ["Must be one of: {}.".format(", ".join(MAIL_STATUSES))]})
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise BadInput("invalid limit", {"limit": ["Must be a whole number from 1 to 1000."]})
        with self.units() as uow:
            rows = uow.session.execute(select(self.model).where(self.model.status == status)
                                       .order_by(self.model.id).limit(limit)).scalars().all()
            return [mail_summary(r) for r in rows]

    def retry(self, mail_id):
        """A dead mail becomes pending again, due now, with its attempts
        counted afresh."""
        if not isinstance(mail_id, int) or isinstance(mail_id, bool):
            raise BadInput("invalid id", {"mail_id": ["Must be a whole number."]})
        with self.units() as uow:
            row = uow.session.get(self.model, mail_id, with_for_update=True)
            if row is None:
                raise NotFound("no mail {}".format(mail_id), {"mail_id": ["Unknown mail."]})
            if row.status != "dead":
                raise BadInput("only dead mails can be retried", {"mail_id": ["Status is " + row.status]})
            row.status, row.attempts = "pending", 0
            row.next_attempt_at = datetime.now(timezone.utc)
            uow.session.flush()
            summary = mail_summary(row)
            uow.commit()
        return summary


def _blank_if(flag, column):
    return case((flag, ""), else_=column)


def mail_summary(row):
    """What operators see of a mail: never its bodies (a sensitive one
    carries a live token until it is sent)."""
    return {"id": row.id, "to_address": row.to_address, "subject": row.subject, "kind": row.kind,
            "status": row.status, "attempts": row.attempts, "sensitive": row.sensitive,
            "error": (row.last_error or "").splitlines()[0] if row.last_error else "",
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None}


class MailSender(DependencyProvider):
    """``mail_sender = MailSender()`` on a service with a ``uow``
    (UnitOfWorkProvider) whose base maps ``mail_outbox``, and a ``mailer``
    (``Mailer``). A green thread sends due mails; it is woken at the end of
    every worker (a mail its unit of work queued goes out at once) and polls
    every ``MAIL_POLL_SECONDS`` otherwise."""

    def setup(self):
        config = self.container.config
        self.max_attempts = int(config.get("MAIL_MAX_ATTEMPTS") or 8)
        self.retry_base = float(config.get("MAIL_RETRY_BASE_SECONDS") or 30)
        self.poll = float(config.get("MAIL_POLL_SECONDS") or 1.0)
        self.lease = float(config.get("MAIL_LEASE_SECONDS") or 120)
        self._running, self._wakeup, self._thread = False, GreenEvent(), None

    def start(self):
        from services.common.uow import UnitOfWorkProvider
        units = [d for d in self.container.dependencies if isinstance(d, UnitOfWorkProvider)]
        mailers = [d for d in self.container.dependencies if isinstance(d, Mailer)]
        if len(units) != 1 or len(mailers) != 1:
            raise TypeError("MailSender needs exactly one UnitOfWorkProvider and one Mailer on the service")
        self.mailer = mailers[0]
        self.queue = MailQueue(units[0].new_unit, event_store_model(units[0].declarative_base, TABLE),
                               self.max_attempts, self.retry_base, self.lease)
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        self._running = False
        self.wake()
        if self._thread is not None:
            self._thread.wait()  # a mail in flight is finished and marked, as the inbox's retries are

    def kill(self):
        self._running = False

    def wake(self):
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def worker_teardown(self, worker_ctx):
        if self._running:
            self.wake()

    def _loop(self):
        while self._running:
            self._wakeup = GreenEvent()  # a wake-up during this round makes the wait below end at once
            try:
                while self._running and self.send_due():
                    pass
            except Exception as exc:  # the database is down: the next round tries again
                log.warning("sending mail: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            with eventlet.Timeout(self.poll, False):
                self._wakeup.wait()

    def send_due(self):
        """Send one batch of due mails; returns how many were claimed."""
        rows = self.queue.claim_due()
        if not rows:
            return 0
        client = self.mailer.client
        connection = client.connection()
        try:
            for row in rows:
                if not self._running:
                    break  # its lease runs out and it is due again
                try:
                    client.send(row.to_address, row.subject, row.text_body, row.html_body, connection=connection,
                                message_id=self.message_id(row, getattr(client, "domain", "localhost")))
                except Exception as exc:
                    self.queue.mark_failed(row.id, row.attempts, str(exc) or type(exc).__name__)
                    if connection is not None:  # a broken connection is not reused
                        _close(connection)
                        connection = client.connection()
                    continue
                self.queue.mark_sent(row.id)
        finally:
            if connection is not None:
                _close(connection)
        return len(rows)

    def message_id(self, row, domain):
        """The same for every try of one mail, so a mail client shows a
        mail that reached it twice (a crash between sending and marking it
        sent) once."""
        return "<{}.{}.{}@{}>".format(self.container.service_name, row.id,
                                      int(row.created_at.timestamp()), domain)

    def get_dependency(self, worker_ctx):
        return self.queue


def _close(connection):
    try:
        connection.close()
    except Exception:
        pass


class DeadMailRpc:
    """Operator entrypoints over a service's mail outbox, mixed into every
    service that sends mail (``n.rpc.identity.dead_mails(token)``). The
    rows name people's addresses, so each call takes an admin's or a
    service's token (docs/operations.md, "Mail")."""

    @rpc
    def dead_mails(self, token, status="dead", limit=100):
        self.auth.require(token, OPERATORS)
        return self.mail_sender.list(status, limit)

    @rpc
    def retry_mail(self, token, mail_id):
        """Send a dead mail again: it is pending and due now."""
        self.auth.require(token, OPERATORS)
        return self.mail_sender.retry(mail_id)
