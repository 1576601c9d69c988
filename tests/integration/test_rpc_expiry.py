"""A request whose caller gave up never runs later (docs/architecture.md,
"RPC requests expire"; services/common/rpc.py).

Identity is stopped, as an operator or a crash would stop it; the gateway's
client sends a registration, gives up after its timeout and would answer
SERVICE_UNAVAILABLE. When identity comes back, the request has expired in
its queue: no user is made, while a registration sent after the restart
is. (That the TTL is the call's timeout, in milliseconds, is
tests/unit/test_rpc.py's.)"""
import time

import pytest

import services.common.errors  # noqa: F401  registers the typed errors with nameko
from api_gateway.rpc import RequestRpc, RpcPool, ServiceUnavailable
from scripts.platformctl import wait_healthy
from tests.integration.helpers import Db, messages_in, new_user, wait_for

GATEWAY_RPC_TIMEOUT = 1.0


def test_a_request_the_gateway_gave_up_on_never_runs(platform, amqp_uri, databases):
    identity_db = Db(databases["identity"].url)
    pool = RpcPool(amqp_uri, size=2, timeout=GATEWAY_RPC_TIMEOUT)
    late, fresh = new_user(), new_user()
    platform.stop("identity")
    try:
        with pytest.raises(ServiceUnavailable, match="no answer within 1s"):
            RequestRpc(pool, time_budget=5).call("identity", "register", late)
        # The request waits in identity's queue until its TTL runs out.
        time.sleep(GATEWAY_RPC_TIMEOUT + 0.5)
    finally:
        platform.start("identity")
    wait_healthy(["identity"], uri=amqp_uri, timeout=60)
    assert RequestRpc(pool, time_budget=5).call("identity", "register", fresh)["ok"] is True
    assert identity_db.scalar("SELECT count(*) FROM users WHERE email = :e", e=fresh["email"]) == 1
    # Anything delivered from the queue on the restart ran before or beside
    # the fresh call; give a late one the time to commit all the same.
    time.sleep(1.0)
    assert identity_db.scalar("SELECT count(*) FROM users WHERE email = :e", e=late["email"]) == 0
    wait_for(lambda: messages_in(amqp_uri, "rpc-identity") == 0, message="rpc-identity empty")
