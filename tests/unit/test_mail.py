"""The pure parts of mail (services/common/mail.py, services/identity/mails.py):
backoff, the bodies identity sends, and the mailer with its fake. The
outbox, the sender and SMTP itself are tested against a real database and a
real SMTP server in tests/integration/test_mail.py."""
import html
import re
from datetime import datetime, timezone
from types import SimpleNamespace
from unittest import mock

import pytest
from nameko.testing.services import worker_factory

from services.common.errors import BadInput
from services.common.mail import (BACKOFF_CAP, FakeMailer, MailError, Mailer, MailQueue, MailSender, SmtpMailer,
                                  backoff, html_page, mail_summary, queue_mail)
from services.identity import mails
from services.identity.models import MailOutbox
from services.identity.service import IdentityService

APP = "https://app.example"


def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert [backoff(n, 30) for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert backoff(20, 30) == BACKOFF_CAP
    assert backoff(3, 0.3, cap=1.0) == 1.0


def test_the_verification_mail_links_to_the_app_with_the_token():
    subject, text, page = mails.verification(APP + "/", "Ada", "tok-en_1")
    assert subject == "Confirm your email address"
    assert "Hello Ada," in text and "https://app.example/verify-email?token=tok-en_1" in text
    assert 'href="https://app.example/verify-email?token=tok-en_1"' in page
    assert "48 hours" in text


def test_a_token_with_odd_characters_is_quoted_in_the_link():
    _, text, _ = mails.password_reset(APP, "Ada", "a+b/c")
    assert "/reset-password?token=a%2Bb%2Fc" in text


def test_the_reset_mail_says_how_long_and_what_it_does():
    subject, text, page = mails.password_reset(APP, "Ada", "t")
    assert subject == "Reset your password"
    assert "https://app.example/reset-password?token=t" in text and "1 hour." in text
    assert "ignore this mail" in text and "signs you out everywhere" in page


def test_the_taken_address_notice_carries_no_token_and_points_to_the_reset_page():
    subject, text, page = mails.address_taken(APP, "Ada")
    assert subject == "Someone tried to sign up with your email address"
    assert "token" not in text and "token" not in page
    assert "https://app.example/forgot-password" in text and 'href="https://app.example/forgot-password"' in page
    assert "No new account was created" in text


def test_names_are_escaped_in_the_html_body():
    _, text, page = mails.verification(APP, "<b>Eve</b> & co", "t")
    assert "Hello <b>Eve</b> & co," in text  # the text part is plain text
    assert "<b>Eve</b>" not in page and html.escape("<b>Eve</b> & co") in page


def test_html_page_is_a_whole_document_with_the_link_written_out():
    page = html_page("Title", ["One", "Two"], ("Go", "https://x.example/?a=1&b=2"), footer="Small print")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("https://x.example/?a=1&amp;b=2") == 3  # the button, and the link as text with its href
    assert "Small print" in page and "<h1" in page


def test_queue_mail_stages_a_pending_row_in_the_callers_session():
    session = mock.MagicMock()
    row = queue_mail(session, "ada@example.com", "Subject", "text", "<p>html</p>", "kind", sensitive=True,
                     model=MailOutbox)
    session.add.assert_called_once_with(row)
    assert (row.to_address, row.status, row.attempts, row.sensitive) == ("ada@example.com", "pending", 0, True)


def test_queue_mail_finds_the_services_table_from_its_session():
    from services.identity.models import Base
    session = SimpleNamespace(info={"declarative_base": Base}, added=[])
    session.add = session.added.append
    row = queue_mail(session, "ada@example.com", "S", "t", "h", "kind")
    assert isinstance(row, MailOutbox) and session.added == [row] and row.sensitive is False
    with pytest.raises(RuntimeError, match="unit of work"):
        queue_mail(SimpleNamespace(info={}), "a@b.c", "S", "t", "h", "k")


def test_identity_queues_each_mail_with_its_kind_and_sensitivity():
    user = SimpleNamespace(email="ada@example.com", first_name="Ada")
    with mock.patch.object(mails, "queue_mail") as queued:
        mails.queue_verification("s", APP, user, "t1")
        mails.queue_address_taken("s", APP, user)
        mails.queue_password_reset("s", APP, user, "t2")
    kinds = [(c.args[1], c.kwargs["kind"], c.kwargs.get("sensitive", False)) for c in queued.call_args_list]
    assert kinds == [("ada@example.com", "email_verification", True), ("ada@example.com", "address_taken", False),
                     ("ada@example.com", "password_reset", True)]


def test_the_fake_mailer_keeps_what_it_sends_and_can_fail():
    fake = FakeMailer()
    fake.send("ada@example.com", "S", "t", "h", message_id="<1@x>")
    assert fake.sent == [{"to": "ada@example.com", "subject": "S", "text": "t", "html": "h", "message_id": "<1@x>"}]
    fake.failing = True
    with pytest.raises(MailError):
        fake.send("ada@example.com", "S", "t", "h")


def test_the_mailer_is_built_from_the_services_config():
    client = Mailer().make_client({"SMTP_HOST": "mail.example", "SMTP_PORT": "2525", "SMTP_USERNAME": "u",
                                   "SMTP_PASSWORD": "p", "SMTP_STARTTLS": True,
                                   "MAIL_FROM": "Tutoring Marketplace <no-reply@tutoring.example>"})
    assert (client.host, client.port, client.username, client.password, client.starttls) == (
        "mail.example", 2525, "u", "p", True)
    assert client.mail_from == ("Tutoring Marketplace", "no-reply@tutoring.example")
    assert client.domain == "tutoring.example"
    defaults = Mailer().make_client({"SMTP_USERNAME": "", "SMTP_STARTTLS": "false"})
    assert (defaults.host, defaults.port, defaults.username, defaults.starttls) == ("127.0.0.1", 1025, None, False)
    with pytest.raises(ValueError, match="MAIL_FROM"):
        SmtpMailer("h", 25, "no address")


def test_an_unreachable_server_is_a_mail_error():
    from scripts.platformctl import free_port
    with pytest.raises(MailError, match="refused|Errno"):
        SmtpMailer("127.0.0.1", free_port(), "a@b.c", timeout=2).send("ada@example.com", "S", "t", "h")


def test_operators_never_see_a_mails_bodies():
    row = SimpleNamespace(id=3, to_address="ada@example.com", subject="Reset your password", kind="password_reset",
                          status="dead", attempts=6, sensitive=True, last_error="ConnectionRefusedError: no\nmore",
                          created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), sent_at=None,
                          text_body="token=secret", html_body="token=secret")
    summary = mail_summary(row)
    assert "secret" not in repr(summary) and summary["error"] == "ConnectionRefusedError: no"


@pytest.mark.parametrize("status,limit,field", [("lost", 10, "status"), ("dead", 0, "limit"),
                                                ("dead", True, "limit")])
def test_listing_refuses_what_it_cannot_answer(status, limit, field):
    queue = MailQueue(units=None, model=MailOutbox, max_attempts=3, retry_base=1, lease=10)
    with pytest.raises(BadInput) as refused:
        queue.list(status, limit)
    assert field in refused.value.details
    with pytest.raises(BadInput):
        queue.retry("7")


def test_the_sender_sends_each_claimed_mail_and_records_failures():
    sender, fake = MailSender(), FakeMailer()
    sender.container = SimpleNamespace(service_name="identity")
    sender.mailer, sender._running = SimpleNamespace(client=fake), True
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [SimpleNamespace(id=i, to_address="u{}@example.com".format(i), subject="S", text_body="t",
                            html_body="h", kind="k", attempts=1, created_at=created) for i in (1, 2)]
    sender.queue = mock.Mock(claim_due=mock.Mock(return_value=rows))
    assert sender.send_due() == 2
    assert [m["to"] for m in fake.sent] == ["u1@example.com", "u2@example.com"]
    assert fake.sent[0]["message_id"] == "<identity.1.{}@localhost>".format(int(created.timestamp()))
    assert [c.args for c in sender.queue.mark_sent.call_args_list] == [(1,), (2,)]
    fake.failing = True
    assert sender.send_due() == 2
    assert [c.args[:2] for c in sender.queue.mark_failed.call_args_list] == [(1, 1), (2, 1)]
    assert re.match("connection refused", sender.queue.mark_failed.call_args.args[2])


def test_identity_takes_a_fake_mailer_in_unit_tests():
    service = worker_factory(IdentityService, mailer=FakeMailer())
    assert isinstance(service.mailer, FakeMailer)


def test_the_sink_keeps_each_message_and_lists_it(tmp_path):
    from devservers.smtp_sink import read
    from devservers.smtp_sink.sink import MaildirSink
    sink = MaildirSink(str(tmp_path / "mail"))
    raw = b"From: a@example.com\r\nTo: Ada@Example.com\r\nSubject: Hello there\r\n\r\nSee ?token=abc%2B1 here\r\n"
    name = sink.keep("a@example.com", ["Ada@Example.com"], raw)
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.eml", name)
    assert (tmp_path / "mail" / name).read_bytes() == raw
    (entry,) = read.entries(str(tmp_path / "mail"))
    assert (entry["from"], entry["to"], entry["subject"], entry["file"]) == (
        "a@example.com", ["Ada@Example.com"], "Hello there", name)
    assert read.matching(str(tmp_path / "mail"), "ada@example.com", "hello") == [entry]
    assert read.matching(str(tmp_path / "mail"), "bob@example.com") == []
    message = read.wait_for_mail("ada@example.com", directory=str(tmp_path / "mail"), timeout=0)
    assert read.token_in(message) == "abc+1"


def test_the_platform_runs_the_sink_unless_smtp_host_is_another_server():
    from scripts.platformctl import smtp_env
    assert smtp_env({}, "/run") == {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "1025", "SMTP_SINK_DIR": "/run/mail"}
    assert smtp_env({"SMTP_PORT": "2525", "SMTP_SINK_DIR": "/tmp/m"}, "/run")["SMTP_SINK_DIR"] == "/tmp/m"
    assert smtp_env({"SMTP_HOST": "smtp.example.com"}, "/run") == {}
