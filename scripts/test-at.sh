#!/usr/bin/env bash
# The tests as if it were another time: the tests, every server and bench process they
# start, and a private PostgreSQL all read one clock moved by libfaketime to start at the
# given UTC time. What fails only near a midnight (UTC's, or a zone's the tests use) shows
# here on demand, not in CI on the one night it runs at that hour. The machine's own
# PostgreSQL keeps the real clock, so the tests cannot use it: `now()` in SQL and the
# server's clock would disagree by hours.
#   scripts/test-at.sh "2026-12-01 23:52" [pytest arguments]
# Needs root or sudo (apt's faketime; PostgreSQL runs as its own user). Not part of CI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

at=${1:?usage: scripts/test-at.sh "YYYY-MM-DD HH:MM" [pytest arguments]}
shift
command -v faketime >/dev/null || apt_install faketime || die "needs faketime (apt: faketime)"
lib=$(dpkg -L libfaketime | grep '/libfaketime\.so\.1$' | head -n1)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
[ -x "$bin/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
setup_python

# One fixed offset for every process: each starts where the others are, not at `at`.
offset_s=$(($(date -u -d "$at" +%s) - $(date -u +%s)))
port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cluster=$(mktemp -d)
as_root chown postgres "$cluster"
postgres() { as_root runuser -u postgres -- env LD_PRELOAD="$lib" FAKETIME="$offset_s" "$@"; }
stop() { postgres "$bin/pg_ctl" -D "$cluster/data" -m fast stop >/dev/null 2>&1 || true; as_root rm -rf "$cluster"; }
trap stop EXIT
postgres "$bin/initdb" -D "$cluster/data" -U postgres --auth=trust -E UTF8 >/dev/null
# -W and pg_isready: pg_ctl's own wait (-w) hung under libfaketime here.
postgres "$bin/pg_ctl" -D "$cluster/data" -o "-p $port -k $cluster" -l "$cluster/log" start -W >/dev/null
until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do sleep 0.2; done

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/tracker_test"
"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres tracker_test
setup_database "$TEST_DATABASE_URL"
setup_pgrouting "$TEST_DATABASE_URL"
say "pytest from $at UTC (offset ${offset_s} s; database: $TEST_DATABASE_URL)"
faketime -f "$offset_s" "$VENV/bin/pytest" "$@"
