"""Mail that is really sent: identity's account mails reach this session's
SMTP sink (devservers/smtp_sink) through the real SMTP client, the mail
outbox survives an SMTP outage, and a mail that keeps failing is a dead
mail an operator can list and send again (services/common/mail.py)."""
import uuid

import pytest

import services.common.errors  # noqa: F401  registers the typed errors with nameko
from services.common.errors import BadInput, Forbidden, NotFound
from tests.integration.helpers import (RESET, TAKEN, VERIFICATION, Db, mail_to, mails_to, new_user, operator_token,
                                       registered,
                                       text_of, token_from, wait_for)

APP_URL = "http://127.0.0.1:8000"  # config/identity.yaml's default, which the session keeps


@pytest.fixture(scope="module")
def db(databases):
    return Db(databases["identity"].url)


@pytest.fixture
def smtp_down(platform):
    """The sink stopped for the test, and started again whatever happens."""
    platform.stop("smtp")
    try:
        yield
    finally:
        platform.start_smtp()


def outbox_row(db, address, kind):
    rows = db.all("SELECT id, status, attempts, last_error, text_body, html_body, sent_at FROM mail_outbox "
                  "WHERE to_address = :a AND kind = :k ORDER BY id", a=address, k=kind)
    return rows[-1] if rows else None


def test_the_verification_mail_arrives_with_a_link_whose_token_verifies(platform, rpc, db):
    user = new_user()
    assert rpc.identity.register(user) == {"ok": True}
    mail = mail_to(user["email"], VERIFICATION)
    assert mail["From"] == "Tutoring Marketplace <no-reply@localhost>" and mail["To"] == user["email"]
    assert mail["Message-ID"].startswith("<identity.")
    text, page = text_of(mail), text_of(mail, "html")
    token = token_from(mail)
    link = "{}/verify-email?token={}".format(APP_URL, token)
    assert link in text and 'href="{}"'.format(link) in page and "Hello Ada," in text
    assert rpc.identity.verify_email({"token": token}) == {"ok": True}
    assert rpc.identity.login({"email": user["email"], "password": user["password"]})["user"]["email_verified"]
    # It carried a live token: once sent, identity keeps no copy of it.
    row = wait_for(lambda: outbox_row(db, user["email"], "email_verification"))
    assert (row.status, row.text_body, row.html_body) == ("sent", "", "") and row.sent_at is not None


def test_a_taken_address_gets_a_notice_and_no_account(platform, rpc, db):
    owner = new_user()
    assert rpc.identity.register(owner) == {"ok": True}
    mail_to(owner["email"], VERIFICATION)
    again = dict(new_user(), email=owner["email"], first_name="Eve")
    assert rpc.identity.register(again) == {"ok": True}
    notice = mail_to(owner["email"], TAKEN)
    text = text_of(notice)
    assert "Hello Ada," in text  # the owner's name, not the one typed by whoever tried
    assert "{}/forgot-password".format(APP_URL) in text and "token=" not in notice.as_string()
    assert db.scalar("SELECT count(*) FROM users WHERE email = :e", e=owner["email"]) == 1
    row = wait_for(lambda: outbox_row(db, owner["email"], "address_taken"))
    assert row.status == "sent" and row.text_body == text.replace("\r\n", "\n")  # nothing secret: kept
    assert len(mails_to(owner["email"], VERIFICATION)) == 1  # the second attempt made no new link


def test_the_reset_mail_arrives_its_token_resets_and_its_body_is_not_kept(platform, rpc, db):
    user = new_user()
    rpc.identity.register(user)
    rpc.identity.verify_email({"token": token_from(mail_to(user["email"], VERIFICATION))})
    assert rpc.identity.request_password_reset({"email": user["email"]}) == {"ok": True}
    mail = mail_to(user["email"], RESET)
    token = token_from(mail)
    assert "{}/reset-password?token={}".format(APP_URL, token) in text_of(mail)
    assert rpc.identity.reset_password({"token": token, "new_password": "a brand new passphrase"}) == {"ok": True}
    assert rpc.identity.login({"email": user["email"], "password": "a brand new passphrase"})
    row = wait_for(lambda: outbox_row(db, user["email"], "password_reset"))
    assert (row.status, row.text_body, row.html_body) == ("sent", "", "")
    assert db.scalar("SELECT count(*) FROM mail_outbox WHERE text_body LIKE :t OR html_body LIKE :t",
                     t="%" + token + "%") == 0


def test_an_unknown_address_is_sent_nothing(platform, rpc, db):
    address = "nobody-{}@example.com".format(uuid.uuid4().hex)
    assert rpc.identity.request_password_reset({"email": address}) == {"ok": True}
    assert rpc.identity.register(new_user()) == {"ok": True}  # a later mail: the sender has run since
    assert db.scalar("SELECT count(*) FROM mail_outbox WHERE to_address = :a", a=address) == 0
    assert mails_to(address) == []


def test_a_reset_link_verifies_an_unverified_address(platform, rpc):
    """The way in for someone whose verification mail was lost."""
    user = new_user()
    rpc.identity.register(user)
    rpc.identity.request_password_reset({"email": user["email"]})
    rpc.identity.reset_password({"token": token_from(mail_to(user["email"], RESET)),
                                 "new_password": "a brand new passphrase"})
    assert rpc.identity.login({"email": user["email"], "password": "a brand new passphrase"})["user"]["email_verified"]


def test_mail_waits_while_smtp_is_down_and_arrives_once_when_it_is_back(platform, rpc, db, smtp_down):
    user = new_user()
    assert rpc.identity.register(user) == {"ok": True}  # the caller does not wait for mail
    row = wait_for(lambda: (r := outbox_row(db, user["email"], "email_verification")) and r.attempts >= 1
                   and r.last_error and r, message="a failed attempt")
    assert row.status == "pending" and row.sent_at is None and "refused" in row.last_error.lower()
    assert mails_to(user["email"]) == []
    platform.start_smtp()
    mail = mail_to(user["email"], VERIFICATION, timeout=30)
    row = wait_for(lambda: (r := outbox_row(db, user["email"], "email_verification")).status == "sent" and r)
    assert row.attempts >= 2
    assert rpc.identity.verify_email({"token": token_from(mail)}) == {"ok": True}
    platform.stop("smtp")  # nothing is left to send it again
    platform.start_smtp()
    rpc.identity.register(new_user())
    assert len(mails_to(user["email"])) == 1


def test_two_instances_send_each_mail_once(platform, rpc, db, smtp_down):
    platform.start("identity", instance="mail2")
    try:
        users = [new_user(n) for n in range(8)]
        for call in [rpc.identity.register.call_async(u) for u in users]:
            assert call.result() == {"ok": True}
        platform.start_smtp()
        for u in users:
            mail_to(u["email"], VERIFICATION)
        wait_for(lambda: all(outbox_row(db, u["email"], "email_verification").status == "sent" for u in users))
        assert [len(mails_to(u["email"])) for u in users] == [1] * len(users)
    finally:
        platform.stop("identity-mail2")


def test_a_mail_that_keeps_failing_is_dead_listed_and_sent_again(platform, rpc, db, smtp_down):
    user = new_user()
    rpc.identity.register(user)
    # MAIL_MAX_ATTEMPTS=6 from MAIL_RETRY_BASE_SECONDS=0.3 (tests/conftest.py): about 10 s of failures.
    row = wait_for(lambda: (r := outbox_row(db, user["email"], "email_verification")).status == "dead" and r,
                   timeout=60, message="a dead mail")
    assert row.attempts == 6 and row.last_error
    with open(platform.log_path("identity")) as f:
        assert "mail {} (email_verification to {}) is dead after 6 attempt(s)".format(row.id, user["email"]) in f.read()
    dead = rpc.identity.dead_mails(operator_token())
    (listed,) = [m for m in dead if m["id"] == row.id]
    assert listed["status"] == "dead" and listed["to_address"] == user["email"] and listed["attempts"] == 6
    assert "text_body" not in listed and "html_body" not in listed  # a live token: operators do not see it

    platform.start_smtp()
    again = rpc.identity.retry_mail(operator_token(), row.id)
    assert (again["status"], again["attempts"]) == ("pending", 0)
    mail = mail_to(user["email"], VERIFICATION, timeout=30)
    assert rpc.identity.verify_email({"token": token_from(mail)}) == {"ok": True}
    assert wait_for(lambda: outbox_row(db, user["email"], "email_verification").status == "sent")
    assert row.id not in [m["id"] for m in rpc.identity.dead_mails(operator_token())]
    with pytest.raises(BadInput):  # only a dead mail is sent again
        rpc.identity.retry_mail(operator_token(), row.id)


def test_dead_mail_entrypoints_are_for_operators(platform, rpc):
    user = new_user()
    (_,) = registered(rpc, user)
    student = rpc.identity.login({"email": user["email"], "password": user["password"]})["access_token"]
    with pytest.raises(Forbidden):
        rpc.identity.dead_mails(student)
    with pytest.raises(Forbidden):
        rpc.identity.retry_mail(student, 1)
    with pytest.raises(NotFound):
        rpc.identity.retry_mail(operator_token(), 2 ** 62)
    with pytest.raises(BadInput):
        rpc.identity.dead_mails(operator_token(), status="lost")
    assert rpc.communication.dead_mails(operator_token()) == []  # communication sends through the same machinery
