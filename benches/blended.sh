#!/usr/bin/env bash
# Blended benchmark (issue 20): the hotline and a predictive callback campaign on the same 20
# agents. 60 inbound calls an hour (Poisson, 180 s handle = talk + 20 s wrap-up, patience 120 s)
# and the pacing benchmark's campaign (30 % human answer, 120 s talk + 20 s wrap-up, 3 % abandon
# cap), 8 simulated hours, a few seeds each, on the same Pacer code the dialer runs. Beside the
# protected predictive run (80 % within 20 s): predictive without protection (target 0: queued
# callers still come first, no Erlang C reserve), and progressive with and without. A second
# set-up makes the outbound talks 600 s, so agents free up five times more rarely.
#   benches/blended.sh [SEEDS="1 2 3 4 5"]
# HUIFANG_BIN=path/to/huifang skips the release build (the simulation is deterministic, so a
# debug build gives the same numbers, only slower).
# Target: inbound service level >= 80 % in 20 s, and more outbound occupancy than progressive.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1 2 3 4 5}"
bin="${HUIFANG_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release/huifang
fi
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
for setup in "talk-120:--talk 120" "talk-600:--talk 600"; do
  name="${setup%%:*}"
  extra="${setup#*:}"
  for variant in "predictive:0.8" "predictive:0" "progressive:0.8" "progressive:0"; do
    mode="${variant%%:*}"
    target="${variant#*:}"
    for seed in $seeds; do
      # shellcheck disable=SC2086
      "$bin" simulate --agents 20 --answer-rate 0.3 $extra --wrap 20 --hours 8 \
        --abandon-target 3 --mode "$mode" --seed "$seed" \
        --inbound-per-hour 60 --inbound-handle 180 --inbound-target "$target" \
        --inbound-within 20 --inbound-patience 120 --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); i=r["inbound"]; print(sys.argv[1], sys.argv[2], r["seed"], i["service_level_pct"] if i["service_level_pct"] is not None else float("nan"), i["asa_s"], i["offered"], i["abandoned"], 100*r["outbound_occupancy"], 100*r["occupancy"], r["abandon_pct"], r["contacts_per_agent_hour"])' \
          "$name" "$mode/$target" >>"$rows"
    done
  done
done
python3 - "$rows" <<'PY'
import sys, collections
cols = ["inbound SL %", "ASA s", "offered", "abandoned", "outbound occ %", "occupancy %", "out abandon %", "contacts/agent-h"]
runs = collections.OrderedDict()
head = f"{'set-up':<10}{'mode/target':<18}"
print(head + f"{'seed':>5}" + "".join(f"{c:>17}" for c in cols))
for line in open(sys.argv[1]):
    setup, variant, seed, *vals = line.split()
    vals = [float(v) for v in vals]
    runs.setdefault((setup, variant), []).append(vals)
    print(f"{setup:<10}{variant:<18}{seed:>5}" + "".join(f"{v:>17.2f}" for v in vals))
print("\nmean over seeds (inbound SL: also the worst seed)")
print(head + f"{'runs':>5}" + "".join(f"{c:>17}" for c in cols) + f"{'worst SL %':>17}")
for (setup, variant), rs in runs.items():
    mean = [sum(col) / len(col) for col in zip(*rs)]
    worst = min(r[0] for r in rs)
    print(f"{setup:<10}{variant:<18}{len(rs):>5}" + "".join(f"{v:>17.2f}" for v in mean) + f"{worst:>17.2f}")
PY
