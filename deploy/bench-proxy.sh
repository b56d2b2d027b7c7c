#!/usr/bin/env bash
# Proxy benchmark (issue: intercepting proxy). On this 2-core machine: the proxy is pinned to
# core 0; nginx (TLS, keep-alive, 1 KiB responses) and the load generator to core 1. Runs, in
# one go: direct throughput, proxied throughput, direct and proxied latency at a light fixed
# rate, and reports the proxy's CPU time per request from /proc. Inspection is on (every
# request is decrypted, decided and re-encrypted). Bounded: a few 10-second runs, loopback only.
#
# usage: deploy/bench-proxy.sh [SECONDS] [CONNECTIONS] [RATE]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-16}"
RATE="${3:-500}"
cd "$REPO"
cargo build --release -q --bin tollgate --example loadgen -p tollgate-proxy -p tollgate
BIN="$REPO/target/release/tollgate"
LOADGEN="$REPO/target/release/examples/loadgen"

WORK="$(mktemp -d)"
cleanup() { kill "${PROXY_PID:-}" "${NGINX_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
cd "$WORK"

# Origin certificates (their own CA) and nginx.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin-ca.key -out origin-ca.pem -days 2 -subj "/CN=bench origin CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr -subj "/CN=bench.test" 2>/dev/null
printf "subjectAltName=DNS:bench.test\n" > san.cnf
openssl x509 -req -in origin.csr -CA origin-ca.pem -CAkey origin-ca.key -CAcreateserial -out origin.pem -days 2 -extfile san.cnf 2>/dev/null
chmod 755 "$WORK"
mkdir -p www logs && head -c 1024 /dev/zero | tr '\0' 'x' > www/1k
NGINX_PORT=18443
cat > nginx.conf <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
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
NGINX_PID=$!

# The proxy: its CA, one tenant that may GET bench.test/1k, one identity.
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
hosts = ["bench.test"]
ports = [$NGINX_PORT]
methods = ["GET"]
paths = ["/1k"]
allow_private = ["127.0.0.0/8"]
POLICY
SECRET="bench-secret-$(date +%s%N)"
printf '[[identity]]\nuser = "bench"\nsecret_sha256 = "%s"\ntenant = "bench"\nsession = "s"\ntool = "load"\n' "$("$BIN" proxy --hash-secret "$SECRET")" > identities.toml
cat > proxy.toml <<CONF
listen = "127.0.0.1:13128"
policies = "policies"
identities = "identities.toml"
ca_dir = "ca"
upstream_ca = "origin-ca.pem"
threads = 1
[resolver]
hosts = { "bench.test" = ["127.0.0.1"] }
CONF
taskset -c 0 "$BIN" proxy --config proxy.toml 2>proxy.log &
PROXY_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/13128) 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$NGINX_PORT) 2>/dev/null && break; sleep 0.1; done

direct=(--target "bench.test:$NGINX_PORT" --addr "127.0.0.1:$NGINX_PORT" --ca origin-ca.pem)
proxied=(--target "bench.test:$NGINX_PORT" --addr unused --ca ca/ca.pem --proxy 127.0.0.1:13128 --auth "bench:$SECRET")
load() { taskset -c 1 "$LOADGEN" "$@" --seconds "$SECONDS_PER_RUN"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PROXY_PID/stat"; }

load "${proxied[@]}" --connections 2 --seconds 1 >/dev/null   # warm-up: mint, pools
echo "direct throughput:  $(load "${direct[@]}" --connections "$CONNECTIONS")"
before=$(cpu_ticks)
proxied_tp="$(load "${proxied[@]}" --connections "$CONNECTIONS")"
after=$(cpu_ticks)
echo "proxied throughput: $proxied_tp"
requests=$(sed -E 's/.*"requests": ([0-9]+).*/\1/' <<<"$proxied_tp")
hz=$(getconf CLK_TCK)
echo "proxy CPU per request: $(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f us (%d ticks at %d Hz over %d requests)", t / hz * 1e6 / n, t, hz, n }')"
echo "direct latency @${RATE}/s:  $(load "${direct[@]}" --connections 4 --rate "$RATE")"
echo "proxied latency @${RATE}/s: $(load "${proxied[@]}" --connections 4 --rate "$RATE")"
