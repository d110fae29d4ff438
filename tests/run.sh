#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what is missing, starts what must run,
# then runs cargo test. SQLite is always tested; PostgreSQL too when TEST_DATABASE_URL is set
# (.ci/run sets it to the machine's local cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  command -v pg_isready >/dev/null 2>&1 || need_apt+=(postgresql-client)
fi
# The real SIP peers of tests/telephony (shared/docs/peers.md): sipp, baresip, kamailio (an
# authenticating proxy and registrar; its base package has every module tests/kamailio uses), sox
# (reads the recordings), espeak-ng (speaks prompts). The tests fail, never skip, when they are
# missing.
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip)
# kamailio lives in /usr/sbin, which a non-root PATH may lack.
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need_apt+=(kamailio)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
# The SMS and email peers of tests/peers (README there): an SMSC simulator on npm's smpp (needs node and
# npm), an SMTP server on aiosmtpd (from PyPI, else Debian's python3-aiosmtpd), and openssl for
# make_cert.sh's self-signed certificate.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The console's browser tests (tests/console/browser.rs): headless Chromium through chromedriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "tests/run.sh: installing aiosmtpd"
  python3 -m pip install --quiet aiosmtpd || need_apt+=(python3-aiosmtpd)
fi
# The API document's tests (tests/console/api_document.rs): openapi-spec-validator checks
# /api/openapi.json, schemathesis runs against a live console. Both from PyPI; the tests fail,
# never skip, without them.
for pypi in openapi-spec-validator:openapi_spec_validator schemathesis:schemathesis; do
  if ! python3 -c "import ${pypi#*:}" >/dev/null 2>&1; then
    echo "tests/run.sh: installing ${pypi%%:*}"
    python3 -m pip install --quiet "${pypi%%:*}"
  fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "tests/run.sh: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    echo "tests/run.sh: missing ${need_apt[*]}; not root, so install them yourself" >&2
  fi
fi
if [ ! -d tests/peers/smsc/node_modules ]; then
  echo "tests/run.sh: installing tests/peers/smsc's node modules"
  npm ci --prefix tests/peers/smsc --no-audit --no-fund
fi

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  # Start the local cluster if it is down (the command of shared/docs/peers.md).
  if ! pg_isready -q -d "$TEST_DATABASE_URL" 2>/dev/null; then
    echo "tests/run.sh: PostgreSQL is not answering; starting the local cluster"
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -d "$TEST_DATABASE_URL" && break; sleep 1; done
    pg_isready -d "$TEST_DATABASE_URL" || { echo "tests/run.sh: PostgreSQL at $TEST_DATABASE_URL is down" >&2; exit 1; }
  fi
  # Each test makes its own schema (t_* or h_*); drop those of earlier runs (one transaction each, so
  # the server's lock table is never asked for all of them at once).
  psql -qtA -d "$TEST_DATABASE_URL" -c "select nspname from pg_namespace where nspname like 't\\_%' or nspname like 'h\\_%'" |
    while read -r schema; do
      PGOPTIONS="-c client_min_messages=warning" psql -q -d "$TEST_DATABASE_URL" -c "drop schema \"$schema\" cascade" >/dev/null
    done
  echo "tests/run.sh: testing on SQLite and on PostgreSQL ($TEST_DATABASE_URL)"
else
  echo "tests/run.sh: testing on SQLite (set TEST_DATABASE_URL=postgres://... to test PostgreSQL too)"
fi

cargo test --workspace --all-targets "$@"

# cargo test above already replays every fuzz target's committed corpus (tests/fuzz_corpus.rs:
# a crash, or a target without a corpus, fails it). Then the libFuzzer smoke run (README
# "Fuzzing"): every target FUZZ_SECONDS (5) on its corpus, so a new parser without a target, or
# one that crashes within seconds, fails the run. It builds the crate again with coverage
# instrumentation (FUZZ_PROFILE=dev: ~8-11 min from clean on 2 shared cores, measured
# 2026-12-07; incremental after that) and installs cargo-fuzz when missing (~3 min).
# HUIFANG_FUZZ_SMOKE=0 tests/run.sh leaves it out.
if [ "${HUIFANG_FUZZ_SMOKE:-1}" != 0 ]; then
  FUZZ_PROFILE="${FUZZ_PROFILE:-dev}" FUZZ_SECONDS="${FUZZ_SECONDS:-5}" fuzz/smoke.sh
fi
