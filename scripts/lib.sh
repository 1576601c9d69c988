# Shared steps of scripts/up, scripts/test and scripts/migrate. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

say() { printf '==> %s\n' "$*"; }

# Python 3.11 is the supported version (setup.cfg).
find_python() {
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$c"; return 0
    fi
  done
  echo "Python 3.11 is required" >&2; return 1
}

# Create .venv and install the package; reinstall only when setup.cfg changes.
ensure_venv() {
  if [ ! -x "$PY" ]; then
    say "creating virtual environment in .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want="$(cat "$ROOT/setup.cfg" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the platform and its pinned dependencies"
    "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]" 2>&1 \
      | grep -v "^WARNING: Location" || true
    "$PY" -c 'import nameko, sqlalchemy, alembic' # fail here, not later, if the install broke
    echo "$want" > "$stamp"
  fi
}

port_open() { "$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PYEOF
}

wait_port() { # host port seconds name
  local i
  for i in $(seq 1 "$3"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "$4 is not reachable on $1:$2" >&2; return 1
}

# Start PostgreSQL where it is installed but stopped.
ensure_postgres() {
  port_open 127.0.0.1 5432 && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  fi
  wait_port 127.0.0.1 5432 30 PostgreSQL
}

# Start RabbitMQ where it is installed but stopped, and enable its
# management UI (port 15672) for operators.
ensure_rabbitmq() {
  if ! port_open 127.0.0.1 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
    say "starting RabbitMQ"
    rabbitmq-server -detached || true
  fi
  wait_port 127.0.0.1 5672 60 RabbitMQ
  if command -v rabbitmq-plugins >/dev/null 2>&1 && ! port_open 127.0.0.1 15672; then
    rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 \
      || echo "note: could not enable the RabbitMQ management plugin (UI on :15672 is optional)" >&2
  fi
}

# Redis holds the gateway's login throttle (api_gateway/throttle.py), so it
# survives a gateway restart and is shared by every gateway process. Start a
# local one where it is installed but stopped; it keeps nothing on disk,
# which loses only counters that would expire within a day anyway.
ensure_redis() {
  if ! port_open 127.0.0.1 6379 && command -v redis-server >/dev/null 2>&1; then
    say "starting Redis"
    mkdir -p "$ROOT/.run/logs"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir "$ROOT/.run" --logfile "$ROOT/.run/logs/redis.log" || true
  fi
  wait_port 127.0.0.1 6379 30 Redis
}

# Secrets for this machine's platform, made once and kept in .run/ (git-ignored).
load_secrets() {
  local file="$ROOT/.run/secrets.env"
  if [ ! -f "$file" ]; then
    mkdir -p "$ROOT/.run"
    ( umask 077; : > "$file" )  # token keys are not secrets of this file: ensure_keys
  fi
  set -a; source "$file"; set +a
}

# Stripe (docs/payments.md): with no STRIPE_SECRET_KEY, scripts/up starts
# the local Stripe-compatible server, whose webhooks are signed with a
# secret made once into .run/secrets.env. With a real key, give
# STRIPE_WEBHOOK_SECRET too (what `stripe listen` prints).
ensure_stripe_secret() {
  local file="$ROOT/.run/secrets.env"
  if [ -z "${STRIPE_SECRET_KEY:-}" ] && ! grep -q '^STRIPE_WEBHOOK_SECRET=' "$file"; then
    echo "STRIPE_WEBHOOK_SECRET=whsec_$("$PY" -c 'import secrets; print(secrets.token_hex(24))')" >> "$file"
  fi
  set -a; source "$file"; set +a
}

# Token keys (docs/architecture.md, "Identity on RPC"): an Ed25519 key pair
# per service, made once in .run/keys (git-ignored), private keys mode 0600.
# scripts/platformctl.py gives each process its own private key and the
# public directory.
ensure_keys() {
  export AUTH_KEYS_DIR="${AUTH_KEYS_DIR:-$ROOT/.run/keys}"
  "$PY" -m services.common.keys --dir "$AUTH_KEYS_DIR" ensure
}

# RabbitMQ: a user per principal (services/common/broker.py), each with a
# password made once in .run/broker.env (git-ignored, mode 0600); one is
# added there for a principal that has none yet. Loaded into this shell:
# scripts/platformctl.py gives each process its own AMQP_URI alone.
load_broker_secrets() {
  local file="$ROOT/.run/broker.env"
  mkdir -p "$ROOT/.run"
  "$PY" -m services.common.broker secrets "$file"
  set -a; source "$file"; set +a
}

# Debian's Chromium for the GraphiQL browser check (tests/e2e).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium for the browser test"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || echo "note: could not install chromium; the browser test will fail" >&2
  else
    echo "note: chromium is not installed and cannot be installed here; the browser test will fail" >&2
  fi
}
