#!/usr/bin/env bash
# Scale measurements of the proxy (issue 12), on loopback, with the bench origin of
# deploy/bench-proxy.sh (nginx, TLS, keep-alive, 1 KiB) and `tollgate proxy` with the same full
# policy (every default detector, budgets at all three scopes, provenance on):
#   idle        memory per idle intercepted connection: RSS with N idle tunnels (CONNECT, TLS,
#               one request each, then nothing) minus RSS before them, over N
#   identities  N connections, each as a different identity (static identities file of N),
#               R requests each; against the same churn as one identity
#   hosts       N connections, each to a different host (h<i>.bench.test: a leaf minted and an
#               upstream connection per host), R requests each; twice, with two disjoint sets
#               of N hosts, so that the memory after the second shows whether the caches stop
#   h2          one h2 connection with S streams in flight at all times
# It prints one line per phase and the proxy's RSS after each (VmRSS, KiB).
#
# usage: deploy/bench-scale.sh
# env:   SCALE_IDLE (2000)  SCALE_IDENTITIES (10000)  SCALE_HOSTS (10000)  SCALE_REQUESTS (4)
#        SCALE_STREAMS (100)  SCALE_SECONDS (15, the h2 run)  KEEP=1 keeps the work directory
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IDLE="${SCALE_IDLE:-2000}"
IDENTITIES="${SCALE_IDENTITIES:-10000}"
HOSTS="${SCALE_HOSTS:-10000}"
REQUESTS="${SCALE_REQUESTS:-4}"
STREAMS="${SCALE_STREAMS:-100}"
H2_SECONDS="${SCALE_SECONDS:-15}"
cd "$REPO"
cargo build --release -q -p tollgate --bin tollgate
cargo build --release -q -p tollgate-proxy --example scale
BIN="${SCALE_BIN:-$REPO/target/release/tollgate}"   # SCALE_BIN: another build to compare
SCALE="$REPO/target/release/examples/scale"
ulimit -n "$(ulimit -Hn)"   # 2,000 idle tunnels and their upstreams need more than 1,024

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
chmod 755 "$WORK"

wait_port() {
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# --- origin: its own CA, a certificate for bench.test and every h<i>.bench.test ----------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin-ca.key -out origin-ca.pem -days 2 -subj "/CN=bench origin CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr -subj "/CN=bench.test" 2>/dev/null
printf "subjectAltName=DNS:bench.test,DNS:*.bench.test\n" > san.cnf
openssl x509 -req -in origin.csr -CA origin-ca.pem -CAkey origin-ca.key -CAcreateserial -out origin.pem -days 2 -extfile san.cnf 2>/dev/null
chmod 644 origin-ca.pem
mkdir -p www logs && head -c 1024 /dev/zero | tr '\0' 'x' > www/1k
NGINX_PORT=18543 PROXY_PORT=13228 METRICS_PORT=19228
cat > nginx.conf <<CONF
worker_processes 1;
worker_rlimit_nofile 16384;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/origin.pem;
    ssl_certificate_key $WORK/origin.key;
    root $WORK/www;
    location = /1k { default_type application/octet-stream; }
  }
}
CONF
taskset -c 1 nginx -p "$WORK" -c "$WORK/nginx.conf" -g "daemon off;" &
PIDS+=($!)
wait_port "$NGINX_PORT"

# --- the proxy: the bench policy for bench.test and *.bench.test, N identities, N hosts ---
"$BIN" ca init ca >/dev/null
mkdir -p policies/tenants
cat > policies/tenants/bench.toml <<POLICY
version = 1
[tenant]
id = "bench"
owner = "bench@tollgate.invalid"
[[tools]]
name = "load"
[[tools.egress]]
id = "origin"
hosts = ["bench.test", "*.bench.test"]
ports = [$NGINX_PORT]
methods = ["GET"]
paths = ["/1k"]
allow_private = ["127.0.0.0/8"]
[budgets.invocation]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
max_response = "20MiB"
wall_clock = "6d"
concurrent_connections = 100000
requests_per_minute = 9000000
[budgets.session]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
concurrent_connections = 100000
requests_per_minute = 9000000
[budgets.tenant]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
concurrent_connections = 100000
requests_per_minute = 9000000
POLICY
# Identity 0 is "bench"; the file of N more, each with its own secret, written at once.
python3 - "$IDENTITIES" <<'PY'
import hashlib, sys
n = int(sys.argv[1])
with open("identities.toml", "w") as toml, open("auth.txt", "w") as auth:
    for i in range(n + 1):
        user, secret = ("bench" if i == 0 else f"inv-{i}"), f"secret-{i}-bench-scale"
        digest = hashlib.sha256(secret.encode()).hexdigest()
        toml.write(f'[[identity]]\nuser = "{user}"\nsecret_sha256 = "{digest}"\n'
                   f'tenant = "bench"\nsession = "s{i % 100}"\ntool = "load"\n')
        if i:
            auth.write(f"{user}:{secret}\n")
PY
{
  printf 'listen = "127.0.0.1:%s"\nmetrics_listen = "127.0.0.1:%s"\n' "$PROXY_PORT" "$METRICS_PORT"
  printf 'policies = "policies"\nidentities = "identities.toml"\nca_dir = "ca"\nupstream_ca = "origin-ca.pem"\nthreads = 1\n'
  printf '[limits]\nmax_connections_per_identity = 100000\nidle_timeout = "120s"\n'
  printf '[resolver]\nhosts = { "bench.test" = ["127.0.0.1"]'
  for i in $(seq 0 $((2 * HOSTS - 1))); do printf ', "h%d.bench.test" = ["127.0.0.1"]' "$i"; done
  printf ' }\n'
} > proxy.toml
taskset -c 0 "$BIN" proxy --config proxy.toml 2>tollgate.log &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
wait_port "$PROXY_PORT"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="tollgate_$1" '$1 == m {print $2}'; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$PROXY_PID/stat"; }
CLIENT=(--proxy "127.0.0.1:$PROXY_PORT" --ca ca/ca.pem --target "bench.test:$NGINX_PORT")
scale() { timeout 600 taskset -c 1 "$SCALE" "$1" "${CLIENT[@]}" "${@:2}"; }

# Warm-up: the leaf for bench.test, the upstream pool, the policy snapshot.
scale churn --auth "bench:secret-0-bench-scale" --count 20 --requests 2 --concurrency 4 >/dev/null
echo "proxy RSS after warm-up: $(rss) KiB"

# --- idle tunnels -----------------------------------------------------------------------
before=$(rss)
scale idle --auth "bench:secret-0-bench-scale" --count "$IDLE" --hold 20 > idle.out &
IDLE_PID=$!
for _ in $(seq 1200); do [ -s idle.out ] && break; sleep 0.1; done
sleep 2
during=$(rss)
echo "idle: $(cat idle.out) proxy RSS $before -> $during KiB: $(( (during - before) / IDLE )) KiB per idle intercepted connection (open_client_connections $(metric open_client_connections))"
wait "$IDLE_PID"
sleep 2
echo "idle: after the $IDLE tunnels closed, proxy RSS $(rss) KiB"

# --- distinct identities ----------------------------------------------------------------
c0=$(cpu_ms)
one="$(scale churn --auth "bench:secret-0-bench-scale" --count "$IDENTITIES" --requests "$REQUESTS")"
c1=$(cpu_ms)
echo "identities: one identity     $one  proxy CPU $(( (c1 - c0) * 1000 / (IDENTITIES * REQUESTS) )) us/request, RSS $(rss) KiB"
many="$(scale churn --auth-file auth.txt --count "$IDENTITIES" --requests "$REQUESTS")"
c2=$(cpu_ms)
echo "identities: $IDENTITIES identities $many  proxy CPU $(( (c2 - c1) * 1000 / (IDENTITIES * REQUESTS) )) us/request, RSS $(rss) KiB"

# --- distinct hosts (two disjoint sets) -------------------------------------------------
for round in 0 1; do
  c0=$(cpu_ms)
  out="$(scale churn --auth "bench:secret-0-bench-scale" --count "$HOSTS" --requests "$REQUESTS" \
    --host-template "h{}.bench.test" --offset $((round * HOSTS)))"
  c1=$(cpu_ms)
  echo "hosts: round $round, $HOSTS hosts $out  proxy CPU $(( (c1 - c0) * 1000 / (HOSTS * REQUESTS) )) us/request, RSS $(rss) KiB, certificates minted $(metric certificates_minted), cached $(metric certificate_cache_entries)"
done

# --- one h2 connection, many streams ----------------------------------------------------
c0=$(cpu_ms)
out="$(scale h2 --auth "bench:secret-0-bench-scale" --streams "$STREAMS" --seconds "$H2_SECONDS")"
c1=$(cpu_ms)
requests=$(sed -E 's/.*"requests": ([0-9]+).*/\1/' <<<"$out")
echo "h2: $out  proxy CPU $(( (c1 - c0) * 1000 / (requests > 0 ? requests : 1) )) us/request, RSS $(rss) KiB"
echo "proxy RSS at the end: $(rss) KiB (peak $(awk '/^VmHWM/ {print $2}' "/proc/$PROXY_PID/status") KiB)"
