#!/usr/bin/env bash
# The bounded fuzz smoke run of the test script (tests/run.sh): every fuzz target for
# FUZZ_SECONDS (default 20) on its committed corpus, without a sanitizer (`-s none`: an ASAN
# build of the whole node takes several times as long on a 2-core machine, and safe Rust's
# panics are what we look for). Fails when a target crashes, when a `[[bin]]` of Cargo.toml
# has no corpus (or a corpus no target), or when the corpus replay test fails.
#
#   fuzz/smoke.sh                 # all targets, 20 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh sdp sip_message
#   FUZZ_PROFILE=dev fuzz/smoke.sh   # unoptimised build (tests/run.sh): faster to build, slower to run
#
# New inputs libFuzzer finds go to a scratch directory, never into corpus/; a crash is saved
# under fuzz/artifacts/<target>/ (git-ignored) and named in the output.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1
# release (cargo fuzz's default: opt-level 3, one codegen unit, for long runs) or dev
# (`--dev`: opt-level 0, several times faster to build from clean, for the smoke run of
# tests/run.sh). Build and run take the same flags, else `cargo fuzz run` builds again.
build=(-s none)
timeout=10
case "${FUZZ_PROFILE:-release}" in
  release) ;;
  # At opt-level 0 a first input's one-time set-up (phonenumber's metadata in api_json) takes
  # seconds of CPU, over 10 s of wall time on a busy machine.
  dev) build+=(--dev) timeout=60 ;;
  *) echo "fuzz/smoke.sh: FUZZ_PROFILE is release or dev, not ${FUZZ_PROFILE}" >&2; exit 1 ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz/smoke.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Every target has a non-empty corpus and every corpus a target.
bins=$(awk '/^\[\[bin\]\]/{b=1; next} b && /^name *=/{gsub(/"/, "", $3); print $3; b=0}' Cargo.toml | sort)
corpora=$(find corpus -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
if [ "$bins" != "$corpora" ]; then
  echo "fuzz/smoke.sh: the [[bin]]s of fuzz/Cargo.toml and fuzz/corpus/ differ:" >&2
  diff <(echo "$bins") <(echo "$corpora") >&2 || true
  exit 1
fi
for t in $bins; do
  if [ -z "$(ls -A "corpus/$t")" ]; then
    echo "fuzz/smoke.sh: corpus/$t is empty" >&2
    exit 1
  fi
done
# A parser of outside input that the code base has but no target covers fails here too.
required="sip_message sdp rtp_packet digest_challenge smpp_pdu sms_gateway sms_reply
  campaign_toml survey_toml dialer_list_csv import_csv import_xlsx api_json"
for t in $required; do
  echo "$bins" | grep -qx "$t" || { echo "fuzz/smoke.sh: no fuzz target $t" >&2; exit 1; }
done

started=$(date +%s)
cargo fuzz build "${build[@]}"
built=$(date +%s)
echo "fuzz/smoke.sh: built every target (${FUZZ_PROFILE:-release}) in $((built - started)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$(echo $bins)"
summary=()
line=
for t in "${targets[@]}"; do
  dict=()
  case "$t" in sip_message | sdp | digest_challenge) dict=(-dict=dict/sip.dict) ;; esac
  # import_xlsx: calamine 0.38 (not our code) overflows a u32 on a cell reference with many
  # letters (xlsx/mod.rs, get_row_and_optional_column; a panic only with the overflow checks
  # cargo fuzz turns on, a wrap in the node's release build) within seconds of fuzzing, so
  # until calamine is fixed its corpus is only replayed.
  budget=(-max_total_time="$seconds")
  [ "$t" != import_xlsx ] || budget=(-runs=0)
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  if ! cargo fuzz run "${build[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
    "${budget[@]}" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz/smoke.sh: $t crashed; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)
  line=$(printf '%-18s %10s runs %5s s %8s exec/s' "$t" "$runs" "$secs" "$((runs / (secs > 0 ? secs : 1)))")
  echo "fuzz/smoke.sh: $line"
  summary+=("$line")
done
for line in "${summary[@]}"; do echo "fuzz/smoke.sh: $line"; done
echo "fuzz/smoke.sh: no crash in ${#targets[@]} targets, $(( $(date +%s) - started )) s in all"
