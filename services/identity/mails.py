"""The account mails identity sends itself, so that verification and reset
tokens never cross the broker (docs/architecture.md, "Mail"). Each function
is pure and gives ``(subject, text, html)``; ``queue_*`` stages the mail in
the caller's unit of work, so it is sent exactly when the change commits.
"""
from urllib.parse import quote

from services.common.mail import html_page, queue_mail
from services.identity.tokens import TTL
from services.identity.models import TokenType

SIGNATURE = "The Tutoring Marketplace team"
FOOTER = ("You are receiving this because this address was entered on Tutoring Marketplace. "
          "This mailbox is not read; replies are not answered.")


def _link(app_url, path, token=None):
    url = app_url.rstrip("/") + path
    return url + "?token=" + quote(token, safe="") if token is not None else url


def _hours(kind):
    return int(TTL[kind].total_seconds() // 3600)


def _text(greeting, paragraphs, link_label=None, link=None):
    lines = [greeting, ""]
    for p in paragraphs:
        lines += [p, ""]
    if link:
        lines += ["{}:".format(link_label), link, ""]
    lines += [SIGNATURE, ""]
    return "\n".join(lines)


def _greeting(first_name):
    return "Hello {},".format(first_name) if first_name else "Hello,"


def verification(app_url, first_name, token):
    link = _link(app_url, "/verify-email", token)
    hours = _hours(TokenType.email_verification)
    paragraphs = ["Welcome to Tutoring Marketplace. Please confirm that this is your email address, so that "
                  "you can sign in.",
                  "The link works once and for {} hours.".format(hours),
                  "If you did not create an account, you can ignore this mail: nothing happens without "
                  "the link."]
    subject = "Confirm your email address"
    return (subject, _text(_greeting(first_name), paragraphs, "Confirm your address", link),
            html_page(subject, [_greeting(first_name)] + paragraphs[:1], ("Confirm my email address", link),
                      after=paragraphs[1:2], footer=paragraphs[2] + " " + FOOTER))


def address_taken(app_url, first_name):
    signin, forgot = _link(app_url, "/sign-in"), _link(app_url, "/forgot-password")
    paragraphs = ["Someone just tried to create a Tutoring Marketplace account with this email address, "
                  "which already has one. No new account was created.",
                  "If it was you, you do not need a new account: sign in at {}, or if you forgot your "
                  "password, reset it at {}.".format(signin, forgot),
                  "If it was not you, you can ignore this mail. Your account and your password have not "
                  "been changed."]
    subject = "Someone tried to sign up with your email address"
    text = _text(_greeting(first_name), paragraphs)
    html = html_page(subject, [_greeting(first_name), paragraphs[0],
                               "If it was you, you do not need a new account: sign in, or if you forgot "
                               "your password, reset it here."], ("Reset my password", forgot),
                     footer=paragraphs[2] + " " + FOOTER)
    return subject, text, html


def password_reset(app_url, first_name, token):
    link = _link(app_url, "/reset-password", token)
    hours = _hours(TokenType.password_reset)
    paragraphs = ["We received a request to reset the password of your Tutoring Marketplace account. "
                  "Choose a new one with the link below.",
                  "The link works once and for {} hour{}. Resetting your password signs you out "
                  "everywhere.".format(hours, "" if hours == 1 else "s"),
                  "If you did not ask for this, you can ignore this mail: your password stays as it is."]
    subject = "Reset your password"
    return (subject, _text(_greeting(first_name), paragraphs, "Choose a new password", link),
            html_page(subject, [_greeting(first_name)] + paragraphs[:1], ("Choose a new password", link),
                      after=paragraphs[1:2], footer=paragraphs[2] + " " + FOOTER))


# Staged in the caller's unit of work -----------------------------------------

def queue_verification(session, app_url, user, token):
    queue_mail(session, user.email, *verification(app_url, user.first_name, token), kind="email_verification",
               sensitive=True)


def queue_address_taken(session, app_url, user):
    queue_mail(session, user.email, *address_taken(app_url, user.first_name), kind="address_taken")


def queue_password_reset(session, app_url, user, token):
    queue_mail(session, user.email, *password_reset(app_url, user.first_name, token), kind="password_reset",
               sensitive=True)
