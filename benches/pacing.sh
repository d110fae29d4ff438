#!/usr/bin/env bash
# Pacing benchmark (issue 4): every dial mode on the issue's campaign (20 agents, 30 % human
# answer, 120 s talk + 20 s wrap-up, 8 hours, 3 % abandon cap), a few seeds each, simulated on
# the same Pacer code the dialer runs. Prints one line per run and the mean per mode.
#   benches/pacing.sh [SEEDS="1 2 3 4 5"]
# Target: predictive >= 85 % occupancy at <= 3 % abandon, and more occupancy than progressive
# and adaptive-heuristic at equal or lower abandon. Deterministic: no wall-clock numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1 2 3 4 5}"
cargo build --release --quiet
bin=target/release/huifang
modes="progressive ratio:2 adaptive-heuristic predictive"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
for mode in $modes; do
  for seed in $seeds; do
    "$bin" simulate --agents 20 --answer-rate 0.3 --talk 120 --wrap 20 --hours 8 \
      --abandon-target 3 --mode "$mode" --seed "$seed" --json |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["mode"], r["seed"], 100*r["occupancy"], r["abandon_pct"], r["worst_hour_abandon_pct"], r["contacts_per_agent_hour"], r["wait_p50_s"], r["wait_p95_s"], r["dials_per_hour"])' >>"$rows"
  done
done
python3 - "$rows" <<'PY'
import sys, collections
cols = ["occupancy %", "abandon %", "worst hour %", "contacts/agent-h", "wait p50 s", "wait p95 s", "dials/h"]
runs = collections.OrderedDict()
print(f"{'mode':<20}{'seed':>5}" + "".join(f"{c:>18}" for c in cols))
for line in open(sys.argv[1]):
    mode, seed, *vals = line.split()
    vals = [float(v) for v in vals]
    runs.setdefault(mode, []).append(vals)
    print(f"{mode:<20}{seed:>5}" + "".join(f"{v:>18.2f}" for v in vals))
print("\nmean over seeds")
print(f"{'mode':<20}{'runs':>5}" + "".join(f"{c:>18}" for c in cols))
for mode, rs in runs.items():
    mean = [sum(col) / len(col) for col in zip(*rs)]
    print(f"{mode:<20}{len(rs):>5}" + "".join(f"{v:>18.2f}" for v in mean))
PY
