#!/usr/bin/env bash
# Proxy cost side by side (issue 12). In one run, with the same nginx origin (TLS, keep-alive,
# 1 KiB responses), the same load generator and the same pinned cores, it measures:
#   direct       the load generator straight to nginx
#   tollgate     `tollgate proxy` with the full default policy: every default detector, and
#                budgets of every kind at all three scopes (in-process store), set high enough
#                never to refuse the benchmark, and provenance records written
#   tollgate_noprov  the same with `provenance = false`: the difference is what provenance costs
#   tollgate_awslc   (only when named in BENCH_TARGETS) tollgate_noprov with rustls on
#                aws-lc-rs instead of ring (`--features aws-lc-rs`, built in target/aws-lc)
#   tollgate_alt, tollgate_alt_noprov  (only when named) another tollgate binary, BENCH_ALT_BIN
#                (e.g. the previous commit's): before and after a change in one run; likewise
#                tollgate_alt2, tollgate_alt2_noprov with BENCH_ALT2_BIN
#   passthrough  proxy/examples/passthrough.rs: CONNECT + hyper/tokio-rustls MITM, no policy
#   pingora      proxy/examples/pingora_floor.rs: CONNECT, the same minter and intercepted
#                stream, and pingora's HTTP proxy with no filter (no policy): what pingora itself
#                costs, so that tollgate - pingora is Tollgate's own work and pingora -
#                passthrough pingora's
#   squid        Squid ssl_bump (Debian's squid-openssl), allow-all; skipped if not installed
# Per target: latency at a light fixed rate, a saturation run (closed loop), latency again
# after it (costs that grow with state show there). CPU per request is the target process's
# user + system time over the saturation run divided by its requests. The table gives
# throughput, CPU per request and added p50/p99 as ratios to direct and to the pass-through.
#
# Cores: the process under test on core 0; nginx and the load generator on core 1.
# Everything listens on 127.0.0.1; every load is bounded by BENCH_SECONDS (and a timeout).
#
# usage: deploy/bench-proxy.sh                      # 60 s per load, about 13 minutes
#        BENCH_SECONDS=5 deploy/bench-proxy.sh      # smoke run
# env:   BENCH_SECONDS (60)  BENCH_CONNECTIONS (16)  BENCH_RATE (500 req/s, latency runs)
#        BENCH_TARGETS ("direct tollgate tollgate_noprov pingora passthrough squid")  KEEP=1 keeps the work directory
#        BENCH_TYPE (application/octet-stream): the 1 KiB answer's content type; text/html makes
#          Tollgate judge every answer for injected instructions (tool output protection,
#          `strip` by default), which it does not for octet-stream
#        BENCH_PERF=DIR: `perf record -g` each proxy target during its saturation run, into
#          DIR/<target>.perf.data, BENCH_PERF_FREQ samples a second (199; more slows the target
#          more). perf attaches to the running process; its own CPU is not counted, but sampling
#          slows the target a little: compare such runs only to each other
#        BENCH_STAT=DIR: `perf stat` of each proxy target over its saturation run (context
#          switches, page faults, send/write/recv syscalls; BENCH_STAT_EVENTS to choose), into
#          DIR/<target>.txt with the run's request count
#        BENCH_HEADERS: more header fields on every request, separated by `|`, e.g. what
#          python-requests sends: "User-Agent: python-requests/2.32.3|Accept-Encoding: gzip,
#          deflate|Accept: */*|Connection: keep-alive" (by default the request has Host only)
#        BENCH_BUILD=0: use the binaries already built (another cargo holds the target dir)
#        BENCH_WRAP: a command prefix for tollgate and the pass-through, for profiling, e.g.
#          BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p" (dumped
#          with callgrind_control before the target stops, counters zeroed after the warm-up
#          so that start-up is not in the profile; its figures then mean nothing)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_RUN="${BENCH_SECONDS:-60}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
RATE="${BENCH_RATE:-500}"
TARGETS="${BENCH_TARGETS:-direct tollgate tollgate_noprov pingora passthrough squid}"
CONTENT_TYPE="${BENCH_TYPE:-application/octet-stream}"
cd "$REPO"
# Builds go where cargo puts them: CARGO_TARGET_DIR when set (a worktree's own), else target/.
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
# BENCH_BUILD=0 uses the binaries as they are (e.g. while another cargo holds the target dir).
if [ "${BENCH_BUILD:-1}" != 0 ]; then
  cargo build --release -q -p tollgate --bin tollgate
  cargo build --release -q -p tollgate-proxy --example loadgen --example passthrough --example pingora_floor
fi
BIN="$TARGET_DIR/release/tollgate"
AWSLC_BIN="$TARGET_DIR/aws-lc/release/tollgate"
case " $TARGETS " in *" tollgate_awslc "*)
  cargo build --release -q -p tollgate --bin tollgate --features aws-lc-rs --target-dir "$TARGET_DIR/aws-lc" ;;
esac
LOADGEN="$TARGET_DIR/release/examples/loadgen"
PASSTHROUGH="$TARGET_DIR/release/examples/passthrough"
PINGORA_FLOOR="$TARGET_DIR/release/examples/pingora_floor"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 30); do
    alive=0; for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
chmod 755 "$WORK"

wait_port() {
  # Up to 60 s: a target under valgrind starts slowly.
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# --- origin: its own CA, nginx on core 1 -------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin-ca.key -out origin-ca.pem -days 2 -subj "/CN=bench origin CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr -subj "/CN=bench.test" 2>/dev/null
printf "subjectAltName=DNS:bench.test\n" > san.cnf
openssl x509 -req -in origin.csr -CA origin-ca.pem -CAkey origin-ca.key -CAcreateserial -out origin.pem -days 2 -extfile san.cnf 2>/dev/null
chmod 644 origin-ca.pem
mkdir -p www logs
if [ "$CONTENT_TYPE" = text/html ]; then
  # 1 KiB of ordinary HTML: a heading, paragraphs, a link; nothing a judge should cut.
  { printf '<!doctype html><html><head><title>Bench page</title></head><body><h1>Bench</h1>'
    for i in $(seq 12); do printf '<p>Paragraph %02d of the benchmark page, with a <a href="/p%02d">link</a>.</p>' "$i" "$i"; done
  } | head -c 1010 > www/1k
  printf '</body></html>' | head -c $((1024 - $(stat -c %s www/1k))) >> www/1k
else
  head -c 1024 /dev/zero | tr '\0' 'x' > www/1k
fi
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
    location = /1k { default_type $CONTENT_TYPE; }
  }
}
CONF
taskset -c 1 nginx -p "$WORK" -c "$WORK/nginx.conf" -g "daemon off;" &
PIDS+=($!)
wait_port "$NGINX_PORT"

# --- targets --------------------------------------------------------------------------
# Each start_* sets TARGET_PID, PROXY_ARGS (load generator flags) for its target.
TOLLGATE_PORT=13128 PASSTHROUGH_PORT=13129 SQUID_PORT=13130 PINGORA_PORT=13131
SECRET="bench-secret-$(date +%s%N)"
"$BIN" ca init ca >/dev/null

start_direct() {
  TARGET_PID=""
  PROXY_ARGS=(--addr "127.0.0.1:$NGINX_PORT" --ca origin-ca.pem)
}

start_tollgate_noprov() { start_tollgate false; }
# tollgate_noprov with rustls on aws-lc-rs instead of ring (built into its own target dir);
# without provenance, whose cost would drown the difference.
start_tollgate_awslc() { start_tollgate false "$AWSLC_BIN"; }
# Another build of the proxy (BENCH_ALT_BIN), e.g. the commit before a change, with and
# without provenance: before/after in the same run.
start_tollgate_alt() { start_tollgate '"provenance.jsonl"' "${BENCH_ALT_BIN:?BENCH_ALT_BIN=path of another tollgate}"; }
start_tollgate_alt_noprov() { start_tollgate false "${BENCH_ALT_BIN:?BENCH_ALT_BIN=path of another tollgate}"; }
start_tollgate_alt2() { start_tollgate '"provenance.jsonl"' "${BENCH_ALT2_BIN:?BENCH_ALT2_BIN=path of a third tollgate}"; }
start_tollgate_alt2_noprov() { start_tollgate false "${BENCH_ALT2_BIN:?BENCH_ALT2_BIN=path of a third tollgate}"; }

# $1: the provenance setting as TOML (a quoted file name by default, false for none); $2: the
# binary.
start_tollgate() {
  local provenance="${1:-\"provenance.jsonl\"}" bin="${2:-$BIN}"
  rm -f provenance.jsonl
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
# Every budget kind at every scope, counted on every request, none ever reached here.
[budgets.invocation]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
max_response = "20MiB"
wall_clock = "6d"
concurrent_connections = 1000
requests_per_minute = 9000000
[budgets.session]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
concurrent_connections = 1000
requests_per_minute = 9000000
[budgets.tenant]
requests = 9000000
bytes_out = "500GiB"
bytes_in = "500GiB"
concurrent_connections = 1000
requests_per_minute = 9000000
POLICY
  printf '[[identity]]\nuser = "bench"\nsecret_sha256 = "%s"\ntenant = "bench"\nsession = "s"\ntool = "load"\n' \
    "$("$BIN" proxy --hash-secret "$SECRET")" > identities.toml
  cat > proxy.toml <<CONF
listen = "127.0.0.1:$TOLLGATE_PORT"
policies = "policies"
identities = "identities.toml"
ca_dir = "ca"
upstream_ca = "origin-ca.pem"
provenance = $provenance
threads = 1
[resolver]
hosts = { "bench.test" = ["127.0.0.1"] }
CONF
  taskset -c 0 ${BENCH_WRAP:-} "$bin" proxy --config proxy.toml 2>tollgate.log &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_port "$TOLLGATE_PORT"
  PROXY_ARGS=(--addr unused --ca ca/ca.pem --proxy "127.0.0.1:$TOLLGATE_PORT" --auth "bench:$SECRET")
}

start_passthrough() {
  taskset -c 0 ${BENCH_WRAP:-} "$PASSTHROUGH" --listen "127.0.0.1:$PASSTHROUGH_PORT" --ca-dir ca \
    --upstream-ca origin-ca.pem --connect-to 127.0.0.1 --threads 1 2>passthrough.log &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_port "$PASSTHROUGH_PORT"
  PROXY_ARGS=(--addr unused --ca ca/ca.pem --proxy "127.0.0.1:$PASSTHROUGH_PORT" --auth "bench:unused")
}

start_pingora() {
  taskset -c 0 ${BENCH_WRAP:-} "$PINGORA_FLOOR" --listen "127.0.0.1:$PINGORA_PORT" --ca-dir ca \
    --upstream-ca origin-ca.pem --connect-to 127.0.0.1 2>pingora.log &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_port "$PINGORA_PORT"
  PROXY_ARGS=(--addr unused --ca ca/ca.pem --proxy "127.0.0.1:$PINGORA_PORT" --auth "bench:unused")
}

start_squid() {
  local dir="$WORK/squid" certgen=/usr/lib/squid/security_file_certgen
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -days 2 -subj "/CN=bench squid CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  "$certgen" -c -s "$dir/ssl_db" -M 16MB >/dev/null
  printf '127.0.0.1 bench.test\n' > "$dir/hosts"
  cat > "$dir/squid.conf" <<CONF
http_port 127.0.0.1:$SQUID_PORT ssl-bump tls-cert=$dir/ca.pem tls-key=$dir/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program $certgen -s $dir/ssl_db -M 16MB
sslcrtd_children 2
ssl_bump bump all
tls_outgoing_options cafile=$WORK/origin-ca.pem
http_access allow all
cache deny all
access_log none
cache_log $dir/cache.log
pid_filename $dir/squid.pid
hosts_file $dir/hosts
coredump_dir $dir
shutdown_lifetime 1 seconds
CONF
  # As root, Squid runs as the `proxy` user: it must read its files and write its cert db.
  if [ "$(id -u)" = 0 ] && id proxy >/dev/null 2>&1; then chown -R proxy "$dir"; fi
  taskset -c 0 squid -N -f "$dir/squid.conf" 2>"$dir/stderr.log" &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_port "$SQUID_PORT"
  PROXY_ARGS=(--addr unused --ca "$dir/ca.pem" --proxy "127.0.0.1:$SQUID_PORT" --auth "bench:unused")
}

# Stops the target, bounded: graceful first, killed after 5 s.
stop_target() {
  [ -n "$TARGET_PID" ] || return 0
  case "${BENCH_WRAP:-}" in *callgrind*) callgrind_control -d "$TARGET_PID" >/dev/null 2>&1 || true ;; esac
  kill "$TARGET_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$TARGET_PID" 2>/dev/null || true
  wait "$TARGET_PID" 2>/dev/null || true
}

# --- loads ------------------------------------------------------------------------------
HEADER_ARGS=()
if [ -n "${BENCH_HEADERS:-}" ]; then
  IFS='|' read -r -a header_lines <<<"$BENCH_HEADERS"
  for line in "${header_lines[@]}"; do HEADER_ARGS+=(--header "$line"); done
fi
load() {
  timeout $((SECONDS_PER_RUN + 60)) taskset -c 1 "$LOADGEN" --target "bench.test:$NGINX_PORT" \
    "${PROXY_ARGS[@]}" ${HEADER_ARGS[@]+"${HEADER_ARGS[@]}"} "$@"
}
field() { sed -E "s/.*\"$1\": ([0-9]+).*/\1/" <<<"$2"; }
cpu_ticks() { if [ -n "$TARGET_PID" ]; then awk '{print $14 + $15}' "/proc/$TARGET_PID/stat"; else echo 0; fi; }
HZ=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

for target in $TARGETS; do
  if [ "$target" = squid ] && ! command -v squid >/dev/null; then
    echo "squid: not installed (apt-get install squid-openssl), skipped" >&2
    continue
  fi
  "start_$target"
  load --connections 2 --seconds 1 >/dev/null   # warm-up: certificates, pools
  case "${BENCH_WRAP:-}" in *callgrind*) [ -n "$TARGET_PID" ] && callgrind_control -z "$TARGET_PID" >/dev/null ;; esac
  light_before="$(load --connections 4 --rate "$RATE" --seconds "$SECONDS_PER_RUN")"
  perf_pid=""
  if [ -n "${BENCH_PERF:-}" ] && [ -n "$TARGET_PID" ]; then
    mkdir -p "$BENCH_PERF"
    perf record -q --call-graph "${BENCH_PERF_CALLGRAPH:-dwarf,16384}" -F "${BENCH_PERF_FREQ:-199}" -p "$TARGET_PID" -o "$BENCH_PERF/$target.perf.data" 2>/dev/null &
    perf_pid=$!
  fi
  stat_pid=""
  if [ -n "${BENCH_STAT:-}" ] && [ -n "$TARGET_PID" ]; then
    mkdir -p "$BENCH_STAT"
    perf stat -e "${BENCH_STAT_EVENTS:-task-clock,context-switches,cpu-migrations,page-faults,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read}" \
      -p "$TARGET_PID" -o "$BENCH_STAT/$target.txt" 2>/dev/null &
    stat_pid=$!
  fi
  before=$(cpu_ticks)
  saturated="$(load --connections "$CONNECTIONS" --seconds "$SECONDS_PER_RUN")"
  after=$(cpu_ticks)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  if [ -n "$stat_pid" ]; then
    kill -INT "$stat_pid"; wait "$stat_pid" 2>/dev/null || true
    echo "requests $(field requests "$saturated")" >> "$BENCH_STAT/$target.txt"
  fi
  light_after="$(load --connections 4 --rate "$RATE" --seconds "$SECONDS_PER_RUN")"
  echo "$target: light $light_before | saturated $saturated | light after $light_after" >&2
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" \
    "$(field rps "$saturated")" "$(field requests "$saturated")" "$(field errors "$saturated")" \
    $((after - before)) \
    "$(field p50_us "$light_before")" "$(field p99_us "$light_before")" \
    "$(field p50_us "$light_after")" "$(field p99_us "$light_after")" >> "$RESULTS"
  stop_target
done

# --- the table --------------------------------------------------------------------------
python3 - "$RESULTS" "$HZ" "$SECONDS_PER_RUN" "$CONNECTIONS" "$RATE" <<'PY'
import sys
path, hz, seconds, connections, rate = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rows = {}
for line in open(path):
    name, rps, requests, errors, ticks, p50, p99, p50a, p99a = line.rstrip("\n").split("\t")
    rows[name] = dict(rps=float(rps), requests=int(requests), errors=int(errors),
                      cpu=(int(ticks) / hz * 1e6 / int(requests)) if name != "direct" and int(requests) else None,
                      lat=[int(p50), int(p99), int(p50a), int(p99a)])
direct, peer = rows.get("direct"), rows.get("passthrough")

def ratio(a, b):
    # No ratio to a zero or negative base (noise can make an added latency negative).
    return f"{a / b:.2f}x" if a is not None and b is not None and b > 0 else "-"

def show(value):
    return "-" if value is None else str(value)

def added(row):
    return [l - d for l, d in zip(row["lat"], direct["lat"])] if direct else [None] * 4

print(f"\n{seconds} s per load; saturation: {connections} connections closed-loop; light: 4 connections at {rate} req/s")
print("added latency = target p50/p99 minus direct's in the same phase; 'after' = after the saturation run\n")
head = ("target", "req/s", "x direct", "x pass", "CPU us/req", "x pass", "+p50 us", "+p99 us",
        "x pass", "+p50 after", "+p99 after", "x pass", "errors")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for name, row in rows.items():
    add = added(row)
    peer_add = added(peer) if peer else [None] * 4
    lat_ratio = lambda i, j: (f"{ratio(add[i], peer_add[i])} / {ratio(add[j], peer_add[j])}"
                              if name not in ("direct",) else "-")
    if name == "direct":
        cells = [name, f"{row['rps']:.0f}", "1.00x", ratio(row["rps"], peer and peer["rps"]), "-", "-",
                 f"({row['lat'][0]})", f"({row['lat'][1]})", "-", f"({row['lat'][2]})", f"({row['lat'][3]})", "-"]
    else:
        cells = [name, f"{row['rps']:.0f}", ratio(row["rps"], direct and direct["rps"]),
                 ratio(row["rps"], peer and peer["rps"]),
                 f"{row['cpu']:.1f}" if row["cpu"] is not None else "-",
                 ratio(row["cpu"], peer and peer["cpu"]),
                 show(add[0]), show(add[1]), lat_ratio(0, 1), show(add[2]), show(add[3]), lat_ratio(2, 3)]
    print("| " + " | ".join(cells + [str(row["errors"])]) + " |")
print("\n(direct's own p50/p99 in parentheses, microseconds)")
on, off = rows.get("tollgate"), rows.get("tollgate_noprov")
if on and off and on["cpu"] is not None and off["cpu"] is not None:
    print(f"provenance: {on['cpu'] - off['cpu']:+.1f} us CPU per request (tollgate - tollgate_noprov)")
PY
