"""``/healthz``: one report for every caller within ``ttl`` seconds.

The endpoint is anonymous, so without a cache each poll would cost an RPC
to every service; a load balancer, a monitor and an attacker polling it
together must not be able to load the broker. One green thread refreshes
the report while concurrent callers wait for that same refresh.
"""
import time
from datetime import datetime, timezone

import eventlet.semaphore

from api_gateway.rpc import BudgetExceeded, RequestRpc, ServiceUnavailable


class HealthReport:
    def __init__(self, pool, services, budget, ttl=2.0, extra_checks=None):
        self.pool, self.services, self.budget, self.ttl = pool, services, budget, ttl
        self.extra_checks = extra_checks or {}
        self._lock = eventlet.semaphore.Semaphore()
        self._report, self._made_at = None, float("-inf")

    def current(self):
        """(report, ok); fresh within ``ttl`` seconds."""
        with self._lock:
            if time.monotonic() - self._made_at >= self.ttl:
                self._report = self._ask()
                self._made_at = time.monotonic()
        return self._report

    def _ask(self):
        rpc, report = RequestRpc(self.pool, self.budget), {}
        for service in self.services:
            try:
                report[service] = rpc.call(service, "health")
            except (ServiceUnavailable, BudgetExceeded) as exc:
                report[service] = {"service": service, "status": "unavailable", "error": str(exc)}
        stores = {name: check() for name, check in self.extra_checks.items()}
        ok = all(r.get("status") == "ok" for r in (*report.values(), *stores.values()))
        # checked_at tells a poller how old the report is, and that
        # polls within ``ttl`` share one round of RPCs.
        checked_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return {"status": "ok" if ok else "degraded", "checked_at": checked_at, "services": report,
                "stores": stores}, ok
