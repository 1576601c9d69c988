"""Learning's expiry timer (services/learning/service.py) and the timer
entrypoint it uses (services/common/timers.py), without a database."""
import logging
from unittest import mock

import pytest
from nameko.containers import ServiceContainer
from nameko.testing.services import worker_factory
from sqlalchemy.exc import OperationalError

from services.common.timers import Timer
from services.learning import lessons
from services.learning.service import LearningService


def expiry_timer(config):
    container = ServiceContainer(LearningService, dict({"AMQP_URI": "memory://"}, **config))
    timer = next(e for e in container.entrypoints if isinstance(e, Timer))
    timer.setup()
    return timer


def test_the_interval_is_read_from_the_config():
    assert expiry_timer({}).interval == 5
    assert expiry_timer({"LESSON_EXPIRY_INTERVAL_SECONDS": 0.5}).interval == 0.5
    with pytest.raises(ValueError):
        expiry_timer({"LESSON_EXPIRY_INTERVAL_SECONDS": 0})


def test_a_database_error_is_logged_and_the_next_tick_tries_again(caplog):
    service = worker_factory(LearningService)
    service.uow.side_effect = OperationalError("SELECT", {}, Exception("connection refused"))
    with caplog.at_level(logging.WARNING, logger="services.learning.service"):
        service.expire_unpaid_lessons()  # does not raise
    assert "expiring unpaid lessons" in caplog.text and "trying again next tick" in caplog.text


def test_a_tick_expires_batch_after_batch_until_none_is_left():
    service = worker_factory(LearningService)
    full, rest = [{}] * lessons.EXPIRY_BATCH, [{}] * 3
    with mock.patch.object(lessons, "expire_overdue", side_effect=[full, rest]) as expire:
        service.expire_unpaid_lessons()
    assert expire.call_count == 2
    assert service.uow.return_value.__enter__.return_value.commit.call_count == 2
