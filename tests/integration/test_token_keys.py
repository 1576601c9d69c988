"""Token keys on the running platform (docs/architecture.md, "Identity on
RPC"): each process holds only its own private key, and a key rotates as
the recipe says, without restarting the verifiers."""
import os
import time

import pytest

import services.common.errors  # noqa: F401  registers the typed errors with nameko
from services.common import keys
from services.common.auth import issue_service_token
from services.common.config import SERVICES
from services.common.errors import Unauthenticated
from tests.integration.helpers import operator_token
from tests.token_keys import session_key


def environ_of(pid):
    with open("/proc/{}/environ".format(pid), "rb") as f:
        return dict(item.split("=", 1) for item in f.read().decode().split("\0") if "=" in item)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc/<pid>/environ")
def test_each_service_process_holds_only_its_own_private_key(platform):
    folder = os.environ[keys.KEYS_DIR_ENV]
    for service in SERVICES:
        env = environ_of(platform.pid(service))
        assert env[keys.PRIVATE_ENV] == keys.private_dir(folder, service)
        assert env[keys.PUBLIC_ENV] == keys.public_dir(folder)
        assert keys.KEYS_DIR_ENV not in env and "AUTH_JWT_SECRET" not in env


def until(check, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except Unauthenticated:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_rotating_learnings_key(platform, rpc):
    """The recipe: a new key pair; verifiers pick up its public key by
    themselves; the signer restarts onto it; the old key is retired and its
    tokens stop working, with no verifier restarted."""
    folder = os.environ[keys.KEYS_DIR_ENV]
    old = session_key("learning")
    old_token = issue_service_token("learning", key=old)
    assert "items" in rpc.identity.list_users(old_token, limit=1)

    new_kid = keys.create(folder, "learning")
    new = session_key("learning")
    assert new.kid == new_kid
    identity_pid = platform.pid("identity")
    until(lambda: rpc.identity.list_users(issue_service_token("learning", key=new), limit=1))
    assert "items" in rpc.identity.list_users(old_token, limit=1)  # both, during the rollover

    platform.stop("learning")  # the signer restarts onto its newest key
    platform.start("learning")
    keys.retire(folder, old.kid)
    time.sleep(keys.RECHECK_SECONDS + 0.2)
    with pytest.raises(Unauthenticated, match="does not know"):
        rpc.identity.list_users(old_token, limit=1)
    # learning now signs with its new key: its calls to identity still pass
    until(lambda: rpc.learning.resync_users(operator_token(), page_size=500))
    assert platform.pid("identity") == identity_pid  # never restarted
