#!/usr/bin/env bash
# Lints the Python client: ruff (package, tests, examples) and mypy (the gradwatch package,
# strict), both configured in pyproject.toml and run from clients/python/.venv, which is
# created or updated first (venv.sh). Exits non-zero when either finds something.
set -uo pipefail

# shellcheck source=venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh" lint.sh
gradwatch_venv || exit 1

cd "$HERE" || exit 1
rc=0
"$VENV/bin/python" -m ruff check . || rc=1
"$VENV/bin/python" -m mypy || rc=1
exit "$rc"
