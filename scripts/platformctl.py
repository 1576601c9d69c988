"""Start, stop and check the six services as ``nameko run`` processes.

Used by ``scripts/up`` and ``scripts/down``, and by the integration tests,
which start the same processes against throwaway databases.

    python scripts/platformctl.py start|stop|status [service ...]
"""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from services.common.config import SERVICES, amqp_uri, check_service, db_settings  # noqa: E402


class Platform:
    """The service processes of one run (development, or one test session)."""

    def __init__(self, run_dir=None, env=None):
        self.run_dir = run_dir or os.path.join(ROOT, ".run")
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = ROOT + os.pathsep + self.env.get("PYTHONPATH", "")
        os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)

    def _pidfile(self, service):
        return os.path.join(self.run_dir, service + ".pid")

    def log_path(self, service):
        return os.path.join(self.run_dir, "logs", service + ".log")

    def pid(self, service):
        try:
            with open(self._pidfile(service)) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, service, extra_env=None, instance=None):
        """Start one ``nameko run`` process; a running one is left alone."""
        name = service if instance is None else "{}-{}".format(service, instance)
        if self.pid(name):
            return self.pid(name)
        cmd = [sys.executable, "-m", "services.common.nameko_cli", "run",
               "--config", os.path.join(ROOT, "config", check_service(service) + ".yaml"),
               "services.{0}.service:{1}Service".format(service, service.capitalize())]
        env = dict(self.env, **(extra_env or {}))
        return self._spawn(name, cmd, env)

    def start_gateway(self, extra_env=None, name="gateway"):
        """The GraphQL gateway under gunicorn with eventlet workers."""
        if self.pid(name):
            return self.pid(name)
        env = dict(self.env, **(extra_env or {}))
        bind = "{}:{}".format(env.get("GATEWAY_HOST", "127.0.0.1"), env.get("GATEWAY_PORT", "8000"))
        cmd = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--worker-class", "eventlet",
               "--workers", env.get("GATEWAY_WORKERS", "2"), "--worker-connections", "200",
               "--bind", bind, "--graceful-timeout", "5", "--access-logfile", "-", "api_gateway.wsgi:app"]
        return self._spawn(name, cmd, env)

    def _spawn(self, name, cmd, env):
        """Run ``cmd`` in its own session, logging to ``logs/<name>.log``."""
        with open(self.log_path(name), "ab") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        with open(self._pidfile(name), "w") as f:
            f.write(str(proc.pid))
        return proc.pid

    def stop(self, *names, timeout=15):
        """SIGTERM (nameko lets running workers finish), then SIGKILL for
        any still running after ``timeout``. Several stop in parallel."""
        pids = [p for p in (self.pid(n) for n in names) if p]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for name in names:
            if os.path.exists(self._pidfile(name)):
                os.remove(self._pidfile(name))

    def kill(self, name):
        """SIGKILL, as a crash would end it: no worker finishes, nothing is
        cleaned up."""
        pid = self.pid(name)
        if pid:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
            os.remove(self._pidfile(name))

    def running(self):
        names = [f[:-4] for f in os.listdir(self.run_dir) if f.endswith(".pid")]
        return sorted(n for n in names if self.pid(n))


def _alive(pid):
    try:
        # Reap it if it is our child, so it does not linger as a zombie.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def wait_healthy(services, uri=None, timeout=60):
    """Call ``health`` on each service until all answer ok; returns the reports."""
    from nameko.standalone.rpc import ClusterRpcProxy
    from nameko.exceptions import RpcTimeout, UnknownService
    reports, deadline = {}, time.time() + timeout
    with ClusterRpcProxy({"AMQP_URI": uri or amqp_uri()}, timeout=3) as rpc:
        for service in services:
            while True:
                try:
                    reports[service] = getattr(rpc, service).health()
                    if reports[service]["status"] == "ok":
                        break
                except (RpcTimeout, UnknownService):  # not up yet
                    pass
                if time.time() > deadline:
                    raise RuntimeError("{} did not report healthy within {}s: {}".format(
                        service, timeout, reports.get(service, "no answer")))
                time.sleep(0.5)
    return reports


def wait_gateway(url, timeout=60):
    """Until the gateway's /healthz answers (any status: services may still start)."""
    import urllib.error
    import urllib.request
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("the gateway did not answer on {} within {}s".format(url, timeout))
            time.sleep(0.3)


def gateway_url(env=None):
    env = os.environ if env is None else env
    return "http://{}:{}".format(env.get("GATEWAY_HOST", "127.0.0.1"), env.get("GATEWAY_PORT", "8000"))


def main(argv):
    cmd, names = (argv[0] if argv else "status"), (argv[1:] or list(SERVICES))
    platform = Platform()
    if cmd == "start":
        names = [n for n in names if n != "gateway"]
        for s in names:
            print("  starting {:<14} pid {}".format(s, platform.start(s)))
        reports = wait_healthy(names, timeout=90)
        if not argv[1:] or "gateway" in argv[1:]:
            print("  starting {:<14} pid {}".format("gateway", platform.start_gateway()))
            wait_gateway(gateway_url())
        print("\n  {:<14} {:<8} {:<8} {}".format("service", "status", "broker", "database"))
        for s in names:
            st = db_settings(s)
            print("  {:<14} {:<8} {:<8} {} {}:{}/{} (log {})".format(
                s, reports[s]["status"], reports[s]["broker"], reports[s]["database"],
                st.host, st.port, st.name, os.path.relpath(platform.log_path(s), ROOT)))
        if platform.pid("gateway"):
            print("\n  GraphQL gateway: {}/graphql (GraphiQL in a browser), health at /healthz".format(gateway_url()))
    elif cmd == "stop":
        names = argv[1:] or platform.running()
        platform.stop(*names)
        for name in names:
            print("  stopped {}".format(name))
    elif cmd == "status":
        running = platform.running()
        for s in (*SERVICES, "gateway"):
            print("  {:<14} {}".format(s, "running, pid {}".format(platform.pid(s)) if s in running else "stopped"))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    eventlet.monkey_patch()  # the standalone RPC proxy expects a patched runtime
    sys.exit(main(sys.argv[1:]))
