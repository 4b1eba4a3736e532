#!/usr/bin/env bash
# Runs the Python client's tests: creates or updates clients/python/.venv (venv.sh), then runs
# pytest. Exits with pytest's code; "no tests ran" (pytest's 5) counts as a failure. Extra
# arguments go to pytest.
set -uo pipefail

# shellcheck source=venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh" test.sh
gradwatch_venv || exit 1

cd "$HERE" || exit 1
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
