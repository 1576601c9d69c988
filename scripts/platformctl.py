"""Start, stop and check the platform's processes under supervisord.

One supervisord per run directory (``.run/`` for development, a temporary
directory per test session) runs the six ``nameko run`` services and the
gateway: it restarts a process that dies and rotates its log
(docs/architecture.md, "Processes and logs"). Used by ``scripts/up`` and
``scripts/down``, by the integration tests and by ``scripts/bench.py``.

    .venv/bin/python scripts/platformctl.py start|stop|status [service ...]

(the virtualenv's Python, from any shell: a bare ``python`` lacks the
dependencies). ``PLATFORM_RUN_DIR`` names another run directory than
``.run/``: tests/integration/test_operations_recipes.py runs the documented
commands against its own run's supervisord.

A run directory holds:

    supervisord.conf          supervisord's configuration (give it to ``supervisorctl -c``)
    supervisor.sock           its XML-RPC socket, which this module and supervisorctl use
    supervisord.pid
    supervisord.env.json      the environment supervisord was started with
    supervisor.d/<name>.conf  one [program:<name>] per process
    logs/<name>.log           each process's stdout and stderr, rotated; logs/supervisord.log

Token keys are not in it: ``AUTH_KEYS_DIR`` names them (default
``<run directory>/keys``; ``scripts/up`` makes ``.run/keys``, the tests their
own), and each process is given only what it holds (``Platform.key_env``).
"""
import glob
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from services.common import keys  # noqa: E402
from services.common.config import (SERVICES, amqp_uri, broker_settings, check_service,  # noqa: E402
                                    db_settings, mask_uri)

# Rotation: at 10 MB a log is renamed to .1 (up to .5), so each process
# keeps at most 60 MB, however long it runs.
LOG_MAX_BYTES = "10MB"
LOG_BACKUPS = 5
# SIGTERM lets nameko finish its running workers and gunicorn its requests
# (--graceful-timeout 5); supervisord sends SIGKILL to what is left after this.
STOP_WAIT_SECONDS = 15
# A process must stay up START_SECONDS to count as started. One that exits
# sooner is tried again after 1, 2, ... START_RETRIES seconds (about a
# minute in all), then left FATAL for an operator; one that dies after
# starting is restarted within a second.
START_SECONDS = 3
START_RETRIES = 10

# supervisord's process states, as its XML-RPC interface names them.
KEPT_UP = {"STARTING", "RUNNING", "BACKOFF"}     # supervisord is keeping it up
HAS_PROCESS = {"STARTING", "RUNNING", "STOPPING"}

SUPERVISORD_CONF = """\
; Written by scripts/platformctl.py each time it starts this supervisord.
[unix_http_server]
file={socket}
chmod=0700

[supervisord]
logfile={logs}/supervisord.log
logfile_maxbytes={maxbytes}
logfile_backups={backups}
pidfile={pidfile}
directory={root}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{socket}

[include]
files={programs}/*.conf
"""

PROGRAM_CONF = """\
; Written by scripts/platformctl.py.
[program:{name}]
command={command}
directory={root}
environment={environment}
autostart=true
autorestart=true
startsecs={startsecs}
startretries={startretries}
stopsignal=TERM
stopwaitsecs={stopwait}
killasgroup=true
redirect_stderr=true
stdout_logfile={log}
stdout_logfile_maxbytes={maxbytes}
stdout_logfile_backups={backups}
"""


class Platform:
    """The processes of one run (development, or one test session), kept by
    that run's supervisord."""

    def __init__(self, run_dir=None, env=None):
        self.run_dir = os.path.abspath(run_dir or os.path.join(ROOT, ".run"))
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = ROOT + os.pathsep + self.env.get("PYTHONPATH", "")
        # Output goes through supervisord's pipe: unbuffered, a line is in the
        # log (and `supervisorctl tail`) when it is written, and none is lost
        # in a buffer when a process is killed.
        self.env["PYTHONUNBUFFERED"] = "1"
        # No private key in supervisord's own environment, which every
        # program inherits: each service gets its own path in start().
        self.keys_dir = os.path.abspath(self.env.pop(keys.KEYS_DIR_ENV, None) or os.path.join(self.run_dir, "keys"))
        self.env.pop(keys.PRIVATE_ENV, None)
        self.env[keys.PUBLIC_ENV] = keys.public_dir(self.keys_dir)
        # Nor any broker password: each process is given its own user's
        # AMQP_URI alone (broker_env), so a process that is broken into holds
        # no other principal's login (services/common/broker.py).
        self._broker_secrets = {k: self.env.pop(k) for k in list(self.env)
                                if k == "AMQP_URI" or k.endswith("_AMQP_PASSWORD")}
        self.conf = os.path.join(self.run_dir, "supervisord.conf")
        self.socket = os.path.join(self.run_dir, "supervisor.sock")
        self.pidfile = os.path.join(self.run_dir, "supervisord.pid")
        self.supervisord_log = os.path.join(self.run_dir, "logs", "supervisord.log")
        self._env_file = os.path.join(self.run_dir, "supervisord.env.json")
        self._programs = os.path.join(self.run_dir, "supervisor.d")
        self._supervisord_pid = None  # the one this object last reached
        os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
        os.makedirs(self._programs, exist_ok=True)

    def key_env(self, service=None):
        """What a process is told about keys: the public directory, and a
        service its own private keys alone (services/common/keys.py)."""
        env = {keys.PUBLIC_ENV: keys.public_dir(self.keys_dir)}
        if service is not None:
            env[keys.PRIVATE_ENV] = keys.private_dir(self.keys_dir, service)
        return env

    def broker_env(self, principal):
        """``AMQP_URI`` as ``principal`` (a service, ``gateway``), from
        ``<PRINCIPAL>_AMQP_PASSWORD`` and the other broker settings
        (services/common/config.py, ``broker_settings``)."""
        return {"AMQP_URI": broker_settings(principal, {**self.env, **self._broker_secrets}).uri}

    def log_path(self, name):
        return os.path.join(self.run_dir, "logs", name + ".log")

    # supervisord itself

    def supervisor(self):
        """supervisord's XML-RPC interface (its ``supervisor.*`` methods), over this run's socket."""
        from supervisor.xmlrpc import SupervisorTransport
        transport = SupervisorTransport(None, None, "unix://" + self.socket)
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def supervisord_pid(self):
        """supervisord's pid, or None when none answers on this run's socket."""
        if not os.path.exists(self.socket):
            return None
        try:
            return self.supervisor().getPID() if self.supervisor().getState()["statename"] == "RUNNING" else None
        except (OSError, xmlrpc.client.Error):  # a stale socket, or one shutting down
            return None

    def _ensure_supervisord(self):
        self._supervisord_pid = self.supervisord_pid()
        if self._supervisord_pid:
            return
        # A new supervisord runs only what this run asks for: programs an
        # earlier run registered are not brought back with it.
        for path in glob.glob(os.path.join(self._programs, "*.conf")):
            os.remove(path)
        _write_private(self._env_file, json.dumps(self.env, indent=1, sort_keys=True))
        _write_private(self.conf, SUPERVISORD_CONF.format(
            socket=_ini(self.socket), logs=_ini(os.path.join(self.run_dir, "logs")), pidfile=_ini(self.pidfile),
            root=_ini(ROOT), programs=_ini(self._programs), maxbytes=LOG_MAX_BYTES, backups=LOG_BACKUPS))
        # supervisord daemonizes: this returns once it listens on its socket.
        done = subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", self.conf], cwd=ROOT,
                              env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        deadline = time.time() + 15
        while not self.supervisord_pid():
            if time.time() > deadline:
                raise RuntimeError("supervisord did not start (exit {}): {}{}\nsee {}".format(
                    done.returncode, done.stdout, done.stderr, self.supervisord_log))
            time.sleep(0.1)
        self._supervisord_pid = self.supervisord_pid()

    def shutdown(self, timeout=STOP_WAIT_SECONDS):
        """Stop every process (in parallel), then supervisord itself."""
        pid = self.supervisord_pid()
        if pid:
            self.stop(*(info["name"] for info in self.processes()), timeout=timeout)
            try:
                self.supervisor().shutdown()
            except (OSError, xmlrpc.client.Error):
                pass
        elif self._supervisord_pid and self.conf in _cmdline(self._supervisord_pid):
            # Its socket went with the run directory (removed while it ran),
            # but this object reached it before: SIGTERM is supervisord's own
            # way to stop its processes and exit.
            pid = self._supervisord_pid
            os.kill(pid, signal.SIGTERM)
        else:
            return
        deadline = time.time() + 30 + timeout
        while _alive(pid):
            if time.time() > deadline:
                raise RuntimeError("supervisord (pid {}) did not exit; see {}".format(pid, self.supervisord_log))
            time.sleep(0.1)

    # the processes

    def _info(self, name):
        if not os.path.exists(self.socket):
            return None
        try:
            return self.supervisor().getProcessInfo(name)
        except (OSError, xmlrpc.client.Error):  # no such program, or no supervisord
            return None

    def processes(self):
        """supervisord's report on each of its programs (name, statename, pid, description, ...)."""
        if not os.path.exists(self.socket):
            return []
        try:
            return self.supervisor().getAllProcessInfo()
        except (OSError, xmlrpc.client.Error):
            return []

    def pid(self, name):
        info = self._info(name)
        return info["pid"] if info and info["statename"] in HAS_PROCESS and info["pid"] else None

    def running(self):
        """Names of the processes supervisord is keeping up."""
        return sorted(info["name"] for info in self.processes() if info["statename"] in KEPT_UP)

    def start(self, service, extra_env=None, instance=None):
        """Start one ``nameko run`` process; a running one is left alone."""
        name = service if instance is None else "{}-{}".format(service, instance)
        cmd = [sys.executable, "-m", "services.common.nameko_cli", "run",
               "--config", os.path.join(ROOT, "config", check_service(service) + ".yaml"),
               "services.{0}.service:{1}Service".format(service, service.capitalize())]
        stripe = stripe_env(self.env) if service == "payment" else {}
        mail = smtp_env(self.env, self.run_dir) if service in MAIL_SENDERS else {}
        mail.pop("SMTP_SINK_DIR", None)
        return self._start(name, cmd, {**self.env, **self.key_env(service), **self.broker_env(service), **stripe,
                                       **mail, **(extra_env or {})})

    def start_stripe(self):
        """The local Stripe-compatible server (docs/stripe-local.md), when no
        real Stripe key is set; its state is kept in the run directory."""
        env = stripe_env(self.env)
        if not env.get("STRIPE_LOCAL_PORT"):
            return None
        cmd = [sys.executable, "-m", "devservers.stripe_server",
               "--state", os.path.join(self.run_dir, "stripe-local.json")]
        pid = self._start("stripe", cmd, {**self.env, **env})
        wait_stripe(env["STRIPE_API_BASE"])
        return pid

    def start_smtp(self):
        """The development SMTP sink (devservers/smtp_sink), unless
        ``SMTP_HOST`` names another server: it keeps every mail the services
        send as a file in ``SMTP_SINK_DIR`` (default ``<run dir>/mail``)."""
        env = smtp_env(self.env, self.run_dir)
        if not env.get("SMTP_SINK_DIR"):
            return None
        cmd = [sys.executable, "-m", "devservers.smtp_sink", "--host", env["SMTP_HOST"], "--port", env["SMTP_PORT"],
               "--dir", env["SMTP_SINK_DIR"]]
        pid = self._start("smtp", cmd, {**self.env, **env})
        wait_port(env["SMTP_HOST"], int(env["SMTP_PORT"]), "the SMTP sink")
        return pid

    def start_gateway(self, extra_env=None, name="gateway"):
        """The GraphQL gateway under gunicorn with eventlet workers."""
        env = {**self.env, **self.key_env(), **self.broker_env("gateway"), **(extra_env or {})}
        bind = "{}:{}".format(env.get("GATEWAY_HOST", "127.0.0.1"), env.get("GATEWAY_PORT", "8000"))
        # eventlet's worker, answering what gunicorn refuses in the gateway's JSON shape (api_gateway/server.py);
        # each worker holds up to GATEWAY_MAX_STREAMS live streams (GET /stream) and 200 requests besides
        connections = int(env.get("GATEWAY_MAX_STREAMS", "1000")) + 200
        cmd = [os.path.join(os.path.dirname(sys.executable), "gunicorn"),
               "--worker-class", "api_gateway.server.JsonErrorWorker",
               "--workers", env.get("GATEWAY_WORKERS", "2"), "--worker-connections", str(connections),
               "--bind", bind, "--graceful-timeout", "5", "--access-logfile", "-", "api_gateway.wsgi:app"]
        return self._start(name, cmd, env)

    def _start(self, name, cmd, env):
        """Register ``cmd`` as supervisord's program ``name`` (again, if its
        command or environment changed) and start it; returns its pid."""
        from supervisor.xmlrpc import Faults
        pid = self.pid(name)
        if pid:
            return pid
        self._ensure_supervisord()
        with open(self._env_file) as f:
            supervisord_env = json.load(f)
        _write_private(os.path.join(self._programs, name + ".conf"), PROGRAM_CONF.format(
            name=name, command=_ini(" ".join(shlex.quote(arg) for arg in cmd)), root=_ini(ROOT),
            environment=_environment(env, supervisord_env), startsecs=START_SECONDS, startretries=START_RETRIES,
            stopwait=STOP_WAIT_SECONDS, log=_ini(self.log_path(name)), maxbytes=LOG_MAX_BYTES,
            backups=LOG_BACKUPS))
        rpc = self.supervisor()
        [[added, changed, _removed]] = rpc.reloadConfig()  # what `supervisorctl update` does
        if name in changed:
            self.stop(name)
            rpc.removeProcessGroup(name)
        if name in added or name in changed:
            rpc.addProcessGroup(name)
        try:
            rpc.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.ALREADY_STARTED:  # autostart may have been first
                raise
        deadline = time.time() + 30
        while True:
            info = self._info(name) or {"statename": "UNKNOWN", "pid": 0}
            if info["statename"] in HAS_PROCESS and info["pid"]:
                return info["pid"]
            if info["statename"] == "FATAL" or time.time() > deadline:
                raise RuntimeError("{} did not start ({}); see {}".format(
                    name, info["statename"], self.log_path(name)))
            time.sleep(0.05)

    def stop(self, *names, timeout=STOP_WAIT_SECONDS):
        """SIGTERM (nameko lets running workers finish), then SIGKILL for
        any still running after ``timeout``. Several stop in parallel; a
        stopped process stays registered, so `supervisorctl start` can bring
        it back."""
        from supervisor.xmlrpc import Faults
        if not names or not self.supervisord_pid():
            return
        rpc = self.supervisor()
        for name in names:
            try:
                rpc.stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if fault.faultCode not in (Faults.NOT_RUNNING, Faults.BAD_NAME):
                    raise
        deadline = time.time() + timeout
        while time.time() < deadline and any(self.pid(n) for n in names):
            time.sleep(0.1)
        for name in names:
            pid = self.pid(name)
            if pid:  # as supervisord does after stopwaitsecs (killasgroup)
                _signal_group(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while any(self.pid(n) for n in names) and time.time() < deadline:
            time.sleep(0.05)

    def kill(self, name):
        """SIGKILL, as a crash would end it: no worker finishes, nothing is
        cleaned up. supervisord then restarts it (autorestart), as it would
        after a real crash; a caller that needs it down stops it after this.
        Returns once supervisord has seen it die."""
        pid = self.pid(name)
        if not pid:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 30
        while (self._info(name) or {}).get("pid") == pid:
            if time.time() > deadline:
                raise RuntimeError("supervisord did not see {} (pid {}) die".format(name, pid))
            time.sleep(0.05)


def _ini(value):
    """A value for supervisord's configuration, which expands %(name)s."""
    return str(value).replace("%", "%%")


def _environment(env, base):
    """supervisord's ``environment=`` for a program whose environment is
    ``env``: the variables that differ from supervisord's own (``base``),
    which its processes inherit. Variables missing from ``env`` but set in
    ``base`` stay set."""
    from supervisor.datatypes import dict_of_key_value_pairs
    pairs = []
    for key in sorted(env):
        value = env[key]
        if base.get(key) == value:
            continue
        quote = "'" if '"' in value else '"'
        pair = "{}={}{}{}".format(key, quote, value, quote)
        # What supervisord will read: its own parser, after its ini parser
        # has cut comments (" ;" or " #") and lines.
        if "\n" in value or "\r" in value or " ;" in value or " #" in value \
                or dict_of_key_value_pairs(pair) != {key: value}:
            raise ValueError("{} cannot be passed through supervisord's environment= as it is: {!r}".format(
                key, value))
        pairs.append(_ini(pair))
    return ",".join(pairs)


def _write_private(path, text):
    """Written readable by this user only: environments can hold secrets."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)  # supervisord makes each program its own process group
    except OSError:
        pass


def _cmdline(pid):
    """A process's arguments, or [] when it is gone (or there is no /proc)."""
    try:
        with open("/proc/{}/cmdline".format(pid), "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _alive(pid):
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by a parent
    that is not us) does not."""
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def wait_healthy(services, uri=None, timeout=60):
    """Call ``health`` on each service until all answer ok; returns the reports."""
    from nameko.exceptions import RpcTimeout, UnknownService
    from services.common.broker import adapt_nameko
    from services.common.config import rpc_config
    from services.common.rpc import ClusterRpcProxy  # a request it gave up on expires
    adapt_nameko()  # reply queues and keys the operator's broker user may use
    # py-amqp warns of every confirm that reaches a channel nameko closed after
    # calling a service that is not up yet: expected while they start, and noise.
    logging.getLogger("amqp").setLevel(logging.ERROR)
    reports, deadline = {}, time.time() + timeout
    with ClusterRpcProxy(rpc_config(uri or amqp_uri()), timeout=3) as rpc:
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


def free_port():
    """A TCP port on loopback that nothing listens on now (tests and benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The key the local Stripe server takes; any other STRIPE_SECRET_KEY is Stripe's own.
LOCAL_STRIPE_KEY = "sk_test_local"


def stripe_env(env):
    """The Stripe settings the payment service (and the local server, when
    it stands in for Stripe) runs with: a real ``STRIPE_SECRET_KEY`` goes to
    Stripe with the developer's ``STRIPE_WEBHOOK_SECRET``; none, or the
    local key, goes to the local server on ``STRIPE_LOCAL_PORT``, which
    sends its webhooks to the payment service's ``PAYMENT_WEBHOOK_ADDRESS``."""
    key = env.get("STRIPE_SECRET_KEY") or LOCAL_STRIPE_KEY
    if key != LOCAL_STRIPE_KEY:
        return {name: env[name] for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET")
                if env.get(name)}
    port = env.get("STRIPE_LOCAL_PORT") or "12111"
    webhooks = env.get("PAYMENT_WEBHOOK_ADDRESS") or "127.0.0.1:8010"
    return {"STRIPE_SECRET_KEY": key, "STRIPE_LOCAL_PORT": port, "STRIPE_API_BASE": "http://127.0.0.1:" + port,
            "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET") or "",
            "STRIPE_WEBHOOK_URL": "http://{}/webhooks/stripe".format(webhooks)}


# The services that send mail (services/common/mail.py).
MAIL_SENDERS = ("identity", "communication")
LOCAL_SMTP_HOSTS = ("127.0.0.1", "localhost")


def smtp_env(env, run_dir):
    """Where the mail-sending services send: with no ``SMTP_HOST``, or a
    loopback one, the development sink on ``SMTP_PORT`` (1025), keeping
    mail in ``SMTP_SINK_DIR``; another ``SMTP_HOST`` is a real server,
    reached with the services' own SMTP settings, and no sink runs."""
    host = env.get("SMTP_HOST") or "127.0.0.1"
    if host not in LOCAL_SMTP_HOSTS or env.get("SMTP_SINK", "1") == "0":
        return {}
    return {"SMTP_HOST": host, "SMTP_PORT": env.get("SMTP_PORT") or "1025",
            "SMTP_SINK_DIR": os.path.abspath(env.get("SMTP_SINK_DIR") or os.path.join(run_dir, "mail"))}


def wait_port(host, port, what, timeout=30):
    deadline = time.time() + timeout
    while True:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((host, port)) == 0:
                return
        if time.time() > deadline:
            raise RuntimeError("{} did not answer on {}:{}".format(what, host, port))
        time.sleep(0.1)


def wait_stripe(api_base, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(api_base + "/_local/health", timeout=2):
                return
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("the local Stripe server did not answer at " + api_base)
            time.sleep(0.2)


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


def _rel(path):
    return os.path.relpath(path, ROOT)


def supervisorctl_command(platform):
    """How an operator reaches this run's supervisord."""
    return "{} -c {}".format(_rel(os.path.join(os.path.dirname(sys.executable), "supervisorctl")),
                             _rel(platform.conf))


def main(argv):
    from services.common.broker import SECRETS_FILE, read_secrets
    cmd, names = (argv[0] if argv else "status"), (argv[1:] or list(SERVICES))
    for key, value in read_secrets(SECRETS_FILE).items():  # the broker logins scripts/up made
        os.environ.setdefault(key, value)
    platform = Platform(run_dir=os.environ.get("PLATFORM_RUN_DIR") or None)
    if cmd == "start":
        names = [n for n in names if n not in ("gateway", "stripe", "smtp")]
        if not argv[1:] or "stripe" in argv[1:] or "payment" in names:
            stripe_pid = platform.start_stripe()
            if stripe_pid:
                print("  starting {:<14} pid {}".format("stripe", stripe_pid))
        if not argv[1:] or "smtp" in argv[1:] or set(MAIL_SENDERS) & set(names):
            smtp_pid = platform.start_smtp()
            if smtp_pid:
                print("  starting {:<14} pid {}".format("smtp", smtp_pid))
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
                st.host, st.port, st.name, _rel(platform.log_path(s))))
        if platform.pid("gateway"):
            print("\n  GraphQL gateway: {}/graphql (GraphiQL in a browser), health at /healthz (log {})".format(
                gateway_url(), _rel(platform.log_path("gateway"))))
        running = list(names) + (["gateway"] if platform.pid("gateway") else [])
        print("\n  RabbitMQ:    a user per process ({}); operators connect as {}".format(
            ", ".join(broker_settings(p).user for p in running), mask_uri(amqp_uri())))
        print("  Redis:       {} (the gateway's sign-in throttle, api_gateway/throttle.py)".format(
            os.environ.get("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/0")))
        print("  PostgreSQL:  one database and role per service, listed above")
        stripe = stripe_env(os.environ)
        if stripe.get("STRIPE_LOCAL_PORT"):
            print("  Stripe:      no STRIPE_SECRET_KEY set, so the local Stripe-compatible server at {} stands in "
                  "(docs/stripe-local.md; log {}); webhooks go to {}".format(
                      stripe["STRIPE_API_BASE"], _rel(platform.log_path("stripe")), stripe["STRIPE_WEBHOOK_URL"]))
        else:
            print("  Stripe:      Stripe itself, with the STRIPE_SECRET_KEY given; webhooks arrive at "
                  "http://{}/webhooks/stripe (docs/payments.md)".format(
                      os.environ.get("PAYMENT_WEBHOOK_ADDRESS", "127.0.0.1:8010")))
        mail = smtp_env(os.environ, platform.run_dir)
        if mail:
            print("  Mail:        no outside SMTP_HOST set, so the development SMTP sink at {}:{} keeps every mail "
                  "the services send in {}/ (log {})".format(mail["SMTP_HOST"], mail["SMTP_PORT"],
                                                            _rel(mail["SMTP_SINK_DIR"]), _rel(platform.log_path("smtp"))))
            print("               index.jsonl lists them (from, to, subject, file); read the latest with\n"
                  "               .venv/bin/python -m devservers.smtp_sink.read --dir {} (docs/operations.md, "
                  "\"Mail\")".format(_rel(mail["SMTP_SINK_DIR"])))
        else:
            print("  Mail:        sent through {}:{} (SMTP_HOST, SMTP_PORT)".format(
                os.environ.get("SMTP_HOST"), os.environ.get("SMTP_PORT", "1025")))
        print("\n  supervisord: pid {}, socket {}, log {}".format(
            platform.supervisord_pid(), _rel(platform.socket), _rel(platform.supervisord_log)))
        print("  processes:   {} status   (restart <name>, tail -f <name>)".format(supervisorctl_command(platform)))
    elif cmd == "stop":
        if argv[1:]:
            platform.stop(*argv[1:])
            stopped = argv[1:]
        else:
            stopped = platform.running()
            platform.shutdown()
        for name in stopped:
            print("  stopped {}".format(name))
        if not argv[1:]:
            print("  stopped supervisord")
    elif cmd == "status":
        if not platform.supervisord_pid():
            print("  supervisord is not running in {} (scripts/up starts it)".format(_rel(platform.run_dir)))
            return 0
        known = {info["name"]: info for info in platform.processes()}
        for name in sorted(set(known) | set(SERVICES) | {"gateway"}):
            info = known.get(name)
            print("  {:<14} {:<9} {}".format(name, info["statename"] if info else "-",
                                             info["description"] if info else "not started"))
        print("\n  supervisord pid {}; {} status".format(platform.supervisord_pid(), supervisorctl_command(platform)))
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
