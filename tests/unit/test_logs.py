"""An expected user error is one INFO line, only bugs get tracebacks
(services/common/logs.py), on the records nameko's own container writes
when an entrypoint raises."""
import io
import logging
import os
import sys

import pytest
import yaml
from nameko.containers import ServiceContainer
from nameko.testing.services import dummy, entrypoint_hook

from services.common.config import SERVICES
from services.common.errors import BadInput, Conflict
from services.common.logs import MAX_MESSAGE, ExpectedErrorFilter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET_EMAIL = "not-an-email-4711"


class SampleService:
    name = "sample"

    @dummy
    def register(self, payload):
        raise BadInput("invalid input", {"email": ["Not a valid email address."]})

    @dummy(expected_exceptions=Conflict)
    def claim(self, payload):
        raise Conflict("email already registered")

    @dummy
    def unknown_keys(self, payload):
        raise BadInput("invalid input", {key: ["Unknown field."] for key in payload})

    @dummy
    def crash(self, payload):
        return payload["missing"]


@pytest.fixture
def container():
    container = ServiceContainer(SampleService, {})
    container.start()
    yield container
    container.stop()


@pytest.fixture
def log_at():
    """Capture nameko's container log through the filter, at a given level."""
    logger = logging.getLogger("nameko.containers")
    stream, handler = io.StringIO(), logging.StreamHandler()
    handler.setStream(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ExpectedErrorFilter())
    logger.addHandler(handler)
    level = logger.level

    def at(new_level):
        logger.setLevel(new_level)
        return stream
    yield at
    logger.removeHandler(handler)
    logger.setLevel(level)


def call(container, method, payload, error):
    with entrypoint_hook(container, method) as hook, pytest.raises(error):
        hook({"email": SECRET_EMAIL} if payload is None else payload)


def test_a_refused_input_is_one_info_line_without_the_input(container, log_at):
    out = log_at(logging.INFO)
    call(container, "register", None, BadInput)
    assert out.getvalue() == ("INFO nameko.containers: refused sample.register: BadInput: invalid input: "
                              "{'email': ['Not a valid email address.']}\n")
    assert SECRET_EMAIL not in out.getvalue()


def test_an_expected_exception_of_the_entrypoint_is_one_line_too(container, log_at):
    """nameko logs those at WARNING with exc_info (containers.py)."""
    out = log_at(logging.INFO)
    call(container, "claim", None, Conflict)
    assert out.getvalue() == "INFO nameko.containers: refused sample.claim: Conflict: email already registered\n"


def test_a_bug_keeps_its_traceback_at_error(container, log_at):
    out = log_at(logging.INFO)
    call(container, "crash", {}, KeyError)
    text = out.getvalue()
    assert text.startswith("ERROR nameko.containers: error handling worker <WorkerContext [sample.crash]")
    assert "Traceback (most recent call last)" in text and "KeyError: 'missing'" in text


def test_a_refusal_is_silent_where_info_is_off_and_a_bug_is_not(container, log_at):
    out = log_at(logging.WARNING)
    call(container, "register", None, BadInput)
    assert out.getvalue() == ""
    call(container, "crash", {}, KeyError)
    assert "Traceback" in out.getvalue()


def test_a_long_message_stays_one_bounded_line(container, log_at):
    out = log_at(logging.INFO)
    call(container, "unknown_keys", {"key-{}\nx".format(i): 1 for i in range(500)}, BadInput)
    line = out.getvalue()
    assert line.count("\n") == 1 and line.endswith("...\n")
    assert len(line) < MAX_MESSAGE + 100


def test_a_record_without_a_worker_names_its_logger():
    record = logging.LogRecord("services.common.inbox", logging.ERROR, __file__, 1, "failed: %s", ("x",), None)
    try:
        raise Conflict("taken")
    except Conflict:
        record.exc_info = sys.exc_info()
    logging.getLogger("services.common.inbox").setLevel(logging.INFO)
    try:
        assert ExpectedErrorFilter().filter(record)
    finally:
        logging.getLogger("services.common.inbox").setLevel(logging.NOTSET)
    assert (record.levelname, record.getMessage(), record.exc_info) == (
        "INFO", "refused services.common.inbox: Conflict: taken", None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_filters_its_log_handlers(service):
    with open(os.path.join(ROOT, "config", service + ".yaml")) as f:
        logging_config = yaml.safe_load(f)["LOGGING"]
    filters = logging_config["filters"]
    for name, handler in logging_config["handlers"].items():
        assert any(filters[f]["()"] == "services.common.logs.ExpectedErrorFilter" for f in handler["filters"]), name
