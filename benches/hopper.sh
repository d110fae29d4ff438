#!/usr/bin/env bash
# Hopper claim-rate benchmark (issue 4): enqueue HOPPER_CONTACTS (default 100,000) contacts into
# one campaign and drain it as a dialer would (claim HOPPER_BATCH at a time, default 50, then
# finish each contact): SQLite with one node, and PostgreSQL with two concurrent nodes (two
# pools) when TEST_DATABASE_URL is set. Prints contacts per second.
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/hopper.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --test hopper claim_rate -- --ignored --nocapture --test-threads 1 |
  grep '^hopper '
