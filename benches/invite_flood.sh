#!/usr/bin/env bash
# A flood of strangers' SIP requests against a running dialer node (issue 30): for each KIND, a
# fresh `huifang campaign run` (no campaigns, SQLite in a temporary folder) takes N distinct
# requests at RATE a second from 8 loopback addresses x 4 ports; prints its RSS before, right
# after and 40 s later, and the responses the senders saw (see benches/invite_flood.py).
#   benches/invite_flood.sh [N=100000] [RATE=5000] [KINDS="invite options mixed"]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
rate="${2:-5000}"
kinds="${3:-invite options mixed}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet
dir="$(mktemp -d /tmp/huifang-invite-flood.XXXXXX)"
port=25097
cat >"$dir/huifang.toml" <<TOML
[dialer]
sip_listen = "127.0.0.1:$port"
node = "flood"
prompts_dir = "$dir/prompts"
recordings_dir = "$dir/recordings"
TOML
node=""
trap '[ -n "$node" ] && kill "$node" 2>/dev/null; rm -rf "$dir"' EXIT
hexport="$(printf '%04X' "$port")"
for kind in $kinds; do
  HUIFANG_LOG=warn "$target/release/huifang" --config "$dir/huifang.toml" \
    --database "sqlite://$dir/huifang.db" campaign run >"$dir/node-$kind.log" 2>&1 &
  node=$!
  for _ in $(seq 100); do
    grep -q ":$hexport " /proc/net/udp && break
    sleep 0.1
  done
  sleep 1 # settled: migrations done, the first campaign poll behind it
  python3 benches/invite_flood.py "$node" "127.0.0.1:$port" "$n" "$rate" "$kind" 40
  if kill -0 "$node" 2>/dev/null; then
    echo "  node still running; its log: $(wc -l <"$dir/node-$kind.log") lines"
  else
    echo "  node DIED; its log:"; cat "$dir/node-$kind.log"; exit 1
  fi
  kill -INT "$node"; wait "$node" 2>/dev/null || true
  node=""
done
