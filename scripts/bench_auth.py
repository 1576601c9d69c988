"""What checking a token costs per call: ``.venv/bin/python scripts/bench_auth.py [--calls N]``.

``auth.require(token)`` with the signature alone (Ed25519, and for
comparison the HS256 shared secret it replaced), and with the lookup every
service makes (docs/architecture.md, "Identity on RPC"): learning's
primary-key lookup in its ``revoked_sessions``, and identity's in its
``user_sessions``. The keys are made in a temporary directory and read as
the services read theirs. It runs in one process, with eventlet patched as
``nameko run`` patches it, on engines made as the services make theirs, on
throwaway identity and learning databases that it drops afterwards. It
prints figures; the machine is noisy, so nothing is asserted.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before psycopg2 (docs/architecture.md, "Runtime notes")

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jwt  # noqa: E402
from sqlalchemy import text  # noqa: E402

from scripts.throwaway import Throwaway  # noqa: E402
from services.common import keys, migrations, provision, revocations  # noqa: E402
from services.common.auth import (ISSUER, Authenticator, Principal, issue_access_token,  # noqa: E402
                                  issue_service_token, session_checker)
from services.common.config import db_settings  # noqa: E402
from services.common.db import make_engine  # noqa: E402
from services.common.errors import Unauthenticated  # noqa: E402
from services.identity.tokens import session_is_current  # noqa: E402
from services.learning.models import RevokedSession  # noqa: E402

SERVICES = ("identity", "learning")


def per_call(fn, n, warmup=200):
    """Microseconds per call: the mean over ``n`` calls, their median and p99."""
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    ordered = sorted(samples)
    return {"n": n, "mean_us": total / n * 1e6, "median_us": statistics.median(ordered) * 1e6,
            "p99_us": ordered[max(0, math.ceil(0.99 * n) - 1)] * 1e6}


def hs256_before(secret, user_id, session_id):
    """``auth.require`` as it was with the shared HS256 secret the platform used before its Ed25519 keys, signature only."""
    now = int(time.time())
    token = jwt.encode({"sub": str(user_id), "role": "student", "sid": str(session_id), "iss": ISSUER, "iat": now,
                        "exp": now + 900, "jti": uuid.uuid4().hex, "typ": "access"}, secret, algorithm="HS256")

    def call():
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "role"]})
        if claims.get("typ") != "access":
            raise AssertionError("not an access token")
        return Principal(user_id=claims["sub"], role=claims["role"], session_id=claims.get("sid"))
    return call


def refused(auth, token):
    def call():
        try:
            auth.require(token)
        except Unauthenticated:
            return
        raise AssertionError("the token of a revoked session was accepted")
    return call


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/bench_auth.py", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per row (default 5000)")
    parser.add_argument("--rows", type=int, default=10000,
                        help="rows in each table looked up (default 10000)")
    args = parser.parse_args(argv)

    throwaway = Throwaway("authbench" + uuid.uuid4().hex[:6])
    throwaway.configure()
    made, engines = [], {}
    key_dir = tempfile.mkdtemp(prefix="edtech-authbench-keys-")
    try:
        keys.ensure(key_dir, ["identity", "learning"])
        ring = keys.DirectoryKeyRing(keys.public_dir(key_dir))  # as Auth.setup reads AUTH_PUBLIC_KEYS
        identity_key = keys.load_signing_key(keys.private_dir(key_dir, "identity"))
        learning_key = keys.load_signing_key(keys.private_dir(key_dir, "learning"))
        for service in SERVICES:
            settings = db_settings(service)
            provision.ensure_service_database(settings)
            made.append(settings)
            migrations.upgrade(service)
            engines[service] = make_engine(service)  # the services' pool options, pre-ping included
        user_id, live, revoked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with engines["identity"].begin() as conn:
            conn.execute(text("INSERT INTO users (id, email, password_hash, first_name, last_name, role) "
                              "VALUES (:u, 'bench@example.com', 'not a hash', 'Bench', 'Mark', 'student')"),
                         {"u": user_id})
            conn.execute(text("INSERT INTO user_sessions (session_id, user_id, expires_at) "
                              "SELECT gen_random_uuid(), :u, now() + interval '30 days' FROM generate_series(1, :n)"),
                         {"u": user_id, "n": args.rows})
            conn.execute(text("INSERT INTO user_sessions (session_id, user_id, expires_at) "
                              "VALUES (:s, :u, now() + interval '30 days')"), {"s": live, "u": user_id})
            conn.execute(text("ANALYZE user_sessions"))
        with engines["learning"].begin() as conn:
            conn.execute(text("INSERT INTO revoked_sessions (session_id, user_id, revoked_at, until) "
                              "SELECT gen_random_uuid(), gen_random_uuid(), now(), now() + interval '15 minutes' "
                              "FROM generate_series(1, :n)"), {"n": args.rows})
            conn.execute(text("INSERT INTO revoked_sessions (session_id, user_id, revoked_at, until) "
                              "VALUES (:s, :u, now(), now() + interval '15 minutes')"), {"s": revoked, "u": user_id})
            conn.execute(text("ANALYZE revoked_sessions"))

        token = issue_access_token(user_id, "student", live, key=identity_key)
        service_token = issue_service_token("learning", key=learning_key)
        signature_only = Authenticator(ring)
        learning = Authenticator(ring, session_checker(engines["learning"],
                                                       revocations.not_revoked(RevokedSession)))
        identity = Authenticator(ring, session_checker(engines["identity"], session_is_current))
        no_ping = make_engine("learning", pool_pre_ping=False)
        learning_no_ping = Authenticator(ring, session_checker(no_ping, revocations.not_revoked(RevokedSession)))
        rows = [
            ("signature only, HS256 (the former shared secret)", per_call(
                hs256_before(secrets.token_urlsafe(48), user_id, live), args.calls)),
            ("signature only, Ed25519", per_call(lambda: signature_only.require(token), args.calls)),
            ("a service token, Ed25519", per_call(lambda: signature_only.require(service_token), args.calls)),
            ("learning: + revoked_sessions lookup", per_call(lambda: learning.require(token), args.calls)),
            ("identity: + user_sessions lookup", per_call(lambda: identity.require(token), args.calls)),
            ("learning: a revoked token, refused", per_call(
                refused(learning, issue_access_token(user_id, "student", revoked, key=identity_key)), args.calls)),
            ("learning lookup, pool without pre-ping", per_call(lambda: learning_no_ping.require(token),
                                                                args.calls)),
        ]
        no_ping.dispose()
        # What each row adds: the Ed25519 signature to the HS256 one it
        # replaced, and each lookup to the Ed25519 signature alone.
        hs256, ed25519 = rows[0][1]["median_us"], rows[1][1]["median_us"]
        print("\nauth.require, {} calls a row, {} rows in each table, {} cores, load average {:.1f}; "
              "microseconds per call".format(args.calls, args.rows, os.cpu_count(), os.getloadavg()[0]))
        print("{:<42} {:>8} {:>8} {:>8} {:>14}".format("what", "mean", "median", "p99", "median added"))
        for i, (name, s) in enumerate(rows):
            added = "-" if i == 0 else "+{:.1f}".format(s["median_us"] - (hs256 if i < 3 else ed25519))
            print("{:<42} {:>8.1f} {:>8.1f} {:>8.1f} {:>14}".format(
                name, s["mean_us"], s["median_us"], s["p99_us"], added))
    finally:
        for engine in engines.values():
            engine.dispose()
        for settings in made:
            provision.drop_service_database(settings)
        shutil.rmtree(key_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
