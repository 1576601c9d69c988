"""Gateway settings, all from the environment (defaults in brackets)."""
import os
from dataclasses import dataclass

from services.common.config import amqp_uri


def _int(name, default):
    return int(os.environ.get(name, default))


def _float(name, default):
    return float(os.environ.get(name, default))


def _bool(name, default):
    return os.environ.get(name, default).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    amqp_uri: str
    rpc_timeout: float        # seconds for one RPC [2]
    rpc_pool_size: int        # pooled RPC clients [16]
    time_budget: float        # seconds for one request [5]
    download_timeout: float   # seconds for a document download, drawn if need be [15]
    max_depth: int            # query depth [10]
    max_aliases: int          # aliases in one document [15]
    max_fields: int           # field selections in one operation, fragments expanded [2000]
    max_cost: int             # estimated values one operation may return, pages multiplied [5000]
    max_rpcs: int             # RPCs one request may make [50]
    max_tokens: int           # lexer tokens in one document [2000]
    max_body_bytes: int       # request body [100000]
    health_ttl: float         # seconds one /healthz report is reused [2]
    introspection: bool       # allow __schema / __type [true]
    redis_url: str            # the throttle store [redis://127.0.0.1:6379/0]
    throttle_prefix: str      # key prefix in Redis, so several platforms can share one [edtech:throttle:]
    login_free_per_account: int  # failed sign-ins before backoff starts, per account [5]
    login_free_per_client: int   # the same per client address [20]
    login_max_lock: float     # the longest backoff, seconds [900]
    credential_calls_per_minute: int  # credential mutations per client address per minute [60]
    proxy_hops: int           # trusted proxies in front, whose X-Forwarded-For names the client [0]
    expose_rpc_stats: bool    # X-RPC-Calls header, for tests and benchmarks [false]
    max_streams: int          # open GET /stream connections per worker process [1000]
    stream_heartbeat: float   # seconds between a stream's heartbeat comments [15]


def load_settings():
    return Settings(
        host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
        port=_int("GATEWAY_PORT", 8000),
        amqp_uri=amqp_uri(),
        rpc_timeout=_float("GATEWAY_RPC_TIMEOUT", 2.0),
        rpc_pool_size=_int("GATEWAY_RPC_POOL_SIZE", 16),
        time_budget=_float("GATEWAY_TIME_BUDGET", 5.0),
        download_timeout=_float("GATEWAY_DOWNLOAD_TIMEOUT", 15.0),
        max_depth=_int("GATEWAY_MAX_DEPTH", 10),
        max_aliases=_int("GATEWAY_MAX_ALIASES", 15),
        max_fields=_int("GATEWAY_MAX_FIELDS", 2000),
        max_cost=_int("GATEWAY_MAX_COST", 5000),
        max_rpcs=_int("GATEWAY_MAX_RPCS", 50),
        max_tokens=_int("GATEWAY_MAX_TOKENS", 2000),
        max_body_bytes=_int("GATEWAY_MAX_BODY_BYTES", 100_000),
        health_ttl=_float("GATEWAY_HEALTH_TTL", 2.0),
        introspection=_bool("GATEWAY_INTROSPECTION", "true"),
        redis_url=os.environ.get("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/0"),
        throttle_prefix=os.environ.get("GATEWAY_THROTTLE_PREFIX", "edtech:throttle:"),
        login_free_per_account=_int("GATEWAY_LOGIN_FREE_PER_ACCOUNT", 5),
        login_free_per_client=_int("GATEWAY_LOGIN_FREE_PER_CLIENT", 20),
        login_max_lock=_float("GATEWAY_LOGIN_MAX_LOCK", 900),
        credential_calls_per_minute=_int("GATEWAY_CREDENTIAL_CALLS_PER_MINUTE", 60),
        proxy_hops=_int("GATEWAY_PROXY_HOPS", 0),
        expose_rpc_stats=_bool("GATEWAY_EXPOSE_RPC_STATS", "false"),
        max_streams=_int("GATEWAY_MAX_STREAMS", 1000),
        stream_heartbeat=_float("GATEWAY_STREAM_HEARTBEAT", 15.0),
    )
