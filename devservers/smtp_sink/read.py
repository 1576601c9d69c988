"""python -m devservers.smtp_sink.read: show mail the development sink kept
(docs/operations.md, "Mail").

    .venv/bin/python -m devservers.smtp_sink.read --dir .run/mail            # the latest mail
    .venv/bin/python -m devservers.smtp_sink.read --dir .run/mail --list     # one line per mail
    .venv/bin/python -m devservers.smtp_sink.read --dir .run/mail --to ada@example.com --html
"""
import argparse
import json
import os
import re
import sys
import time
from email import message_from_bytes, policy
from urllib.parse import unquote


def default_dir():
    """``SMTP_SINK_DIR``, else ``mail/`` in the run directory
    (``PLATFORM_RUN_DIR``, default ``.run``), as scripts/platformctl.py runs the sink."""
    return os.environ.get("SMTP_SINK_DIR") or os.path.join(os.environ.get("PLATFORM_RUN_DIR") or ".run", "mail")


def entries(directory):
    """The index's lines, oldest first (a line still being written is skipped)."""
    path = os.path.join(directory, "index.jsonl")
    if not os.path.exists(path):
        return []
    found = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


def matching(directory, to=None, subject=None):
    """Entries sent to ``to`` (any case) whose subject contains ``subject``."""
    to = to.lower() if to else None
    return [e for e in entries(directory)
            if (to is None or to in [t.lower() for t in e["to"]])
            and (subject is None or subject.lower() in e["subject"].lower())]


def load(directory, entry):
    """The parsed message (``email.message.EmailMessage``) of an index entry."""
    with open(os.path.join(directory, entry["file"]), "rb") as f:
        return message_from_bytes(f.read(), policy=policy.default)


def body(message, kind="plain"):
    part = message.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else ""


def wait_for_mail(to, subject=None, timeout=10, directory=None):
    """The latest mail to ``to`` (with ``subject`` in its subject), waiting
    up to ``timeout`` seconds for one to arrive."""
    directory = directory or default_dir()
    deadline = time.time() + timeout
    while True:
        found = matching(directory, to, subject)
        if found:
            return load(directory, found[-1])
        if time.time() > deadline:
            raise LookupError("no mail to {} in {}".format(to, directory))
        time.sleep(0.1)


def token_in(message):
    """The token of the first link with ``?token=`` in a mail's text."""
    found = re.search(r"[?&]token=([A-Za-z0-9_\-%]+)", body(message))
    if not found:
        raise LookupError("no link with a token in this mail")
    return unquote(found.group(1))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m devservers.smtp_sink.read", description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=default_dir())
    p.add_argument("--to", help="only mail to this address")
    p.add_argument("--subject", help="only mail whose subject contains this")
    p.add_argument("--list", action="store_true", help="one line per mail instead of the latest one")
    p.add_argument("--html", action="store_true", help="the HTML part instead of the text")
    args = p.parse_args(argv)
    found = matching(args.dir, args.to, args.subject)
    if args.list:
        for e in found:
            print("{}  {:<30} {}  ({})".format(e["received_at"][:19], ", ".join(e["to"]), e["subject"], e["file"]))
        return 0
    if not found:
        print("no mail in {}{}".format(args.dir, " to " + args.to if args.to else ""), file=sys.stderr)
        return 1
    message = load(args.dir, found[-1])
    for header in ("Date", "From", "To", "Subject"):
        print("{}: {}".format(header, message[header]))
    print("\n" + body(message, "html" if args.html else "plain"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
