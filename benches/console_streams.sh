#!/usr/bin/env bash
# Live streams against `huifang serve` (issue 29): on the demo's database, one admin session
# opens 1 and then N wallboard streams (`/api/campaigns/demo-callback/live`) and the script
# prints the server's CPU (utime+stime of /proc/PID/stat) over SECONDS for each.
#   benches/console_streams.sh [N=1000] [SECONDS=20]     (HUIFANG_BIN=path: that binary, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
seconds="${2:-20}"
[ -n "${HUIFANG_BIN:-}" ] || cargo build --release --quiet
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dir=$(mktemp -d /tmp/huifang-streams.XXXXXX)
port=28093
bin="${HUIFANG_BIN:-${CARGO_TARGET_DIR:-target}/release/huifang}"
db="sqlite://$dir/bench.db"
# One session holds every stream here; the default cap (4 a session, 256 connections an
# address) is for people, not for a benchmark from one address.
cat >"$dir/huifang.toml" <<TOML
[http]
listen = "127.0.0.1:$port"
secure_cookies = false
streams_per_session = $((n + 10))
max_connections_per_address = $((n + 100))
TOML
$bin --config "$dir/huifang.toml" --database "$db" demo >"$dir/demo.log" 2>&1
echo "bench-pass-1234" | $bin --config "$dir/huifang.toml" --database "$db" \
    user add bench --role admin --password-stdin >/dev/null
$bin --config "$dir/huifang.toml" --database "$db" serve --escalate-every 0 >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -sf "http://127.0.0.1:$port/api/session" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-pass-1234"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
path=/api/campaigns/demo-callback/live
python3 benches/console_streams.py "$server" "127.0.0.1:$port" "$token" "$path" 1 "$seconds"
python3 benches/console_streams.py "$server" "127.0.0.1:$port" "$token" "$path" "$n" "$seconds"
echo "server log: $(wc -l <"$dir/serve.log") lines; files in $dir"
