#!/usr/bin/env bash
# Runs the Python client's tests: creates clients/python/.venv when missing, installs the
# client (editable, with the torch extra) and the pinned test requirements from the
# machine's package mirror, then runs pytest. Exits with pytest's code; "no tests ran"
# (pytest's 5) counts as a failure. Extra arguments go to pytest.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "test.sh: creating $VENV" >&2
  "$PY" -m venv "$VENV" || { echo "test.sh: could not create the virtual environment" >&2; exit 1; }
fi

# Reinstall only when the requirements or the package metadata changed.
STAMP="$VENV/.gradwatch-test-stamp"
SUM="$(cat "$HERE/requirements-test.txt" "$HERE/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$SUM" ]; then
  echo "test.sh: installing the client and the test requirements" >&2
  LOG="$(mktemp)"
  # An unreachable default index must fail fast rather than retry (the mirror answers).
  if ! PIP_RETRIES="${PIP_RETRIES:-0}" "$VENV/bin/python" -m pip install -q \
      -e "$HERE[torch]" -r "$HERE/requirements-test.txt" >"$LOG" 2>&1; then
    grep -v -e "Retrying (Retry" -e "is ignored: it is neither" "$LOG" | tail -40 >&2
    echo "test.sh: pip install failed" >&2
    rm -f "$LOG"
    exit 1
  fi
  rm -f "$LOG"
  echo "$SUM" >"$STAMP"
fi

cd "$HERE" || exit 1
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
