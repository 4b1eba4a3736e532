#!/usr/bin/env bash
# Runs the README's examples in the order a newcomer meets them, against a server of this
# check's own (`npm run serve` on a free port, a fresh data directory):
#   - every ```sh block, line by line as written, with 127.0.0.1:8080 pointed at that server;
#     `curl` fails the check on any answer that is not 2xx; any other failing command fails it too;
#   - the set-up commands (install, start, test, docker) are not run: this check is part of them;
#   - a block that uses $ADMIN runs against the same data with authentication on (GRADWATCH_ADMIN_TOKEN=$ADMIN);
#   - every ```ts block that streams a run is run as written (tsx).
# Afterwards it checks what the demo must leave: its three runs, the diverging one stopped by
# gradwatch, histograms for the Layers page.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gradwatch-readme-XXXXXX")"
SNIPPETS="$ROOT/test-output/readme-check"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK" "$SNIPPETS"
}
trap cleanup EXIT

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
export GRADWATCH_PORT="$PORT" GRADWATCH_DATA_DIR="$WORK/data" GRADWATCH_URL="http://127.0.0.1:$PORT"
export GRADWATCH_LOG_LEVEL=warn DEMO_STEP_MS="${DEMO_STEP_MS:-2}" FAILS="$WORK/fails"
: >"$FAILS"

start_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    while kill -0 "$SERVER_PID" 2>/dev/null; do sleep 0.1; done
  fi
  # Its own process group, so that npm and the node under it stop together.
  setsid npm run serve --silent >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    if command curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "readme-check: the server did not start on port $PORT:" >&2
  tail -20 "$WORK/server.log" >&2
  exit 1
}

# The README's blocks, one file each: <n>.<lang> holds the block, <n>.title the section it is in.
awk -v dir="$WORK" '
  /^## / { title = substr($0, 4) }
  /^```/ {
    if (inb) { inb = 0; close(file); next }
    lang = substr($0, 4)
    if (lang == "sh" || lang == "ts") { inb = 1; n++; file = sprintf("%s/%02d.%s", dir, n, lang); print title > sprintf("%s/%02d.title", dir, n); printf "" > file }
    next
  }
  inb { print >> file }
' README.md

SETUP='^(scripts/node\.sh +)?(npm (ci|start|test|run serve)|docker compose)( |$)'
PRELUDE="$WORK/prelude.sh"
cat >"$PRELUDE" <<'EOF'
set -e
# curl as the README writes it, pointed at this check's server; a non-2xx answer is recorded.
curl() {
  local args=() a body code
  for a in "$@"; do args+=("${a//127.0.0.1:8080/127.0.0.1:$GRADWATCH_PORT}"); done
  body="$(mktemp)"
  code="$(command curl -sS -o "$body" -w '%{http_code}' "${args[@]}")" || code="${code:-000}"
  cat "$body"
  rm -f "$body"
  case "$code" in
    2??) ;;
    *) echo "HTTP $code: curl $*" >>"$FAILS" ;;
  esac
}
EOF

start_server
auth=""
for n in $(ls "$WORK" | sed -nE 's/^([0-9][0-9])\.(sh|ts)$/\1/p' | sort -u); do
  title="$(cat "$WORK/$n.title")"
  if [ -e "$WORK/$n.ts" ]; then
    grep -q 'new IngestClient' "$WORK/$n.ts" || continue
    mkdir -p "$SNIPPETS"
    sed "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/g" "$WORK/$n.ts" >"$SNIPPETS/snippet-$n.ts"
    if ! node --import tsx "$SNIPPETS/snippet-$n.ts" >"$WORK/$n.out" 2>&1; then
      echo "readme-check: the TypeScript example in \"$title\" failed:" >&2
      cat "$WORK/$n.out" >&2
      exit 1
    fi
    echo "readme-check: ok  \"$title\": the TypeScript example"
    continue
  fi
  script="$WORK/$n.run.sh"
  cat "$PRELUDE" >"$script"
  ran=0
  while IFS= read -r line; do
    if [[ "$line" =~ $SETUP ]]; then
      echo ": skipped (set-up, this check runs its own server): ${line//[\"\`\$]/}" >>"$script"
      continue
    fi
    echo "$line" >>"$script"
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] || ran=$((ran + 1))
  done <"$WORK/$n.sh"
  [ "$ran" -gt 0 ] || { echo "readme-check: --  \"$title\": set-up commands only (not run here)"; continue; }
  if grep -q '\$ADMIN' "$WORK/$n.sh" && [ -z "$auth" ]; then
    ADMIN="$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")"
    export ADMIN
    GRADWATCH_ADMIN_TOKEN="$ADMIN" start_server
    auth=1
  fi
  : >"$FAILS"
  if ! bash "$script" >"$WORK/$n.out" 2>&1 || [ -s "$FAILS" ]; then
    echo "readme-check: the example in \"$title\" failed:" >&2
    cat "$FAILS" >&2
    tail -c 4000 "$WORK/$n.out" >&2; echo >&2
    exit 1
  fi
  echo "readme-check: ok  \"$title\": $ran line(s) run"
done

# What the demo leaves, as the README describes it.
[ -n "$auth" ] && export GRADWATCH_TOKEN="$ADMIN"
node --input-type=module -e "
const url = process.env.GRADWATCH_URL;
const headers = process.env.GRADWATCH_TOKEN ? { authorization: 'Bearer ' + process.env.GRADWATCH_TOKEN } : {};
const get = async (p) => { const r = await fetch(url + p, { headers }); if (!r.ok) throw new Error(p + ': ' + r.status); return r.json(); };
const runs = Object.fromEntries((await get('/api/v1/runs?project=demo')).runs.map((r) => [r.id, r.status]));
const want = { 'demo-healthy-adam-relu': 'completed', 'demo-fault-lr-nan': 'stopped', 'demo-fault-deep-sigmoid': 'completed' };
for (const [id, status] of Object.entries(want)) if (runs[id] !== status) throw new Error(id + ' is ' + runs[id] + ', expected ' + status);
for (const of of ['param', 'grad', 'update', 'act']) {
  const h = (await get('/api/v1/runs/demo-healthy-adam-relu/histograms?layer=fc0&of=' + of + '&limit=1')).histograms;
  if (h.length !== 1) throw new Error('no ' + of + ' histogram for the demo run: the Layers page would be empty');
}
console.log('readme-check: ok  the demo runs: fault-lr-nan stopped by gradwatch, histograms for the Layers page');
"
