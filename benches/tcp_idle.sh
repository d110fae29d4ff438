#!/usr/bin/env bash
# Idle TCP connections against a running agent (issue 30): N connections that send nothing, from
# SOURCES loopback addresses, against `huifang phones` (TCP on, default limits); prints the
# agent's descriptors and RSS before, once they are open, and after its 60 s idle timeout.
#   benches/tcp_idle.sh [N=10000] [SOURCES=100]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
sources="${2:-100}"
cargo build --release --quiet
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=25096
target/release/huifang phones --listen 127.0.0.1:$port >/tmp/huifang-tcp-idle.log 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT
sleep 1
python3 benches/tcp_idle.py "$agent" 127.0.0.1:$port "$n" 65 "$sources"
echo "agent log: $(wc -l </tmp/huifang-tcp-idle.log) lines ($(grep -c 'SIP TCP' /tmp/huifang-tcp-idle.log || true) about TCP refusals and closes)"
