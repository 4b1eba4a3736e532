#!/usr/bin/env bash
# Runs every test: typecheck, lint, the dashboard build, vitest (unit, integration, browser),
# then pytest (Python client against a real server). Installs what the browser tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

npm run typecheck
npm run lint
npm run build
npx vitest run
bash clients/python/scripts/test.sh
