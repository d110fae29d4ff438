#!/usr/bin/env bash
# Benchmark: import a 1,000,000-owner CSV into a fresh database (SQLite by default, or a fresh
# PostgreSQL database next to BENCH_POSTGRES). Prints the import time of the sample (2,000 units and their
# owners) and of the million owners, and the peak memory.
#   benches/import_owners.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
cargo build --release --quiet
bin=target/release/huifang
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "${BENCH_POSTGRES:-}" ]; then
  # A fresh database on the local PostgreSQL (trust auth), dropped afterwards.
  psql -q -d "$BENCH_POSTGRES" -c "drop database if exists huifang_bench" -c "create database huifang_bench"
  export DATABASE_URL="${BENCH_POSTGRES%/*}/huifang_bench"
else
  export DATABASE_URL="sqlite://$work/bench.db"
fi

echo "== sample data set (campaigns/sample) into $DATABASE_URL"
for kind in units suppliers components staff owners; do
  "$bin" import "$kind" "campaigns/sample/$kind.csv"
done

echo "== $count synthetic owners"
"$bin" sample --owners "$count" --out "$work/owners.csv"
ls -l "$work/owners.csv" | awk '{printf "file size: %.1f MB\n", $5/1e6}'
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" "$bin" import owners "$work/owners.csv"
echo "== again (re-import: every row an update)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" "$bin" import owners "$work/owners.csv"
