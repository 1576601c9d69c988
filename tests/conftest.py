"""Test-session set-up: throwaway databases, roles and a RabbitMQ vhost.

Every run gets its own names (``edtech_<service>_t<run>``), so the suite
never touches development data or a platform started by ``scripts/up``.
"""
import eventlet

eventlet.monkey_patch()  # before psycopg2, kombu and nameko are imported (docs/architecture.md, "Runtime notes")

import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from scripts.platformctl import free_port  # noqa: E402
from scripts.throwaway import Throwaway  # noqa: E402
from services.common.broker import adapt_nameko  # noqa: E402
from services.common.config import PRINCIPALS, SERVICES, broker_settings  # noqa: E402
from tests.token_keys import make_session_keys  # noqa: E402

# The session's own token keys, before anything reads AUTH_PUBLIC_KEYS:
# a key pair per service in a temporary directory (tests/token_keys.py).
make_session_keys()

# The tests' own nameko clients connect as the operator: reply queues and
# keys its broker user may use (services/common/broker.py).
adapt_nameko()

RUN_ID = uuid.uuid4().hex[:8]
THROWAWAY = Throwaway("t" + RUN_ID)

# timeout(1) and CI end a run with SIGTERM. Taken as Ctrl-C, pytest still
# tears the session down: its supervisord, processes and databases go too.
signal.signal(signal.SIGTERM, signal.default_int_handler)


def _configure_test_environment():
    THROWAWAY.configure()
    # Mail goes to this run's own SMTP sink (devservers/smtp_sink), where the
    # tests read the verification and reset links (tests/integration/helpers.py,
    # mail_to). Retries are fast, and a mail is dead after about 10 s of failures.
    os.environ["SMTP_HOST"] = "127.0.0.1"
    os.environ["SMTP_PORT"] = str(free_port())
    os.environ["MAIL_POLL_SECONDS"] = "0.2"
    os.environ["MAIL_RETRY_BASE_SECONDS"] = "0.3"
    os.environ["MAIL_MAX_ATTEMPTS"] = "6"
    os.environ["MAIL_LEASE_SECONDS"] = "20"
    # Fast retries, so the dead-letter tests take seconds, not minutes.
    os.environ["EVENT_RETRY_BASE_SECONDS"] = "0.2"
    os.environ["EVENT_MAX_ATTEMPTS"] = "3"
    # A retry claim left unfinished by a crash is due again after this.
    os.environ["EVENT_RETRY_LEASE_SECONDS"] = "2"
    os.environ["OUTBOX_POLL_INTERVAL"] = "0.2"
    # The login throttle's keys in the local Redis carry this run's name, and
    # the suite signs in hundreds of times from one address: the limits are
    # lifted here and tested with their defaults on a gateway of their own
    # (tests/e2e/test_gateway_limits.py).
    os.environ["GATEWAY_THROTTLE_PREFIX"] = "edtech:t{}:".format(RUN_ID)
    os.environ["GATEWAY_CREDENTIAL_CALLS_PER_MINUTE"] = "1000000"
    os.environ["GATEWAY_LOGIN_FREE_PER_CLIENT"] = "1000000"
    # Payment talks to this run's own local Stripe server (docs/stripe-local.md),
    # which signs its webhooks to this run's payment service with a secret of its own.
    os.environ["STRIPE_SECRET_KEY"] = "sk_test_local"
    os.environ["STRIPE_LOCAL_PORT"] = str(free_port())
    os.environ["PAYMENT_WEBHOOK_ADDRESS"] = "127.0.0.1:{}".format(free_port())
    os.environ["STRIPE_WEBHOOK_SECRET"] = "whsec_" + uuid.uuid4().hex
    # Long enough for a test to make a payout fail before it is paid.
    os.environ["STRIPE_LOCAL_PAYOUT_DELAY"] = "3"
    os.environ["STRIPE_LOCAL_WEBHOOK_RETRY_BASE"] = "0.2"
    # Communication's recording callbacks come to this run's own port, signed with this secret.
    os.environ["COMMUNICATION_HTTP_ADDRESS"] = "127.0.0.1:{}".format(free_port())
    os.environ["VIDEO_CALLBACK_SECRET"] = "video_" + uuid.uuid4().hex
    # Communication's reminder timer ticks every second, and a message left
    # unread for 9 seconds (0.15 minutes) is announced to its recipient: long enough
    # for a test to send its messages, or mark them read, on a busy machine.
    os.environ["REMINDER_TIMER_SECONDS"] = "1"
    os.environ["UNREAD_NOTICE_MINUTES"] = "0.15"


@pytest.fixture(scope="session")
def databases():
    """Six throwaway databases, one role each, migrated to head."""
    _configure_test_environment()
    try:
        yield THROWAWAY.create_databases()
    finally:
        THROWAWAY.drop_databases()


@pytest.fixture(scope="session")
def amqp_uri(databases):
    if not shutil.which("rabbitmqctl"):
        pytest.fail("rabbitmqctl is needed to make the test vhost")
    THROWAWAY.create_vhost()  # with a user per principal (services/common/broker.py)
    try:
        yield os.environ["AMQP_URI"]  # the operator's
    finally:
        THROWAWAY.drop_vhost()


@pytest.fixture(scope="session")
def broker_uris(amqp_uri):
    """Each principal's own AMQP URI in the test vhost: tests publish
    identity's events as identity, and try every other principal's login."""
    return {p: broker_settings(p).uri for p in PRINCIPALS}


@pytest.fixture(scope="session")
def platform(amqp_uri, tmp_path_factory):
    """All six services running as real ``nameko run`` processes, under
    this session's own supervisord (scripts/platformctl.py)."""
    from scripts.platformctl import Platform, wait_healthy
    run_dir = str(tmp_path_factory.mktemp("platform"))
    os.environ["SMTP_SINK_DIR"] = os.path.join(run_dir, "mail")  # this session's sink keeps its mail here
    run = Platform(run_dir=run_dir)
    try:
        run.start_stripe()
        run.start_smtp()
        for service in SERVICES:
            run.start(service)
        wait_healthy(SERVICES, uri=amqp_uri, timeout=90)
        yield run
    finally:
        run.shutdown()  # every process, then supervisord: the session leaves nothing running
        _keep_logs(run)


def _keep_logs(run):
    """Copy the logs (with supervisord's) to test-artifacts/ so a failed CI run can be read."""
    dest = os.path.join(ROOT, "test-artifacts", "service-logs")
    os.makedirs(dest, exist_ok=True)
    logs = os.path.join(run.run_dir, "logs")
    for name in os.listdir(logs):
        shutil.copy(os.path.join(logs, name), dest)


@pytest.fixture
def rpc(amqp_uri):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as proxy:
        yield proxy


def pytest_collection_modifyitems(config, items):
    """The broker-outage test stops RabbitMQ for a moment: run it last."""
    items.sort(key=lambda item: item.get_closest_marker("broker_outage") is not None)
