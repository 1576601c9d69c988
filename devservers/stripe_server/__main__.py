"""python -m devservers.stripe_server: run the local Stripe server (docs/stripe-local.md)."""
import argparse
import logging
import os
import signal
import sys

from werkzeug.serving import make_server

from .app import StripeApp
from .store import Store
from .workers import PayoutClock, WebhookSender


def parse_args(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m devservers.stripe_server",
                                description="A local Stripe-compatible server for development and tests.")
    p.add_argument("--host", default=env("STRIPE_LOCAL_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("STRIPE_LOCAL_PORT", "12111")))
    p.add_argument("--api-key", default=env("STRIPE_SECRET_KEY", "sk_test_local"))
    p.add_argument("--webhook-url", default=env("STRIPE_WEBHOOK_URL"),
                   help="where events are POSTed; without it events are only recorded")
    p.add_argument("--webhook-secret", default=env("STRIPE_WEBHOOK_SECRET", "whsec_local"))
    p.add_argument("--state", default=env("STRIPE_LOCAL_STATE"), help="JSON file kept across restarts")
    p.add_argument("--payout-delay", type=float, default=float(env("STRIPE_LOCAL_PAYOUT_DELAY", "2")))
    p.add_argument("--webhook-attempts", type=int, default=int(env("STRIPE_LOCAL_WEBHOOK_ATTEMPTS", "8")))
    p.add_argument("--webhook-retry-base", type=float, default=float(env("STRIPE_LOCAL_WEBHOOK_RETRY_BASE", "0.5")))
    p.add_argument("--account-link-ttl", type=int, default=int(env("STRIPE_LOCAL_ACCOUNT_LINK_TTL", "300")),
                   help="seconds an onboarding link stays usable (Stripe: 300)")
    args = p.parse_args(argv)
    if not args.api_key.startswith(("sk_test_", "rk_test_")):
        p.error("--api-key must be a test-mode secret key (sk_test_...)")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stripe-local %(levelname)s %(message)s")
    store = Store(args.state)
    stripe_app = StripeApp(store, args.api_key, webhooks_enabled=bool(args.webhook_url),
                           payout_delay=args.payout_delay, link_ttl=args.account_link_ttl)
    workers = [PayoutClock(store, stripe_app.pay_out)]
    if args.webhook_url:
        workers.append(WebhookSender(store, args.webhook_url, args.webhook_secret,
                                     attempts=args.webhook_attempts, retry_base=args.webhook_retry_base))
    for worker in workers:
        worker.start()
    server = make_server(args.host, args.port, stripe_app.flask, threaded=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.info("listening on http://%s:%d (webhooks to %s, state %s)", args.host, server.server_port,
                 args.webhook_url or "nowhere", args.state or "in memory only")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        with store.lock:
            store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
