"""The processes under supervisord, and what their logs say
(docs/architecture.md, "Processes and logs")."""
import os
import signal
import time
import uuid

import pytest

import services.common.errors  # noqa: F401  registers the typed errors with nameko
from scripts.platformctl import LOG_BACKUPS, wait_healthy
from services.common.config import SERVICES
from services.common.errors import BadInput
from tests.integration.helpers import new_user, wait_for


def read_from(path, offset):
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def test_a_refused_rpc_is_one_info_line_in_the_service_log(platform, rpc):
    log = platform.log_path("identity")
    offset = os.path.getsize(log)
    email = "not-an-email-{}".format(uuid.uuid4().hex)
    with pytest.raises(BadInput):
        rpc.identity.register(dict(new_user(), email=email))
    wait_for(lambda: "identity.register" in read_from(log, offset), message="the refusal in identity's log")
    time.sleep(0.5)  # a traceback would follow in the same write; give anything else the time to arrive
    written = read_from(log, offset)
    lines = written.splitlines()
    assert len(lines) == 1, written
    assert " INFO identity nameko.containers: refused identity.register: BadInput: invalid input: " in lines[0]
    assert "email" in lines[0]
    assert "Traceback" not in written and email not in written


def test_each_process_is_supervised_with_a_rotated_log(platform):
    config = {c["name"]: c for c in platform.supervisor().getAllConfigInfo()}
    for service in SERVICES:
        c = config[service]
        assert c["stdout_logfile"] == platform.log_path(service)
        assert (c["stdout_logfile_maxbytes"], c["stdout_logfile_backups"]) == (10 * 1024 * 1024, LOG_BACKUPS)
        assert c["redirect_stderr"] and c["stopsignal"] == signal.SIGTERM and c["startretries"] > 0
    assert platform.supervisor().getState()["statename"] == "RUNNING"


def test_a_killed_service_is_restarted_by_supervisord(platform, amqp_uri):
    before = platform.pid("ai")
    platform.kill("ai")
    after = wait_for(lambda: platform.pid("ai") not in (None, before) and platform.pid("ai"),
                     message="ai restarted by supervisord")
    assert wait_healthy(["ai"], uri=amqp_uri, timeout=60)["ai"]["status"] == "ok"
    assert platform.pid("ai") == after and "ai" in platform.running()
