#!/usr/bin/env bash
# Shared set-up for scripts/run.sh and scripts/test.sh: a virtualenv with the pinned
# dependencies, PostGIS for the local PostgreSQL, a migrated database. Sourced, not run.
# Every step is idempotent and says what to do when it cannot proceed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOCAL_DIR="$ROOT/.local"   # machine-local state (generated admin token); gitignored

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

apt_install() {
    command -v apt-get >/dev/null || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 && return 0
    as_root apt-get update -q >/dev/null 2>&1 || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

setup_python() {
    local py=${PYTHON:-python3}
    command -v "$py" >/dev/null || die "python3 not found: install Python 3.11+ (apt-get install python3 python3-venv)"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11+ is required, $("$py" --version) found: set PYTHON=/path/to/python3.11"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtualenv in .venv"
        "$py" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && "$py" -m venv "$VENV"; } \
            || die "cannot create a virtualenv: apt-get install python3-venv, then rerun"
    fi
    local stamp="$VENV/.installed" want
    want=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing pinned dependencies into .venv"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]" \
            || die "pip install failed (see above); check network access to PyPI"
        echo "$want" > "$stamp"
    fi
}

# Bring the database at $1 to a migrated state, installing PostGIS when it is missing
# from a local server. `tracker db prepare` exits 3 when the server is unreachable and
# 4 (printing the server's major version) when PostGIS is not available.
setup_database() {
    local url=$1 out rc major
    for attempt in 1 2 3; do
        rc=0; out=$(DATABASE_URL="$url" "$VENV/bin/tracker" db prepare 2>&1) || rc=$?
        case $rc in
        0) break ;;
        3)
            if is_local_url "$url" && command -v pg_ctlcluster >/dev/null && [ "$attempt" = 1 ]; then
                say "PostgreSQL is not answering; starting the local cluster"
                for v in $(ls /etc/postgresql 2>/dev/null); do
                    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
                done
                continue
            fi
            die "$out
  Start PostgreSQL locally (apt-get install postgresql), or set DATABASE_URL to any
  PostgreSQL with PostGIS, e.g. DATABASE_URL=postgresql://user:pass@host:5432/tracker" ;;
        4)
            major=$(printf '%s\n' "$out" | tail -n1)
            if is_local_url "$url" && [ "$attempt" = 1 ]; then
                say "installing PostGIS for PostgreSQL $major (apt: postgresql-$major-postgis-3)"
                apt_install "postgresql-$major-postgis-3" && continue
                die "could not install postgresql-$major-postgis-3 (needs root or sudo and apt).
  Install it yourself, or set DATABASE_URL to a PostgreSQL that has PostGIS."
            fi
            die "$out
  The server at DATABASE_URL has no PostGIS: install it there (postgresql-$major-postgis-3),
  or point DATABASE_URL at a PostgreSQL that has it." ;;
        *) die "$out" ;;
        esac
    done
    DATABASE_URL="$url" "$VENV/bin/tracker" migrate >/dev/null || die "migrations failed (see above)"
}

is_local_url() {
    case "$1" in
    *@127.0.0.1*|*@localhost*|*@\[::1\]*|*//127.0.0.1*|*//localhost*|*host=/*) return 0 ;;
    *) return 1 ;;
    esac
}
