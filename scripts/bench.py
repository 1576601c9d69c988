"""What the split costs, measured on this machine: ``scripts/bench [--quick]``.

It starts a platform of its own (throwaway databases and vhost), generates
its data with a fixed seed, measures, prints a table, and cleans up.
See docs/benchmarks.md for what each figure means and the recorded results.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402
import eventlet.queue  # noqa: E402

eventlet.monkey_patch()  # before psycopg2, kombu and nameko (docs/architecture.md, "Runtime notes")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform as host  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

logging.getLogger("amqp").setLevel(logging.ERROR)  # proxies closing: "Received method (60, 80)..."
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import requests  # noqa: E402
from eventlet.greenpool import GreenPool  # noqa: E402
from kombu import Connection, Producer, Queue  # noqa: E402
from sqlalchemy import create_engine, pool, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from scripts.platformctl import Platform, free_port, wait_gateway, wait_healthy  # noqa: E402
from scripts.throwaway import Throwaway  # noqa: E402
from services.common import keys  # noqa: E402
from services.common.config import SERVICES, admin_db_url  # noqa: E402
from services.common.rpc import ClusterRpcProxy  # noqa: E402  requests expire with their timeout

SEED = 42
SUBJECTS = ["maths", "physics", "chemistry", "biology", "english", "history", "music", "coding", "art", "french"]
LANGUAGES = ["en", "de", "fr", "es", "pt", "it"]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Berners"]

FULL = dict(students=1200, tutors=500, lessons=1500, rpc_calls=2000, client_per_call=200, page_runs=200,
            rates=(50, 200, 500), window=20, ramp=(60, 70, 80, 100, 130), ramp_window=6, sustain=60,
            scale_window=20, hashes=20, load_clients=200, load_seconds=30)
QUICK = dict(students=80, tutors=50, lessons=80, rpc_calls=200, client_per_call=30, page_runs=20,
             rates=(50, 200, 500), window=3, ramp=(70, 100), ramp_window=2, sustain=4, scale_window=3,
             hashes=5, load_clients=200, load_seconds=8)


# Figures -------------------------------------------------------------------

def stats_ms(samples):
    ordered = sorted(samples)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(p99 * 1000, 3)}


def timed(fn, n, warmup=10):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return stats_ms(samples)


class Progress:
    """A one-line progress bar on stderr, and a summary when done."""

    def __init__(self, label, total):
        self.label, self.total, self.count, self.started = label, total, 0, time.perf_counter()

    def step(self):
        self.count += 1
        if self.count % max(1, self.total // 40) == 0 or self.count == self.total:
            rate = self.count / max(time.perf_counter() - self.started, 1e-9)
            filled = int(30 * self.count / self.total)
            sys.stderr.write("\r  {:<14} [{}{}] {:>5}/{} {:7.1f}/s".format(
                self.label, "#" * filled, "." * (30 - filled), self.count, self.total, rate))
            sys.stderr.flush()

    def finish(self):
        elapsed = time.perf_counter() - self.started
        sys.stderr.write("\n")
        return elapsed


def say(message):
    print("==> " + message, file=sys.stderr, flush=True)


# The platform under test ----------------------------------------------------

def superuser_engine(database):
    return create_engine(make_url(admin_db_url()).set(database=database), poolclass=pool.NullPool)


class Bench:
    def __init__(self, sizes):
        self.sizes = sizes
        self.rng = random.Random(SEED)
        self.results = {}
        self.update_seq = 0  # every profile update sets a name never used before, so none is a no-op
        self.throwaway = Throwaway("bench" + uuid.uuid4().hex[:6])
        self.run_dir = tempfile.mkdtemp(prefix="edtech-bench-")

    # set-up and tear-down

    def start(self):
        self.throwaway.configure()
        self.databases = self.throwaway.create_databases()
        self.throwaway.create_vhost()
        self.amqp = os.environ["AMQP_URI"]
        # The run's own SMTP sink: identity mails every registration.
        os.environ.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()),
                          SMTP_SINK_DIR=os.path.join(self.run_dir, "mail"))
        self.platform = Platform(run_dir=self.run_dir)
        self.platform.start_smtp()
        keys.ensure(self.platform.keys_dir)  # the run's own token keys, in its run directory
        for service in SERVICES:
            self.platform.start(service)
        wait_healthy(SERVICES, uri=self.amqp, timeout=120)
        port = free_port()
        # Every request comes from this one address: the per-address sign-in
        # limits (api_gateway/throttle.py) would stop the registrations.
        self.platform.start_gateway({"GATEWAY_PORT": str(port), "GATEWAY_EXPOSE_RPC_STATS": "1",
                                     "GATEWAY_THROTTLE_PREFIX": "edtech:{}:".format(self.throwaway.tag),
                                     "GATEWAY_CREDENTIAL_CALLS_PER_MINUTE": "1000000",
                                     "GATEWAY_LOGIN_FREE_PER_CLIENT": "1000000"})
        self.gateway = "http://127.0.0.1:{}".format(port)
        wait_gateway(self.gateway)
        self.rpc_proxy = ClusterRpcProxy({"AMQP_URI": self.amqp}, timeout=30)
        self.rpc = self.rpc_proxy.start()
        self.db = {s: superuser_engine(self.databases[s].name) for s in ("identity", "learning")}

    def stop(self):
        for step in (lambda: self.rpc_proxy.stop(), lambda: self.platform.shutdown(),
                     lambda: [e.dispose() for e in self.db.values()], self.throwaway.drop_databases,
                     self.throwaway.drop_vhost, lambda: shutil.rmtree(self.run_dir, ignore_errors=True)):
            try:
                step()
            except Exception as exc:  # keep cleaning up
                say("cleanup step failed: {}".format(exc))

    def scalar(self, service, sql, **params):
        with self.db[service].connect() as conn:
            return conn.execute(text(sql), params).scalar()

    # 4. registration through the gateway, which also makes the data set

    def register_through_gateway(self):
        say("registering {} students and {} tutors through the gateway".format(
            self.sizes["students"], self.sizes["tutors"]))
        mutation = "mutation($i: RegisterInput!) { register(input: $i) { ok } }"
        people = [("STUDENT", i) for i in range(self.sizes["students"])] + \
                 [("TUTOR", i) for i in range(self.sizes["tutors"])]
        self.rng.shuffle(people)
        http = requests.Session()
        progress, latencies = Progress("register", len(people)), []

        def register(person):
            role, i = person
            payload = {"email": "{}-{}-{}@bench.example".format(role.lower(), i, self.throwaway.tag),
                       "password": "benchmark passphrase", "role": role,
                       "firstName": self.rng.choice(FIRST), "lastName": self.rng.choice(LAST)}
            started = time.perf_counter()
            body = http.post(self.gateway + "/graphql", json={"query": mutation, "variables": {"i": payload}},
                             timeout=60).json()
            latencies.append(time.perf_counter() - started)
            progress.step()
            if "errors" in body:
                raise RuntimeError(body["errors"])
            return {"email": payload["email"], "password": payload["password"]}

        credentials = list(GreenPool(8).imap(register, people))
        elapsed = progress.finish()
        # register answers only ok, whether or not the email was taken: the
        # users come from login (docs/architecture.md, "Accounts and
        # enumeration"), after the timed phase so its figures are registration's alone.
        # Sign-in needs a verified address; the benchmark's users are verified
        # in identity's database rather than one mailed link at a time.
        with self.db["identity"].begin() as conn:
            conn.execute(text("UPDATE users SET email_verified_at = now() WHERE email LIKE :p"),
                         {"p": "%-{}@bench.example".format(self.throwaway.tag)})
        logins = [(self.rpc.identity.login, (c,)) for c in credentials]
        sessions = self.in_batches(logins)
        made = [session["user"] for session in sessions]
        self.results["registration"] = dict(stats_ms(latencies), concurrency=8, users=len(made),
                                            per_second=round(len(made) / elapsed, 1), seconds=round(elapsed, 1))
        self.students = [u["id"] for u in made if u["role"] == "student"]  # identity's RPC view, lower case
        self.tutors = [u["id"] for u in made if u["role"] == "tutor"]
        # Real sessions: identity refuses a token whose session it does not hold.
        self.tokens = {session["user"]["id"]: session["access_token"] for session in sessions}
        self.wait_until(lambda: self.scalar("learning", "SELECT count(*) FROM students") == len(self.students)
                        and self.scalar("learning", "SELECT count(*) FROM tutors") == len(self.tutors),
                        "learning's copies of every user", timeout=180)

    def wait_until(self, predicate, what, timeout=120):
        deadline = time.time() + timeout
        while not predicate():
            if time.time() > deadline:
                raise RuntimeError("timed out waiting for " + what)
            time.sleep(0.2)

    def in_batches(self, calls, size=50):
        """Run RPCs ``size`` at a time: a flood of thousands at once would
        only measure queueing."""
        results = []
        for start in range(0, len(calls), size):
            pending = [method.call_async(*args) for method, args in calls[start:start + size]]
            results.extend(p.result() for p in pending)
        return results

    def make_marketplace(self):
        say("tutor profiles, availability, courses and {} lessons".format(self.sizes["lessons"]))
        week = {"slots": [{"day_of_week": d, "start_time": "00:00", "end_time": "23:59"} for d in range(7)]}
        learning = self.rpc.learning
        calls = []
        for uid in self.tutors:
            calls.append((learning.set_tutor_profile, (self.tokens[uid], {
                "hourly_rate": self.rng.randrange(1500, 9000, 100), "currency": "EUR",
                "subjects": self.rng.sample(SUBJECTS, 2), "languages": self.rng.sample(LANGUAGES, 2)})))
            calls.append((learning.set_availability, (self.tokens[uid], week)))
        self.in_batches(calls)
        courses = [(learning.create_course, (self.tokens[uid], {
            "title": "{} {}".format(self.rng.choice(SUBJECTS).title(), n + 1),
            "price": self.rng.randrange(1000, 9000, 500), "currency": "EUR",
            "duration": self.rng.choice([30, 45, 60, 90])}))
            for uid in self.tutors for n in range(self.rng.randint(1, 3))]
        self.courses = [c["id"] for c in self.in_batches(courses)]
        booked = 0
        for _ in range(self.sizes["lessons"]):
            student, course = self.rng.choice(self.students), self.rng.choice(self.courses)
            # whole hours (the booking grid) from tomorrow, within the year ahead booking allows
            tomorrow = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) \
                + timedelta(days=1)
            at = tomorrow.timestamp() + self.rng.randrange(0, 300) * 86400 + \
                self.rng.randrange(0, 20) * 3600
            try:
                self.rpc.learning.book_lesson(self.tokens[student], {
                    "course_id": course, "scheduled_at": datetime.fromtimestamp(at, timezone.utc).isoformat()})
                booked += 1
            except Exception:  # a slot already taken: the constraint at work
                pass
        self.results["data"] = {"students": len(self.students), "tutors": len(self.tutors),
                                "courses": len(self.courses), "lessons": booked, "seed": SEED}

    # 1. RPC round trip

    def rpc_round_trip(self):
        say("RPC round trip: pooled client, raw kombu request/reply, client per call")
        pooled = timed(lambda: self.rpc.identity.ping(), self.sizes["rpc_calls"])
        raw = self.raw_kombu(self.sizes["rpc_calls"])

        def fresh_client():
            with ClusterRpcProxy({"AMQP_URI": self.amqp}, timeout=30) as rpc:
                rpc.identity.ping()
        per_call = timed(fresh_client, self.sizes["client_per_call"], warmup=3)
        self.results["rpc"] = {"nameko_pooled": pooled, "kombu_raw": raw, "nameko_client_per_call": per_call,
                               "framework_overhead_ratio": round(pooled["median_ms"] / raw["median_ms"], 2),
                               "client_per_call_ratio": round(per_call["median_ms"] / pooled["median_ms"], 2)}

    def raw_kombu(self, n):
        # As the broker's administrator: the baseline uses the default exchange,
        # which no platform user may publish to (services/common/broker.py).
        admin = self.throwaway.admin_amqp_uri
        server = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "bench_echo.py"), admin],
                                  stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
        try:
            assert server.stdout.readline().strip() == "ready"
            with Connection(admin) as conn:
                replies = {}
                reply_queue = Queue("bench-reply-" + uuid.uuid4().hex[:8], exclusive=True, auto_delete=True)
                consumer = conn.Consumer(reply_queue, accept=["json"], no_ack=True,
                                         callbacks=[lambda body, msg: replies.__setitem__(
                                             msg.properties["correlation_id"], body)])
                consumer.consume()
                producer = Producer(conn.default_channel, serializer="json")

                def call():
                    cid = uuid.uuid4().hex
                    producer.publish({"ping": 1}, routing_key="bench-echo", reply_to=reply_queue.name,
                                     correlation_id=cid)
                    while cid not in replies:
                        conn.drain_events(timeout=10)
                    del replies[cid]
                return timed(call, n)
        finally:
            server.terminate()
            server.wait(10)

    # 2. the federated page against one SQL join on a shared database

    PAGE = """{ tutors(first: 50) { edges { node { name hourlyRate currency subjects languages isVerified
               user { firstName lastName } courses { title price currency duration } } } } }"""

    SHARED_JOIN = """
        SELECT t.id, u.first_name, u.last_name, t.hourly_rate, t.currency, t.subjects, t.languages, t.is_verified,
               COALESCE(json_agg(json_build_object('title', c.title, 'price', c.price, 'currency', c.currency,
                                                   'duration', c.duration) ORDER BY c.created_at, c.id)
                        FILTER (WHERE c.id IS NOT NULL), '[]') AS courses
        FROM (SELECT * FROM tutors WHERE hourly_rate IS NOT NULL ORDER BY hourly_rate, id LIMIT 50) t
        JOIN users u ON u.id = t.user_id
        LEFT JOIN courses c ON c.tutor_id = t.id AND c.status = 'active'
        GROUP BY t.id, t.hourly_rate, t.currency, t.subjects, t.languages, t.is_verified, u.first_name, u.last_name
        ORDER BY t.hourly_rate, t.id"""

    def federated_page(self):
        say("the federated page (50 tutors) through the gateway, and one SQL join on a shared database")
        http = requests.Session()
        token = self.tokens[self.students[0]]
        headers = {"Authorization": "Bearer " + token}

        def page():
            resp = http.post(self.gateway + "/graphql", json={"query": self.PAGE}, headers=headers, timeout=30)
            body = resp.json()
            if "errors" in body or len(body["data"]["tutors"]["edges"]) != 50:
                raise RuntimeError(body.get("errors"))
            page.calls = json.loads(resp.headers["X-RPC-Calls"])
        federated = timed(page, self.sizes["page_runs"])
        shared = self.shared_database_baseline()
        self.results["federated_page"] = {
            "gateway": federated, "shared_db_join": shared, "rpc_calls_per_page": page.calls,
            "ratio": round(federated["median_ms"] / shared["median_ms"], 1)}

    def shared_database_baseline(self):
        """The design the platform moved away from: the same rows in one
        database, read by one join (and serialised to JSON, as the gateway must)."""
        name = "edtech_shared_" + self.throwaway.tag
        admin = create_engine(admin_db_url(), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE {}".format(name)))
        shared = superuser_engine(name)
        try:
            self.copy_into_shared(shared)
            with shared.connect() as conn:
                def join():
                    rows = conn.execute(text(self.SHARED_JOIN)).mappings().all()
                    json.dumps([dict(r) for r in rows], default=str)
                    if len(rows) != 50:
                        raise RuntimeError("the join returned {} rows".format(len(rows)))
                return timed(join, self.sizes["page_runs"])
        finally:
            shared.dispose()
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS {} WITH (FORCE)".format(name)))
            admin.dispose()

    def copy_into_shared(self, shared):
        with self.db["identity"].connect() as conn:
            users = conn.execute(text("SELECT id, email, first_name, last_name, role::text AS role FROM users")
                                 ).mappings().all()
        with self.db["learning"].connect() as conn:
            tutors = conn.execute(text("SELECT id, user_id, hourly_rate, currency, subjects, languages, is_verified "
                                       "FROM tutors")).mappings().all()
            courses = conn.execute(text("SELECT id, tutor_id, title, price, currency, duration, status::text AS "
                                        "status, created_at FROM courses")).mappings().all()
        with shared.begin() as conn:
            conn.execute(text("""
                CREATE TABLE users (id uuid PRIMARY KEY, email text UNIQUE, first_name text, last_name text, role text);
                CREATE TABLE tutors (id uuid PRIMARY KEY, user_id uuid UNIQUE REFERENCES users, hourly_rate bigint,
                                     currency text, subjects text[], languages text[], is_verified boolean);
                CREATE INDEX ON tutors (hourly_rate, id);
                CREATE TABLE courses (id uuid PRIMARY KEY, tutor_id uuid REFERENCES tutors, title text, price bigint,
                                      currency text, duration int, status text, created_at timestamptz);
                CREATE INDEX ON courses (tutor_id)"""))
            conn.execute(text("INSERT INTO users VALUES (:id, :email, :first_name, :last_name, :role)"),
                         [dict(u) for u in users])
            conn.execute(text("INSERT INTO tutors VALUES (:id, :user_id, :hourly_rate, :currency, :subjects, "
                              ":languages, :is_verified)"), [dict(t) for t in tutors])
            conn.execute(text("INSERT INTO courses VALUES (:id, :tutor_id, :title, :price, :currency, :duration, "
                              ":status, :created_at)"), [dict(c) for c in courses])
            conn.execute(text("ANALYZE"))

    # 6. the gateway under many concurrent clients

    def gateway_under_load(self):
        """``load_clients`` clients each asking for the federated page again
        and again for ``load_seconds``. The budget (GATEWAY_TIME_BUDGET) must
        hold: a request either answers or says TIMEOUT once it is spent. The
        clients run in this process, on the same two cores as the platform."""
        clients, seconds = self.sizes["load_clients"], self.sizes["load_seconds"]
        budget = float(os.environ.get("GATEWAY_TIME_BUDGET", "5"))
        say("{} concurrent clients on the federated page for {} s (budget {} s)".format(clients, seconds, budget))
        headers = {"Authorization": "Bearer " + self.tokens[self.students[0]]}
        latencies, outcomes = [], {}
        stop_at = time.perf_counter() + seconds

        def client(_):
            http = requests.Session()
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    resp = http.post(self.gateway + "/graphql", json={"query": self.PAGE}, headers=headers,
                                     timeout=120)
                    codes = sorted({e.get("extensions", {}).get("code", "NO CODE")
                                    for e in resp.json().get("errors", [])})
                    outcome = "HTTP {}".format(resp.status_code) if resp.status_code >= 500 else \
                        ",".join(codes) or "ok"
                except Exception as exc:  # a refused or dropped connection is an outcome too
                    outcome = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

        started = time.perf_counter()
        list(GreenPool(clients).imap(client, range(clients)))
        elapsed = time.perf_counter() - started
        figures = stats_ms(latencies)
        self.results["gateway_load"] = dict(figures, clients=clients, seconds=round(elapsed, 1), budget_s=budget,
                                            max_ms=round(max(latencies) * 1000, 1),
                                            per_second=round(len(latencies) / elapsed, 1), outcomes=outcomes)

    # 3. and 5. event propagation

    def propagation(self, rate, seconds, label):
        """Profile updates at a steady ``rate`` for ``seconds``; latency is
        identity's outbox row (written in the change's transaction) to
        learning's inbox row (written with the copy's update)."""
        users = self.students
        window_start = self.scalar("identity", "SELECT now()")
        backlog, workers = [], 48
        pending = eventlet.queue.LightQueue()
        done = {"ok": 0, "failed": 0}

        def worker():
            with ClusterRpcProxy({"AMQP_URI": self.amqp}, timeout=30) as rpc:
                while True:
                    item = pending.get()
                    if item is None:
                        return
                    uid, n = item
                    try:
                        rpc.identity.update_user(self.tokens[uid], uid, {"first_name": "R{}".format(n)})
                        done["ok"] += 1
                    except Exception:
                        done["failed"] += 1

        threads = [eventlet.spawn(worker) for _ in range(workers)]
        started = time.perf_counter()
        total = int(rate * seconds)
        next_sample = started
        for n in range(total):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            self.update_seq += 1
            pending.put((users[self.update_seq % len(users)], self.update_seq))
            if time.perf_counter() >= next_sample:
                backlog.append(self.event_backlog(window_start))
                next_sample += max(1.0, seconds / 12)
        for _ in threads:
            pending.put(None)
        for t in threads:
            t.wait()
        issued_for = time.perf_counter() - started
        backlog_at_end = self.event_backlog(window_start)
        self.wait_until(lambda: self.event_backlog(window_start) == 0, "learning to catch up", timeout=300)
        drained_after = time.perf_counter() - started - issued_for
        latencies, duplicates = self.event_latencies(window_start)
        return {"label": label, "target_per_s": rate, "seconds": seconds,
                "achieved_per_s": round(done["ok"] / issued_for, 1), "failed_calls": done["failed"],
                "events": len(latencies), "duplicates_applied": duplicates,
                "latency": stats_ms(latencies) if latencies else None,
                "backlog_samples": backlog, "backlog_at_end": backlog_at_end,
                "drain_seconds_after_load": round(drained_after, 2)}

    def event_backlog(self, since):
        """user_updated events committed by identity but not yet applied by learning."""
        ids = self.window_event_ids(since)
        if not ids:
            return 0
        applied = self.scalar("learning", "SELECT count(*) FROM inbox WHERE handler = 'identity.user_updated' "
                                          "AND event_id = ANY(CAST(:ids AS uuid[]))", ids=ids)
        return len(ids) - applied

    def window_event_ids(self, since):
        with self.db["identity"].connect() as conn:
            return [str(r[0]) for r in conn.execute(text(
                "SELECT event_id FROM outbox WHERE event_type = 'user_updated' AND created_at >= :s"), {"s": since})]

    def event_latencies(self, since):
        with self.db["identity"].connect() as conn:
            made = dict(conn.execute(text("SELECT event_id, created_at FROM outbox WHERE event_type = 'user_updated' "
                                          "AND created_at >= :s"), {"s": since}).all())
        with self.db["learning"].connect() as conn:
            rows = conn.execute(text("SELECT event_id, processed_at FROM inbox WHERE handler = 'identity.user_updated' "
                                     "AND event_id = ANY(CAST(:ids AS uuid[]))"),
                                {"ids": [str(i) for i in made]}).all()
        applied = {}
        for event_id, processed_at in rows:
            applied.setdefault(event_id, []).append(processed_at)
        duplicates = sum(len(v) - 1 for v in applied.values())
        return [(min(v) - made[k]).total_seconds() for k, v in applied.items()], duplicates

    def consumers_by_instance(self, since):
        ids = self.window_event_ids(since)
        with self.db["learning"].connect() as conn:
            return dict(conn.execute(text(
                "SELECT consumer, count(*) FROM inbox WHERE handler = 'identity.user_updated' "
                "AND event_id = ANY(CAST(:ids AS uuid[])) GROUP BY consumer"), {"ids": ids}).all())

    def event_rates(self):
        say("event propagation at steady rates: {} per second, {} s each".format(
            ", ".join(map(str, self.sizes["rates"])), self.sizes["window"]))
        steps = [self.propagation(rate, self.sizes["window"], "steady") for rate in self.sizes["rates"]]
        say("looking for the highest rate held: {} per second, {} s each".format(
            ", ".join(map(str, self.sizes["ramp"])), self.sizes["ramp_window"]))
        ramp = [self.propagation(rate, self.sizes["ramp_window"], "ramp") for rate in self.sizes["ramp"]]

        def held(step):
            return step["achieved_per_s"] >= 0.95 * step["target_per_s"] and step["drain_seconds_after_load"] < 2.0
        best = max((s["target_per_s"] for s in steps + ramp if held(s)), default=self.sizes["rates"][0])
        say("holding {} per second for {} s".format(best, self.sizes["sustain"]))
        sustained = self.propagation(best, self.sizes["sustain"], "sustained")
        samples = sustained["backlog_samples"]
        half = len(samples) // 2 or 1
        sustained["backlog_growing"] = statistics.mean(samples[half:]) > 2 * max(1, statistics.mean(samples[:half]))
        self.results["events"] = {"steps": steps, "ramp": ramp, "sustained": sustained,
                                  "argon2id": self.argon2_ceiling()}

    def argon2_ceiling(self):
        from services.identity.passwords import hash_password
        per_hash = timed(lambda: hash_password("benchmark passphrase"), self.sizes["hashes"], warmup=2)
        per_core = 1000 / per_hash["median_ms"]
        return {"hash": per_hash, "registrations_per_core_per_s": round(per_core, 1),
                "cores_needed_for_500_per_s": round(500 / per_core, 1)}

    def scale_out(self):
        say("two learning instances sharing the event queues")
        self.platform.start("learning", instance=2)
        self.wait_until(lambda: self.queue_consumers("evt-identity-user_updated--learning.on_user_updated") >= 2,
                        "the second instance to consume", timeout=60)
        since = self.scalar("identity", "SELECT now()")
        result = self.propagation(200, self.sizes["scale_window"], "two instances")
        result["applied_by_instance"] = self.consumers_by_instance(since)
        self.platform.stop("learning-2")
        self.results["scale_out"] = result

    def queue_consumers(self, queue):
        with Connection(self.throwaway.admin_amqp_uri) as conn:  # learning's queue: not the operator's
            return conn.default_channel.queue_declare(queue, passive=True).consumer_count

    # the report

    def report(self):
        r = self.results
        rows = []
        rpc = r.get("rpc")
        if rpc:
            rows += [("RPC round trip, pooled nameko client", rpc["nameko_pooled"]),
                     ("raw AMQP request/reply with kombu", rpc["kombu_raw"]),
                     ("nameko client made per call", rpc["nameko_client_per_call"])]
        page = r.get("federated_page")
        if page:
            rows += [("federated page: 50 tutors via gateway", page["gateway"]),
                     ("same page: one join, shared database", page["shared_db_join"])]
        reg = r.get("registration")
        if reg:
            rows.append(("registration through the gateway", reg))
        load = r.get("gateway_load")
        if load:
            rows.append(("federated page, {} concurrent clients".format(load["clients"]), load))
        out = ["", "Measured {} on {} ({} cores), Python {}".format(
            datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), host.node(), os.cpu_count(),
            host.python_version()), "",
            "{:<44} {:>8} {:>12} {:>12}".format("what", "runs", "median ms", "p99 ms")]
        out += ["{:<44} {:>8} {:>12} {:>12}".format(name, s["n"], s["median_ms"], s["p99_ms"]) for name, s in rows]
        if rpc:
            out.append("\nnameko overhead over raw kombu: x{}; a client per call costs x{} a pooled call".format(
                rpc["framework_overhead_ratio"], rpc["client_per_call_ratio"]))
        if page:
            out.append("federated page / shared-database join: x{} (RPCs per page: {})".format(
                page["ratio"], page["rpc_calls_per_page"]))
        if reg:
            out.append("registrations: {} in {} s, {}/s at concurrency {}".format(
                reg["users"], reg["seconds"], reg["per_second"], reg["concurrency"]))
        if load:
            out.append("under load: {}/s, max {} ms against a {} s budget; outcomes {}".format(
                load["per_second"], load["max_ms"], load["budget_s"], load["outcomes"]))
        ev = r.get("events")
        if ev:
            out.append("\n{:<14} {:>8} {:>10} {:>8} {:>12} {:>12} {:>10} {:>6}".format(
                "events", "target/s", "achieved/s", "events", "median ms", "p99 ms", "backlog", "dupes"))
            for s in ev["steps"] + ev["ramp"] + [ev["sustained"]] + ([r["scale_out"]] if "scale_out" in r else []):
                lat = s["latency"] or {"median_ms": "-", "p99_ms": "-"}
                out.append("{:<14} {:>8} {:>10} {:>8} {:>12} {:>12} {:>10} {:>6}".format(
                    s["label"], s["target_per_s"], s["achieved_per_s"], s["events"], lat["median_ms"],
                    lat["p99_ms"], s["backlog_at_end"], s["duplicates_applied"]))
            out.append("sustained {}/s for {} s; backlog growing: {}".format(
                ev["sustained"]["target_per_s"], ev["sustained"]["seconds"], ev["sustained"]["backlog_growing"]))
            a = ev["argon2id"]
            out.append("argon2id: {} ms a hash, so about {} registrations/s per core; 500/s would need {} cores".format(
                a["hash"]["median_ms"], a["registrations_per_core_per_s"], a["cores_needed_for_500_per_s"]))
        if "scale_out" in r:
            out.append("two learning instances applied: {}".format(r["scale_out"]["applied_by_instance"]))
        out.append("data: {}".format(r.get("data")))
        return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute, with smaller samples")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    bench = Bench(QUICK if args.quick else FULL)
    # Ctrl-C or a SIGTERM still drops the throwaway databases and vhost.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    try:
        bench.start()
        bench.register_through_gateway()
        bench.make_marketplace()
        bench.rpc_round_trip()
        bench.federated_page()
        bench.gateway_under_load()
        bench.event_rates()
        bench.scale_out()
    finally:
        bench.stop()
    bench.results["seconds"] = round(time.perf_counter() - started, 1)
    print(bench.report())
    print("\nfinished in {} s".format(bench.results["seconds"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(bench.results, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
