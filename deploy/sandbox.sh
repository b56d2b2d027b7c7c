#!/usr/bin/env bash
# The network boundary for tool sandboxes: one network namespace per sandbox whose only
# reachable address is the proxy, so a tool that ignores HTTPS_PROXY, opens raw sockets, or
# tries DNS or any UDP reaches nothing.
#
#   deploy/sandbox.sh create NAME --index N [--proxy-port 3128]
#   deploy/sandbox.sh exec   NAME -- COMMAND [ARGS...]
#   deploy/sandbox.sh delete NAME
#   deploy/sandbox.sh show   NAME
#
# `create` makes the namespace `tg-NAME` and a veth pair: `tgh-NAME` on the host with
# 10.250.N.1/30 and `tgs-NAME` in the namespace with 10.250.N.2/30 (N is 0-255, one per
# sandbox). The namespace gets no default route, no IPv6, and only loopback plus that link.
# Run the proxy listening on 10.250.N.1 (or 0.0.0.0) at --proxy-port; the tool's proxy URL
# is then http://10.250.N.1:PORT.
#
# The rules that matter are on the host side, out of the tool's reach: even a tool that is
# root in its namespace (and so can rewrite that namespace's own rules and routes) cannot
# change what the host accepts from `tgh-NAME`: new TCP connections to the proxy's address and
# port, and nothing else (no other port, no UDP, no ICMP, nothing forwarded). The same rules
# inside the namespace are a second line that also makes attempts fail fast.
#
# Needs root (ip, nft from Debian's iproute2 and nftables; deploy/setup.sh installs them).
# Idempotent: `create` on an existing sandbox replaces it; `delete` of a missing one is fine.
set -euo pipefail

die() { echo "sandbox.sh: $*" >&2; exit 2; }

[ "$#" -ge 2 ] || die "usage: $0 create|exec|delete|show NAME ..."
action="$1"
name="$2"
shift 2
# Interface names are at most 15 bytes: "tgh-" + 11.
[[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,10}$ ]] || die "NAME: 1-11 of a-z, 0-9, '-' (got '$name')"
ns="tg-$name"
host_if="tgh-$name"
sandbox_if="tgs-$name"
table="tg_sandbox_${name//-/_}"

delete() {
  nft delete table inet "$table" 2>/dev/null || true
  ip link delete "$host_if" 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
}

case "$action" in
  create)
    index=""
    proxy_port=3128
    while [ "$#" -gt 0 ]; do
      case "$1" in
        --index) index="${2:-}"; shift 2 ;;
        --proxy-port) proxy_port="${2:-}"; shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    [[ "$index" =~ ^[0-9]+$ ]] && [ "$index" -le 255 ] || die "--index N: 0-255"
    [[ "$proxy_port" =~ ^[0-9]+$ ]] && [ "$proxy_port" -ge 1 ] && [ "$proxy_port" -le 65535 ] \
      || die "--proxy-port: 1-65535"
    host_ip="10.250.$index.1"
    sandbox_ip="10.250.$index.2"
    delete

    ip netns add "$ns"
    ip link add "$host_if" type veth peer name "$sandbox_if"
    ip link set "$sandbox_if" netns "$ns"
    ip addr add "$host_ip/30" dev "$host_if"
    ip link set "$host_if" up
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$ns" ip addr add "$sandbox_ip/30" dev "$sandbox_if"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "$sandbox_if" up
    # No default route: only the /30 link is reachable at all, and of it only the proxy.

    # Host side: what the host accepts from the sandbox's link.
    nft -f - <<EOF
table inet $table {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "$host_if" ct state established,related accept
    iifname "$host_if" ip daddr $host_ip tcp dport $proxy_port ct state new accept
    # Refused rather than dropped, so that an attempt fails at once instead of hanging.
    iifname "$host_if" meta l4proto tcp counter reject with tcp reset
    iifname "$host_if" counter reject with icmpx admin-prohibited
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "$host_if" counter drop
    oifname "$host_if" ct state established,related accept
    oifname "$host_if" counter drop
  }
}
EOF
    # Inside: the same, so that everything else fails at once instead of timing out.
    ip netns exec "$ns" nft -f - <<EOF
table inet tollgate_sandbox {
  chain output {
    type filter hook output priority 0; policy drop;
    oifname "lo" accept
    ip daddr $host_ip tcp dport $proxy_port accept
    ip daddr $host_ip ct state established,related accept
    meta l4proto tcp reject with tcp reset
    reject
  }
}
EOF
    echo "sandbox $name: namespace $ns, proxy http://$host_ip:$proxy_port"
    ;;
  exec)
    [ "${1:-}" = "--" ] && shift
    [ "$#" -gt 0 ] || die "exec NAME -- COMMAND"
    exec ip netns exec "$ns" "$@"
    ;;
  delete)
    delete
    ;;
  show)
    ip netns exec "$ns" ip -brief addr
    ip netns exec "$ns" ip route
    nft list table inet "$table"
    ;;
  *)
    die "unknown action $action (create, exec, delete, show)"
    ;;
esac
