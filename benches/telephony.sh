#!/usr/bin/env bash
# Telephony benchmark (issue 3), all against a sipp UAS on loopback, in one run:
#  1. call set-up rate: huifang's dialer vs sipp's own UAC against the same UAS (ratio printed);
#  2. N concurrent calls each playing a prompt: RTP send jitter p50/p99/max, CPU and memory per call.
#   benches/telephony.sh [CALLS=10000] [CONCURRENT=2000] [ROUNDS=5]
# Needs sipp (apt-get install sip-tester) and GNU time. Run it on a quiet machine: rates are
# wall-clock; CPU a call (user + system, from GNU time) is steadier.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-10000}"
concurrent="${2:-2000}"
rounds="${3:-5}"
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install time" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/huifang
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=25060
# sipp -bg exits 99 after forking; what matters is that the UAS then answers.
uas() { sipp -sn uas -i 127.0.0.1 -p "$1" -buff_size 4194304 -nostdin -bg >/dev/null 2>&1 || true; sleep 0.5; }
stop_uas() { pkill -f "sipp -sn uas -i 127.0.0.1 -p $1" || true; sleep 0.5; }
trap 'pkill -f "sipp -sn uas -i 127.0.0.1 -p 2506" || true' EXIT

echo "== 1. call set-up rate, $calls calls, 200 in flight (INVITE/180/200/ACK/BYE/200), $rounds rounds"
# One round: sipp's UAC, then ours, each against a fresh sipp UAS. Rounds alternate the two so
# that a noisy neighbour hurts both alike; the medians are what to compare.
cpu() { awk '{print $1 + $2}' "$1"; }
sipp_rates=() ours_rates=() ratios=()
for round in $(seq 1 "$rounds"); do
  uas $port
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o /tmp/huifang-bench-sipp.time \
    sipp -sn uac 127.0.0.1:$port -i 127.0.0.1 -p $((port + 1)) -r 50000 -rate_max 50000 -m "$calls" -l 200 \
    -buff_size 4194304 -nostdin >/dev/null 2>&1 || echo "(sipp uac reported failed calls)"
  end=$(date +%s.%N)
  stop_uas $port
  sipp_cps=$(echo "$calls / ($end - $start)" | bc -l)
  uas $((port + 2))
  ours=$(/usr/bin/time -f '%U %S' -o /tmp/huifang-bench-ours.time \
    "$bin" bench calls --target "sip:uas@127.0.0.1:$((port + 2))" --calls "$calls" --concurrency 200)
  stop_uas $((port + 2))
  ours_cps=$(echo "$ours" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls_per_second"])')
  ratio=$(echo "$ours_cps / $sipp_cps" | bc -l)
  printf 'round %d: sipp uac %6.0f calls/s (%5.1f µs CPU a call), huifang %6.0f calls/s (%5.1f µs CPU a call), ratio %.2f\n' \
    "$round" "$sipp_cps" "$(echo "$(cpu /tmp/huifang-bench-sipp.time) * 1000000 / $calls" | bc -l)" \
    "$ours_cps" "$(echo "$(cpu /tmp/huifang-bench-ours.time) * 1000000 / $calls" | bc -l)" "$ratio"
  sipp_rates+=("$sipp_cps") ours_rates+=("$ours_cps") ratios+=("$ratio")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf 'median: sipp uac %.0f calls/s, huifang %.0f calls/s; median ratio huifang/sipp %.2f (target >= 0.8)\n' \
  "$(median "${sipp_rates[@]}")" "$(median "${ours_rates[@]}")" "$(median "${ratios[@]}")"

echo "== 2. $concurrent concurrent calls each playing a prompt (20 s window)"
uas $((port + 4))
"$bin" bench media --target "sip:uas@127.0.0.1:$((port + 4))" --calls "$concurrent" --rate 200 --seconds 20
stop_uas $((port + 4))
