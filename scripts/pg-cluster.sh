#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests:
#
#   scripts/pg-cluster.sh start   # creates and starts it, prints its URL
#   scripts/pg-cluster.sh url     # prints the URL of the running one
#   scripts/pg-cluster.sh stop    # stops it and removes its files
#
# The cluster lives in a temporary folder of its own (one per checkout, or GRADWATCH_PG_CLUSTER_DIR),
# owned by an unprivileged user: the `postgres` system user when run as root (PostgreSQL refuses
# to run as root), the current user otherwise. It listens on 127.0.0.1 only, on a free port, with
# trust authentication and its unix socket inside that folder; the URL is
# postgres://postgres@127.0.0.1:PORT/postgres. `start` first removes what an aborted run left.
# Without initdb, Debian's `postgresql` package is installed (as root; otherwise it says how).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

me="pg-cluster"
die() { echo "$me: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" = "0" ]; }

# One folder per checkout: two checkouts' test runs don't stop each other's cluster. As root the
# postgres user must reach it, so it is under /tmp rather than root's TMPDIR.
if is_root; then base=/tmp; else base="${TMPDIR:-/tmp}"; fi
DIR="${GRADWATCH_PG_CLUSTER_DIR:-${base%/}/gradwatch-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DATA="$DIR/data"
LOG="$DIR/postgres.log"

# initdb and pg_ctl: from PATH, else the newest of Debian's /usr/lib/postgresql/*/bin.
find_bin() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    # Through symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/N/bin): pg_isready is there.
    d="$(dirname "$(readlink -f "$(command -v initdb)")")"
    if [ -x "$d/pg_ctl" ]; then echo "$d"; else dirname "$(readlink -f "$(command -v pg_ctl)")"; fi
    return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

install_postgresql() {
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    die "PostgreSQL's initdb and pg_ctl were not found (PATH, /usr/lib/postgresql/*/bin). The tests need a PostgreSQL server: install it (Debian/Ubuntu: sudo apt-get install postgresql) and run again."
  fi
  echo "$me: installing Debian's postgresql for the tests..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq postgresql-common >/dev/null || die "apt-get install postgresql-common failed"
  # No "main" cluster on port 5432 started by the package: the tests make their own.
  local conf=/etc/postgresql-common/createcluster.conf
  if [ -f "$conf" ]; then sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' "$conf"; fi
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
}

# Runs a command as the cluster's owner; from /, since the caller's folder (under /root, say) may
# be closed to that user.
as_owner() {
  if ! is_root; then "$@"; return; fi
  if command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
  fi
}

ensure_owner() {
  is_root || return 0
  getent passwd postgres >/dev/null 2>&1 && return 0
  command -v useradd >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to own the cluster (and no useradd to create one)"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres \
    || die "could not create the 'postgres' system user"
}

# The postmaster of $DATA, if one is running: stopped (immediately: the data goes anyway).
stop_cluster() {
  [ -d "$DIR" ] || return 0
  local bin pid
  if [ -f "$DATA/postmaster.pid" ]; then
    bin="$(find_bin || true)"
    if [ -n "$bin" ]; then as_owner "$bin/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true; fi
    pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)"
    # pg_ctl could not stop it (no binaries, a broken data folder): the pid file names it.
    if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && grep -qE '^(postgres|postmaster)$' "/proc/$pid/comm"; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  # Only a folder this script made: GRADWATCH_PG_CLUSTER_DIR could name anything.
  if [ -e "$DIR/.gradwatch-pg-cluster" ] || [ -z "$(ls -A "$DIR" 2>/dev/null)" ]; then
    rm -rf "$DIR" || die "could not remove $DIR (left by another user?)"
  else
    die "$DIR exists and is not a cluster folder of this script: remove it or set GRADWATCH_PG_CLUSTER_DIR"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  die "found no free port on 127.0.0.1"
}

start_cluster() {
  local bin port url
  bin="$(find_bin || true)"
  if [ -z "$bin" ]; then
    install_postgresql
    bin="$(find_bin)" || die "postgresql was installed, but initdb is still not in /usr/lib/postgresql/*/bin"
  fi
  ensure_owner
  stop_cluster

  mkdir -p "$DATA"
  : >"$DIR/.gradwatch-pg-cluster"
  chmod 700 "$DIR" "$DATA"
  if is_root; then chown -R postgres: "$DIR"; fi
  # -U postgres: the superuser is `postgres` whoever owns the files, so the URL is the same.
  if ! as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    die "initdb failed (see above)"
  fi
  # Only this machine's TCP loopback and the socket in $DIR, without passwords.
  cat >"$DATA/pg_hba.conf" <<'EOF'
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  # fsync off: the cluster is thrown away after the run and never outlives a machine crash.
  cat >>"$DATA/postgresql.conf" <<EOF

# scripts/pg-cluster.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
max_connections = 300
fsync = off
full_page_writes = off
EOF
  if is_root; then chown postgres: "$DATA/pg_hba.conf" "$DATA/postgresql.conf"; fi

  # The port is free when chosen, but another process may take it first: try again with another.
  for _ in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
      url="postgres://postgres@127.0.0.1:$port/postgres"
      echo "$url" >"$DIR/url"
      echo "$url"
      return 0
    fi
    grep -qiE 'could not (bind|create listen)|address already in use' "$LOG" 2>/dev/null || break
  done
  tail -20 "$LOG" >&2 2>/dev/null || true
  die "PostgreSQL did not start (its log is above)"
}

print_url() {
  local bin port
  bin="$(find_bin || true)"
  if [ -f "$DIR/url" ] && [ -n "$bin" ]; then
    port="$(sed -E 's|.*:([0-9]+)/.*|\1|' "$DIR/url")"
    # Answering, not just a pid file: a killed postmaster can linger as a zombie.
    if { [ -x "$bin/pg_isready" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 5; } \
      || { [ ! -x "$bin/pg_isready" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }; then
      cat "$DIR/url"
      return 0
    fi
  fi
  die "no test cluster is running (scripts/pg-cluster.sh start)"
}

case "${1:-}" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  url) print_url ;;
  *) echo "usage: scripts/pg-cluster.sh start|stop|url" >&2; exit 2 ;;
esac
