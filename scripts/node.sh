#!/usr/bin/env bash
# Runs a command with Node.js 24 first on PATH: the machine's own node when it is 24 or newer,
# otherwise Node 24 from the npm registry (package node-<os>-<arch>), installed once into .tools/.
#
#   scripts/node.sh npm ci
#   scripts/node.sh npm test
set -euo pipefail

WANT=24
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"

major() { "$1" --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }

if [ "$#" -eq 0 ]; then
  echo "usage: scripts/node.sh <command> [args...]  (runs it with Node.js $WANT+ first on PATH)" >&2
  exit 2
fi

have="$(command -v node >/dev/null 2>&1 && major node || echo 0)"
if [ "${have:-0}" -lt "$WANT" ]; then
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "scripts/node.sh: install Node.js $WANT yourself on $(uname -s)" >&2; exit 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "scripts/node.sh: no Node.js $WANT package for $(uname -m); install it yourself" >&2; exit 1 ;;
  esac
  pkg="node-$os-$arch"
  bin="$TOOLS/node_modules/$pkg/bin"
  if [ "$(major "$bin/node" || echo 0)" != "$WANT" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "scripts/node.sh: this machine has no npm to fetch Node.js $WANT with; install Node.js $WANT" >&2
      exit 1
    fi
    echo "scripts/node.sh: node is ${have/#0/missing} here, not $WANT+: installing $pkg@$WANT into .tools/ (once)" >&2
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "$pkg@$WANT" >&2
  fi
  export PATH="$bin:$PATH"
fi
exec "$@"
