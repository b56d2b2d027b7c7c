#!/usr/bin/env bash
# Broker benchmark (issue: secrets broker). Starts, on loopback only, an OpenBao dev server, a
# private PostgreSQL for dynamic users, and `tollgate broker` (release build); then measures in
# one run: the raw OpenBao calls (child token, KV read), the broker's `start` and each
# credential source (p50/p99), the broker's overhead over the raw call, and the proxy's cached
# identity check. Bounded: N invocations (default 300).
#
# usage: deploy/bench-broker.sh [N]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-300}"
cd "$REPO"
"$REPO/deploy/setup.sh" >/dev/null
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q --bin tollgate --example broker-bench
BIN="$REPO/target/release/tollgate"
BENCH="$REPO/target/release/examples/broker-bench"
BAO="$REPO/.venv/bin/bao"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort | tail -n1)"

WORK="$(mktemp -d)"
chmod 755 "$WORK"
cleanup() {
  kill "${BROKER_PID:-}" "${BAO_PID:-}" 2>/dev/null || true
  [ -n "${PG_STARTED:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

BAO_PORT=$(free_port); PG_PORT=$(free_port); CONTROL_PORT=$(free_port)
ROOT=bench-root-token
HOME="$WORK" "$BAO" server -dev -dev-no-store-token -dev-root-token-id=$ROOT \
  -dev-listen-address=127.0.0.1:$BAO_PORT >bao.log 2>&1 &
BAO_PID=$!
export BAO_ADDR=http://127.0.0.1:$BAO_PORT BAO_TOKEN=$ROOT HOME="$WORK"
for _ in $(seq 100); do "$BAO" status >/dev/null 2>&1 && break; sleep 0.1; done

# PostgreSQL refuses to run as root; as root it runs as the postgres user.
mkdir -p pg && echo pg-bench-password > pw && chown -R postgres:postgres pg pw
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -U tgadmin --auth=scram-sha-256 --no-sync --pwfile="$WORK/pw" >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off -k $WORK/pg" start >/dev/null
PG_STARTED=1

"$BAO" kv put secret/bench/api key=bench-api-key-0123456789abcdef0123456789 >/dev/null
"$BAO" secrets enable database >/dev/null
"$BAO" write database/config/pg plugin_name=postgresql-database-plugin allowed_roles='*' \
  "connection_url=postgresql://{{username}}:{{password}}@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
  username=tgadmin password=pg-bench-password >/dev/null
"$BAO" write database/roles/readonly db_name=pg default_ttl=10m max_ttl=1h \
  "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';" >/dev/null
printf 'path "secret/data/bench/*" { capabilities = ["read"] }\n' > bench.hcl
"$BAO" policy write tollgate-bench-fetch bench.hcl >/dev/null
"$BAO" policy write tollgate-bench-extra bench.hcl >/dev/null

mkdir -p policies/tenants
cat > policies/tenants/bench.toml <<'TOML'
version = 1
[tenant]
id = "bench"
owner = "bench@example.com"

[[tools]]
name = "fetch"
[[tools.egress]]
id = "api"
hosts = ["api.bench.test"]

[[tools.credentials]]
name = "api-key"
source = "vault-kv"
path = "secret/data/bench/api"
field = "key"
ttl = "5m"
delivery = "inject"
inject = { header = "Authorization", format = "Bearer {value}", hosts = ["api.bench.test"] }

[[tools.credentials]]
name = "db"
source = "vault-database"
role = "readonly"
ttl = "5m"
delivery = "direct"

[[tools.credentials]]
name = "child-token"
source = "vault-token"
policies = ["tollgate-bench-extra"]
ttl = "2m"
delivery = "direct"
TOML
echo bench-control-token > control.token
echo bench-proxy-token > proxy.token
echo $ROOT > vault.token
cat > broker.toml <<TOML
control_listen = "127.0.0.1:$CONTROL_PORT"
socket = "broker.sock"
[vault]
address = "http://127.0.0.1:$BAO_PORT"
timeout = "10s"
[vault.auth]
method = "token"
token_file = "vault.token"
[store]
kind = "file"
dir = "state"
TOML
RUST_LOG=warn "$BIN" broker --config broker.toml 2>broker.log &
BROKER_PID=$!
for _ in $(seq 200); do [ -S broker.sock ] && break; sleep 0.05; done

# The bench client on one core, the servers on the other.
taskset -c 1 "$BENCH" "http://127.0.0.1:$BAO_PORT" $ROOT "http://127.0.0.1:$CONTROL_PORT" \
  bench-control-token bench-proxy-token "$WORK/broker.sock" "$N"
