"""Test-session set-up: throwaway databases, roles and a RabbitMQ vhost.

Every run gets its own names (``edtech_<service>_t<run>``), so the suite
never touches development data or a platform started by ``scripts/up``.
"""
import eventlet

eventlet.monkey_patch()  # before psycopg2, kombu and nameko are imported (DESIGN.md §3)

import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from services.common import migrations, provision  # noqa: E402
from services.common.config import SERVICES, db_settings  # noqa: E402

RUN_ID = uuid.uuid4().hex[:8]
VHOST = "edtech-test-" + RUN_ID


def _rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60)


def _configure_test_environment():
    for service in SERVICES:
        prefix = service.upper() + "_DB_"
        os.environ[prefix + "NAME"] = "edtech_{}_t{}".format(service, RUN_ID)
        os.environ[prefix + "USER"] = "edtech_{}_t{}".format(service, RUN_ID)
        os.environ[prefix + "PASSWORD"] = "pw_{}_{}".format(service, RUN_ID)
    os.environ["AMQP_URI"] = "pyamqp://guest:guest@127.0.0.1:5672/" + VHOST
    os.environ.setdefault("AUTH_JWT_SECRET", secrets.token_urlsafe(32))
    # Tests read verification and reset tokens from responses: there is no mail sender.
    os.environ["IDENTITY_EXPOSE_TOKENS"] = "1"
    # Fast retries, so the dead-letter tests take seconds, not minutes.
    os.environ["EVENT_RETRY_BASE_SECONDS"] = "0.2"
    os.environ["EVENT_MAX_ATTEMPTS"] = "3"
    os.environ["OUTBOX_POLL_INTERVAL"] = "0.2"


@pytest.fixture(scope="session")
def databases():
    """Six throwaway databases, one role each, migrated to head."""
    _configure_test_environment()
    made = []
    try:
        for service in SERVICES:
            settings = db_settings(service)
            provision.ensure_service_database(settings)
            made.append(settings)
            migrations.upgrade(service)
        yield {s.service: s for s in made}
    finally:
        for settings in made:
            provision.drop_service_database(settings)


@pytest.fixture(scope="session")
def amqp_uri(databases):
    if not shutil.which("rabbitmqctl"):
        pytest.fail("rabbitmqctl is needed to make the test vhost")
    _rabbitmqctl("add_vhost", VHOST)
    _rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    yield os.environ["AMQP_URI"]
    _rabbitmqctl("delete_vhost", VHOST)


@pytest.fixture(scope="session")
def platform(amqp_uri, tmp_path_factory):
    """All six services running as real ``nameko run`` processes."""
    from scripts.platformctl import Platform, wait_healthy
    run = Platform(run_dir=str(tmp_path_factory.mktemp("platform")))
    for service in SERVICES:
        run.start(service)
    try:
        wait_healthy(SERVICES, uri=amqp_uri, timeout=90)
        yield run
    finally:
        run.stop(*run.running())
        _keep_logs(run)


def _keep_logs(run):
    """Copy service logs to test-artifacts/ so a failed CI run can be read."""
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
