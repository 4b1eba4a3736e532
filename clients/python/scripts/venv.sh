#!/usr/bin/env bash
# Sourced by test.sh and lint.sh: makes sure clients/python/.venv exists and holds the client
# (editable, with the torch extra) and the pinned test and lint requirements from the machine's
# package mirror, reinstalling only when requirements-test.txt or pyproject.toml changed.
# Sets HERE (clients/python) and VENV; returns non-zero (with the reason on stderr) on failure.
# $1 names the calling script in messages.

WHO="${1:-venv.sh}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-python3}"

gradwatch_venv() {
  # One installer at a time: test.sh builds the environment while other scripts may ask for it.
  exec 9>"$HERE/.venv.lock"
  flock 9
  if [ ! -x "$VENV/bin/python" ]; then
    echo "$WHO: creating $VENV" >&2
    "$PY" -m venv "$VENV" || { echo "$WHO: could not create the virtual environment" >&2; return 1; }
  fi
  local stamp="$VENV/.gradwatch-test-stamp" sum log
  sum="$(cat "$HERE/requirements-test.txt" "$HERE/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  echo "$WHO: installing the client and the test requirements" >&2
  log="$(mktemp)"
  # An unreachable default index must fail fast rather than retry (the mirror answers).
  if ! PIP_RETRIES="${PIP_RETRIES:-0}" "$VENV/bin/python" -m pip install -q \
      -e "$HERE[torch]" -r "$HERE/requirements-test.txt" >"$log" 2>&1; then
    grep -v -e "Retrying (Retry" -e "is ignored: it is neither" "$log" | tail -40 >&2
    echo "$WHO: pip install failed" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  echo "$sum" >"$stamp"
}
