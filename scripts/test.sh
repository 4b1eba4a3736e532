#!/usr/bin/env bash
# Runs every test: typecheck, lint, the dashboard build, the README's examples, vitest (unit,
# integration, browser; the integration tests once on SQLite and once on PostgreSQL), then pytest
# (the Python client against a real server). Installs what the browser tests need; starts a
# throwaway PostgreSQL cluster (scripts/pg-cluster.sh, which installs Debian's postgresql when
# missing) and stops it at the end; the Python virtual environment, when missing, is made while
# the static checks run. Ends with what ran and how long, then vitest's and pytest's own summary
# lines.
set -uo pipefail
cd "$(dirname "$0")/.."

# `npm test` under an older node: the same run with Node 24 (scripts/node.sh fetches it once).
have="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')"
if [ "${have:-0}" -lt 24 ]; then
  exec scripts/node.sh bash "$0" "$@"
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

LOGS="$(mktemp -d "${TMPDIR:-/tmp}/gradwatch-test-XXXXXX")"
T0=$SECONDS
ROWS=()
FAILED=0
row() { ROWS+=("$(printf '  %-34s %-7s %5d s' "$1" "$2" "$3")"); }
strip() { sed -E 's/\x1b\[[0-9;]*m//g' "$1"; }

summary() {
  echo
  echo "== npm test: what ran =="
  printf '%s\n' "${ROWS[@]}"
  printf '  %-34s %-7s %5d s\n' "total" "$([ "$FAILED" = 0 ] && echo ok || echo FAILED)" $((SECONDS - T0))
  [ -f "$LOGS/vitest.log" ] && strip "$LOGS/vitest.log" | grep -E '^ *(Test Files|Tests|Duration) ' | tail -3
  [ -f "$LOGS/pytest.log" ] && strip "$LOGS/pytest.log" | grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$' | tail -1
  rm -rf "$LOGS"
}

# A step that must pass before the next one runs.
step() {
  local name="$1" t=$SECONDS
  shift
  if "$@"; then row "$name" ok $((SECONDS - t)); return; fi
  FAILED=1
  row "$name" FAILED $((SECONDS - t))
  summary
  exit 1
}

# Every server these tests start chooses its own storage: never a database of the caller's shell
# (the README check would write its demo runs into it).
unset GRADWATCH_DATABASE_URL

# The Python environment (pip, mostly waiting on the disk) is made alongside the static checks.
PY_T=$SECONDS
bash clients/python/scripts/test.sh --version >"$LOGS/venv.log" 2>&1 &
PY_PID=$!

# PostgreSQL for the server-pg tests: $GRADWATCH_TEST_PG_URL when the caller gives one (a
# superuser URL: each test server gets a database of its own), else a throwaway cluster. Without
# it the run fails here: the PostgreSQL backend is never skipped silently.
PG_STARTED=0
stop_pg() { [ "$PG_STARTED" = 1 ] && bash scripts/pg-cluster.sh stop >/dev/null 2>&1; PG_STARTED=0; }
trap stop_pg EXIT
trap 'exit 130' INT TERM
start_pg() {
  [ -n "${GRADWATCH_TEST_PG_URL:-}" ] && return 0
  local url
  PG_STARTED=1
  if ! url="$(bash scripts/pg-cluster.sh start)"; then
    echo "npm test: PostgreSQL could not be set up (the reason is above); the PostgreSQL tests (server-pg) need it." >&2
    echo "  Install it (Debian: apt-get install postgresql) or set GRADWATCH_TEST_PG_URL to a superuser URL of a server of yours." >&2
    return 1
  fi
  export GRADWATCH_TEST_PG_URL="$url"
}
# Alongside the Python environment too: a first run installs Debian's postgresql meanwhile.
step "PostgreSQL for the tests" start_pg

step "typecheck" npm run typecheck
step "lint (eslint)" npm run lint:js
step "build (dashboard, server bundle)" npm run build
step "README examples (readme-check)" bash scripts/readme-check.sh

t=$SECONDS
if wait "$PY_PID"; then
  row "Python environment (alongside)" ok $((SECONDS - PY_T))
else
  FAILED=1
  row "Python environment" FAILED $((SECONDS - PY_T))
  cat "$LOGS/venv.log" >&2
fi
[ $((SECONDS - t)) -gt 2 ] && echo "(waited $((SECONDS - t)) s for the Python environment)"
# After the environment exists: ruff and mypy run from it.
step "lint (ruff, mypy)" npm run lint:py

# Both runners run even when the first fails: one CI run reports both.
t=$SECONDS
npx vitest run 2>&1 | tee "$LOGS/vitest.log"
if [ "${PIPESTATUS[0]}" = 0 ]; then row "vitest" ok $((SECONDS - t)); else FAILED=1; row "vitest" FAILED $((SECONDS - t)); fi

if [ -f clients/python/.venv/bin/python ]; then
  t=$SECONDS
  # That script exits 1 when pytest collected nothing (pytest's own 5).
  bash clients/python/scripts/test.sh 2>&1 | tee "$LOGS/pytest.log"
  if [ "${PIPESTATUS[0]}" = 0 ]; then row "pytest" ok $((SECONDS - t)); else FAILED=1; row "pytest" FAILED $((SECONDS - t)); fi
fi

summary
exit "$FAILED"
