"""Keeps each accepted message as ``<timestamp>-<id>.eml`` in a directory,
and one line per message in ``index.jsonl`` there (from, to, subject, file).
A message's file is complete before its index line is written."""
import json
import logging
import os
import threading
import uuid
from datetime import datetime, timezone
from email import message_from_bytes, policy


class MaildirSink:
    """aiosmtpd handler: ``handle_DATA`` writes the message and answers 250."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.index = os.path.join(self.directory, "index.jsonl")
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        self.keep(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def keep(self, mail_from, rcpt_tos, content):
        if isinstance(content, str):
            content = content.encode("utf-8")
        now = datetime.now(timezone.utc)
        name = "{}-{}.eml".format(now.strftime("%Y%m%dT%H%M%S.%fZ"), uuid.uuid4().hex[:12])
        path = os.path.join(self.directory, name)
        with open(path + ".tmp", "wb") as f:
            f.write(content)
        os.replace(path + ".tmp", path)
        subject = str(message_from_bytes(content, policy=policy.default).get("Subject", ""))
        line = json.dumps({"received_at": now.isoformat(), "from": mail_from, "to": rcpt_tos, "subject": subject,
                           "file": name}, ensure_ascii=False)
        with self._lock, open(self.index, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        logging.getLogger(__name__).info("kept %s: %s to %s", name, subject, ", ".join(rcpt_tos))
        return name
