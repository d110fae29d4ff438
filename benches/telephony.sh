#!/usr/bin/env bash
# Telephony benchmark (issue 3), all against a sipp UAS on loopback, in one run:
#  1. call set-up rate: huifang's dialer vs sipp's own UAC against the same UAS (ratio printed);
#  2. N concurrent calls each playing a prompt: RTP send jitter p50/p99/max, CPU and memory per call.
#   benches/telephony.sh [CALLS=10000] [CONCURRENT=2000]
# Needs sipp (apt-get install sip-tester). Run it on a quiet machine: numbers are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-10000}"
concurrent="${2:-2000}"
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/huifang
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=25060
# sipp -bg exits 99 after forking; what matters is that the UAS then answers.
uas() { sipp -sn uas -i 127.0.0.1 -p "$1" -buff_size 4194304 -nostdin -bg >/dev/null 2>&1 || true; sleep 0.5; }
stop_uas() { pkill -f "sipp -sn uas -i 127.0.0.1 -p $1" || true; sleep 0.5; }
trap 'pkill -f "sipp -sn uas -i 127.0.0.1 -p 2506" || true' EXIT

echo "== 1. call set-up rate, $calls calls, 200 in flight (INVITE/180/200/ACK/BYE/200)"
uas $port
start=$(date +%s.%N)
sipp -sn uac 127.0.0.1:$port -i 127.0.0.1 -p $((port + 1)) -r 50000 -rate_max 50000 -m "$calls" -l 200 \
  -buff_size 4194304 -nostdin >/dev/null 2>&1 || echo "(sipp uac reported failed calls)"
end=$(date +%s.%N)
stop_uas $port
sipp_cps=$(echo "$calls / ($end - $start)" | bc -l)
printf 'sipp uac:      %8.0f calls/s\n' "$sipp_cps"
uas $((port + 2))
ours=$("$bin" bench calls --target "sip:uas@127.0.0.1:$((port + 2))" --calls "$calls" --concurrency 200)
stop_uas $((port + 2))
echo "huifang:       $ours"
ours_cps=$(echo "$ours" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls_per_second"])')
printf 'ratio huifang/sipp: %.2f (target >= 0.8)\n' "$(echo "$ours_cps / $sipp_cps" | bc -l)"

echo "== 2. $concurrent concurrent calls each playing a prompt (20 s window)"
uas $((port + 4))
"$bin" bench media --target "sip:uas@127.0.0.1:$((port + 4))" --calls "$concurrent" --rate 200 --seconds 20
stop_uas $((port + 4))
