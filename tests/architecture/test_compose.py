"""docker-compose.yml describes the same platform: RabbitMQ with its UI, one
PostgreSQL per service on 5432-5437, and each service."""
import os
import shutil
import subprocess

import pytest
import yaml

from services.common.config import PRINCIPALS, SERVICES, db_settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def compose():
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        return yaml.safe_load(f)["services"]  # safe_load resolves the << merge keys


def test_rabbitmq_has_the_management_ui(compose):
    rabbit = compose["rabbitmq"]
    assert "management" in rabbit["image"]
    assert "15672:15672" in rabbit["ports"] and "5672:5672" in rabbit["ports"]


def test_one_postgres_per_service_on_its_own_port(compose):
    ports = {}
    for i, service in enumerate(SERVICES):
        db = compose[service + "-db"]
        assert db["image"].startswith("postgres:")
        defaults = db_settings(service, environ={})
        assert db["environment"]["POSTGRES_DB"] == defaults.name
        assert db["environment"]["POSTGRES_USER"] == defaults.user
        ports[service] = db["ports"][0]
    assert sorted(ports.values()) == ["{}:5432".format(5432 + i) for i in range(6)]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_against_its_own_database(compose, service):
    svc = compose[service]
    assert svc["environment"]["{}_DB_HOST".format(service.upper())] == service + "-db"
    assert "config/{}.yaml".format(service) in svc["command"]
    assert "services.{}.service".format(service) in svc["command"]
    assert service + "-db" in svc["depends_on"]


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker client")
def test_docker_compose_accepts_the_file():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("docker compose plugin not installed")
    result = subprocess.run(["docker", "compose", "-f", os.path.join(ROOT, "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_mounts_the_public_keys_and_only_its_own_private_keys(compose, service):
    svc = compose[service]
    env = svc["environment"]
    assert "AUTH_JWT_SECRET" not in env
    private = [v for v in svc["volumes"] if "/private" in v]
    assert private == ["./.run/keys/private/{}:{}:ro".format(service, env["AUTH_PRIVATE_KEYS"])]
    assert "./.run/keys/public:{}:ro".format(env["AUTH_PUBLIC_KEYS"]) in svc["volumes"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_connects_to_rabbitmq_as_its_own_user(compose, service):
    """Its own login, whose password comes from the environment (.env),
    and it starts only once broker-setup has made the users (services/common/broker.py)."""
    uri = compose[service]["environment"]["AMQP_URI"]
    assert uri.startswith("pyamqp://edtech_{}:${{{}_AMQP_PASSWORD:?".format(service, service.upper())), uri
    assert uri.endswith("@rabbitmq:5672/")
    assert compose[service]["depends_on"]["broker-setup"] == {"condition": "service_completed_successfully"}


def test_broker_setup_provisions_every_principal_through_the_management_api(compose):
    setup = compose["broker-setup"]
    assert setup["command"] == "python -m services.common.broker provision"
    env = setup["environment"]
    assert env["RABBITMQ_MANAGEMENT_URL"].endswith("@rabbitmq:15672") and env["AMQP_HOST"] == "rabbitmq"
    assert {k for k in env if k.endswith("_AMQP_PASSWORD")} == {"{}_AMQP_PASSWORD".format(p.upper())
                                                                 for p in PRINCIPALS}
    assert setup["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}


def test_no_one_connects_as_guest(compose):
    """The administrator's login replaces RabbitMQ's default guest."""
    rabbit = compose["rabbitmq"]["environment"]
    assert rabbit["RABBITMQ_DEFAULT_USER"] and "RABBITMQ_ADMIN_PASSWORD:?" in rabbit["RABBITMQ_DEFAULT_PASS"]
    for name, svc in compose.items():
        assert "guest" not in repr(svc), name
