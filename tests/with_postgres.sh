#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster:
#   tests/with_postgres.sh .venv/bin/pytest
# The cluster lives in a temporary directory, listens only on 127.0.0.1 and is removed on
# exit, even when the command fails. PostgreSQL is installed with apt when it is missing.
set -euo pipefail

PORT="${PG_TEST_PORT:-54329}"

find_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ]; then echo "$dir"; fi
    done | sort -V | tail -n 1
}

BINDIR="$(find_bindir)"
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "PostgreSQL not found: installing it with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        BINDIR="$(find_bindir)"
    fi
fi
if [ -z "$BINDIR" ]; then
    echo "PostgreSQL server binaries not found and cannot be installed here." >&2
    if [ -n "${REQUIRE_POSTGRES:-}" ]; then exit 3; fi
    echo "SKIPPED the PostgreSQL run (set REQUIRE_POSTGRES=1 to make this an error)." >&2
    exit 0
fi

AS_PG=()
if [ "$(id -u)" = 0 ]; then
    AS_PG=(runuser -u postgres --)
fi

DATA="$(mktemp -d /tmp/eventplanner-pg.XXXXXX)"
cleanup() {
    "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA"; fi
"${AS_PG[@]}" "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
"${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$DATA" -w -l "$DATA/server.log" start \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" \
    >/dev/null
"$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres app

export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/app"
"$@"
