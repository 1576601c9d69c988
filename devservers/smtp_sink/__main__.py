"""python -m devservers.smtp_sink: run the development SMTP sink (docs/operations.md, "Mail")."""
import argparse
import logging
import os
import signal
import threading

from aiosmtpd.controller import Controller

from .sink import MaildirSink


def parse_args(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m devservers.smtp_sink",
                                description="Accept every mail over SMTP and keep it as a file.")
    p.add_argument("--host", default=env("SMTP_SINK_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("SMTP_SINK_PORT", "1025")))
    p.add_argument("--dir", default=env("SMTP_SINK_DIR", ".run/mail"),
                   help="where each message is kept as <timestamp>-<id>.eml, listed in index.jsonl")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smtp-sink %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's line per SMTP command
    sink = MaildirSink(args.dir)
    controller = Controller(sink, hostname=args.host, port=args.port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    signal.signal(signal.SIGINT, lambda signum, frame: done.set())
    logging.info("listening on %s:%d, keeping mail in %s (index.jsonl lists it)", args.host, args.port,
                 sink.directory)
    try:
        while not done.wait(1):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
