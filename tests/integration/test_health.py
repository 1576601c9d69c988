"""All six services run as real nameko processes and answer ``health``."""
import pytest

from services.common.config import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_health_reports_database_and_broker(platform, rpc, databases, service):
    report = getattr(rpc, service).health()
    assert report["service"] == service
    assert report["database"] == "ok"
    assert report["broker"] == "ok"
    assert report["status"] == "ok"


@pytest.mark.parametrize("service", SERVICES)
def test_ping_is_the_cheapest_round_trip(platform, rpc, service):
    assert getattr(rpc, service).ping() == "pong"
