#!/usr/bin/env bash
# Runs tests against a real PostgreSQL: installs Debian's server if it is missing, starts a
# throwaway cluster in a temporary directory as a non-root user, listening on 127.0.0.1 only (and
# a socket in that directory), creates a database, runs the tests with PRINTFLEET_POSTGRES_URL
# set (a postgresql:// URL), then stops the server and deletes everything. Called by .ci/run;
# usable by hand from the repository root:
#   bash crates/store/tests/postgres.sh [extra cargo test arguments]
#       printfleet-store's suite with --features postgres (the default);
#   bash crates/store/tests/postgres.sh -- COMMAND [ARGS...]
#       any command with the server up, e.g. the portal's end-to-end run:
#       bash crates/store/tests/postgres.sh -- cargo test -p printfleet-cli --features postgres --test portal e2e
set -euo pipefail
cd "$(dirname "$0")/../../.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# The server refuses to run as root: use the package's `postgres` user when we are root.
if [ "$(id -u)" = 0 ]; then
  run_pg() { runuser -u postgres -- "$@"; }
  pg_user=postgres
else
  run_pg() { "$@"; }
  pg_user=$(id -un)
fi

dir=$(mktemp -d /tmp/printfleet-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
cleanup() {
  run_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# A free port on 127.0.0.1.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# Trust authentication is acceptable only because the server listens on the loopback address
# and a private socket directory, and lives as long as this script.
run_pg "$bindir/initdb" -D "$dir/data" -U "$pg_user" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
run_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on" start >/dev/null
run_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$pg_user" printfleet_test

export PRINTFLEET_POSTGRES_URL="postgresql://$pg_user@127.0.0.1:$port/printfleet_test"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database printfleet_test"
if [ "${1:-}" = "--" ]; then
  shift
  [ "$#" -gt 0 ] || { echo "postgres.sh: nothing to run after --" >&2; exit 2; }
  "$@"
else
  cargo test -p printfleet-store --features postgres "$@"
fi
