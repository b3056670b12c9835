#!/usr/bin/env bash
# The project's one setup-and-run script, for Debian 12 (see README.md).
#   ./dev.sh demo               set up, migrate, seed demo data, serve http://127.0.0.1:5000
#   ./dev.sh test [PYTEST...]   set up, lint, run pytest on SQLite and then on PostgreSQL
#   ./dev.sh lock [UV ARGS...]  rewrite requirements.lock from pyproject.toml (--upgrade, or
#                               --upgrade-package NAME, to move pins; otherwise they stay)
# Safe to run again: it installs and recreates only what is missing or out of date.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

BASE_PACKAGES=(python3 python3-venv python3-dev libpango-1.0-0 libpangoft2-1.0-0
               libharfbuzz-subset0 fonts-morisawa-bizud-gothic fonts-noto-cjk tzdata)
TEST_PACKAGES=(chromium poppler-utils)
VENV=.venv
LOCK=requirements.lock                 # every Python package, pinned, with hashes
STAMP=$VENV/.installed.sha256          # hash of the lock (and pyproject.toml) last installed
UV_VERSION=0.13.9                      # the lock's resolver, only for ./dev.sh lock
NPM_STAMP=node_modules/.installed.sha256   # hash of the package-lock.json last installed
PG_PORT=54329                          # throwaway PostgreSQL, when none is reachable
REDIS_PORT=6390                        # throwaway Redis, when none is reachable
APT_UPDATED='' PG_DIR='' PG_BIN='' REDIS_DIR=''

say() { printf '» %s\n' "$*"; }
die() { printf '✗ %s\n' "$*" >&2; exit 1; }

as_root() {
  if ((EUID == 0)); then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "root or sudo is needed for: $*"; fi
}

# PostgreSQL refuses to run as root: run its tools as the postgres OS user then.
as_postgres() {
  if ((EUID == 0)); then (cd "$PG_DIR" && runuser -u postgres -- "$@"); else "$@"; fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  say "installing apt packages: ${missing[*]}"
  [[ -n $APT_UPDATED ]] || { as_root apt-get update -q; APT_UPDATED=1; }
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The virtualenv holds exactly the lock: when it changes, the virtualenv is made afresh, so
# nothing installed by hand or left from an older lock stays. pip checks every file's hash.
# The project itself goes in without its dependencies (they all came from the lock) and
# without build isolation (its build backend, setuptools, is in the lock too).
ensure_venv() {
  local hash
  hash=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$STAMP" 2>/dev/null) == "$hash" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
    return 0
  fi
  say "creating virtualenv in $VENV from $LOCK (new or changed)"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$LOCK"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$hash" >"$STAMP"
}

# The page checkers the tests run (package.json): the Nu HTML Checker, a Java program, and
# axe-core, injected into Chromium. Install scripts are skipped: vnu-jar's would download a
# Java of its own, and Debian's is used instead.
ensure_page_checkers() {
  command -v java >/dev/null || ensure_packages openjdk-17-jre-headless
  command -v npm >/dev/null || ensure_packages nodejs npm
  local hash
  hash=$(sha256sum package-lock.json | cut -d' ' -f1)
  [[ $(cat "$NPM_STAMP" 2>/dev/null) == "$hash" ]] && return 0
  say "installing the page checkers from package-lock.json (new or changed)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$hash" >"$NPM_STAMP"
}

postgres_reachable() {
  "$VENV/bin/python" -c 'import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()' "${1/+psycopg/}" 2>/dev/null
}

redis_reachable() {
  "$VENV/bin/python" -c 'import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()' "$1" 2>/dev/null
}

ensure_postgres() {
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
  postgres_reachable "$TEST_DATABASE_URL" && return 0
  say "PostgreSQL not reachable at $TEST_DATABASE_URL: starting a throwaway one on port $PG_PORT"
  ensure_packages postgresql
  PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  PG_DIR=$(mktemp -d /tmp/panel-postgres.XXXXXX)
  ((EUID != 0)) || chown postgres: "$PG_DIR"
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" --auth=trust -U postgres -E UTF8 \
    --locale=C.UTF-8 >"$PG_DIR/initdb.log" || die "initdb failed: see $PG_DIR/initdb.log"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null ||
    { tail -n 20 "$PG_DIR/server.log" >&2; die "could not start PostgreSQL"; }
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres test
  TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/test
}

ensure_redis() {
  export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
  redis_reachable "$TEST_REDIS_URL" && return 0
  say "Redis not reachable at $TEST_REDIS_URL: starting a throwaway one on port $REDIS_PORT"
  ensure_packages redis-server
  REDIS_DIR=$(mktemp -d /tmp/panel-redis.XXXXXX)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" \
    --logfile "$REDIS_DIR/redis.log"
  TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/15
  for _ in {1..50}; do redis_reachable "$TEST_REDIS_URL" && return 0; sleep 0.1; done
  die "could not start Redis: see $REDIS_DIR/redis.log"
}

cleanup() {
  if [[ -n $PG_DIR ]]; then
    say "stopping the throwaway PostgreSQL"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
  if [[ -n $REDIS_DIR ]]; then
    say "stopping the throwaway Redis"
    local pid
    pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null) && kill "$pid" 2>/dev/null &&
      for _ in {1..50}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -rf "$REDIS_DIR"
  fi
}

run_pytest() {  # LABEL KIND URL [PYTEST ARGS...]
  local label=$1 kind=$2 url=$3 rc=0
  shift 3
  printf '\n== tests on %s ==\n' "$label"
  PANEL_TEST_DATABASE=$kind TEST_DATABASE_URL=$url "$VENV/bin/python" -m pytest "$@" || rc=$?
  ((rc == 5)) && echo "✗ pytest collected no tests" >&2
  ((rc == 0)) || { echo "✗ tests on $label failed (pytest exit $rc)" >&2; exit "$rc"; }
}

cmd_demo() {
  ensure_packages "${BASE_PACKAGES[@]}"
  ensure_venv
  say "migrating the database (${DATABASE_URL:-SQLite in instance/})"
  "$VENV/bin/flask" --app wsgi db upgrade
  say "adding demo data"
  "$VENV/bin/flask" --app wsgi demo seed
  say "starting the panel on http://127.0.0.1:5000 (Ctrl-C stops it)"
  exec "$VENV/bin/flask" --app wsgi run --host 127.0.0.1 --port 5000
}

cmd_lock() {
  ensure_packages python3 python3-venv
  local tools
  tools=$(mktemp -d /tmp/panel-lock.XXXXXX)
  # shellcheck disable=SC2064  # the directory is known now
  trap "rm -rf '$tools'" EXIT
  say "installing uv $UV_VERSION in a throwaway virtualenv"
  /usr/bin/python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
  say "resolving pyproject.toml (with the test extra and its build backend) into $LOCK"
  # Universal: one lock for every platform and Python >= 3.11, pinned to exact versions with
  # the hashes of all their files. Pins already in the lock stay unless an argument moves them.
  "$tools/bin/python" -c 'import tomllib, sys
print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' |
    "$tools/bin/uv" pip compile pyproject.toml - --extra test --universal \
      --python-version 3.11 --generate-hashes --custom-compile-command './dev.sh lock' \
      --quiet --output-file "$LOCK" "$@"
  say "$LOCK written: review the diff, then run ./dev.sh test"
}

cmd_test() {
  ensure_packages "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  ensure_venv
  ensure_page_checkers
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  ensure_postgres
  ensure_redis
  say "linting with ruff (check and format)"
  local paths=(panel tests migrations/env.py wsgi.py)
  [[ -d bench ]] && paths+=(bench)
  "$VENV/bin/ruff" check "${paths[@]}"
  "$VENV/bin/ruff" format --check "${paths[@]}"
  "$VENV/bin/lint-imports" --no-logo  # the layer contract in pyproject.toml
  "$VENV/bin/mypy"  # panel/, as configured in pyproject.toml
  run_pytest SQLite sqlite "" "$@"
  run_pytest PostgreSQL postgresql "$TEST_DATABASE_URL" "$@"
}

case ${1:-} in
  demo) (($# == 1)) || die "usage: ./dev.sh demo"; cmd_demo ;;
  test) shift; cmd_test "$@" ;;
  lock) shift; cmd_lock "$@" ;;
  *) die "usage: ./dev.sh demo | ./dev.sh test [pytest args...] | ./dev.sh lock [uv args...]" ;;
esac
