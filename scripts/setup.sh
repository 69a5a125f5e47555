#!/usr/bin/env bash
# Shared set-up for scripts/run.sh and scripts/test.sh: a virtualenv with the locked
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
    local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
    want=$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/dev.txt" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        # Every dependency, transitive ones and the build backend included, at the version and
        # with the hashes of the lock (scripts/lock.sh writes it); then the project itself.
        say "installing the locked dependencies (requirements/dev.txt) into .venv"
        "${pip[@]}" --require-hashes -r "$ROOT/requirements/dev.txt" \
            || die "pip install failed (see above); check network access to PyPI"
        "${pip[@]}" --no-deps --no-build-isolation -e "$ROOT" \
            || die "installing the project (pip install -e .) failed (see above)"
        echo "$want" > "$stamp"
    fi
}

# The pages' JS dependencies (Leaflet and its clustering plugin, pinned in
# web/package-lock.json) into web/node_modules, when missing or when the lock changed.
# $1: "required" (the page tests need the map) or "optional", the default (the server runs
# without it, its pages then show no map).
setup_web() {
    local need=${1:-optional} web="$ROOT/web" stamp="$ROOT/web/node_modules/.installed" want
    want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
    if ! command -v npm >/dev/null; then
        say "npm not found; installing Node.js and npm (apt: nodejs npm)"
        if ! apt_install nodejs npm || ! command -v npm >/dev/null; then
            local what="npm is needed to install the pages' map library (web/package-lock.json).
  Install Node.js with npm (apt-get install nodejs npm), then rerun; or run
  \`npm ci\` in web/ on any machine with npm and copy web/node_modules here."
            [ "$need" = required ] && die "$what"
            say "WARNING: $what
  Until then the pages work without their map."
            return 0
        fi
    fi
    say "installing the pages' pinned JS dependencies (npm ci in web/)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
        || die "npm ci failed in web/ (see above); check network access to the npm registry"
    echo "$want" > "$stamp"
}

# Debian's Chromium for the page tests (Playwright drives it with executable_path;
# browser downloads are not possible). Without it the page tests skip, except in CI.
setup_chromium() {
    [ -x "${TRACKER_CHROMIUM:-/usr/bin/chromium}" ] && return 0
    say "installing Chromium for the page tests (apt: chromium)"
    apt_install chromium && return 0
    local what="could not install chromium (needs root or sudo and apt).
  Install it yourself (apt-get install chromium), or set TRACKER_CHROMIUM to a Chromium binary."
    [ "${CI:-}" = true ] && die "$what"
    say "WARNING: $what
  Until then the page tests (tests/web) are skipped."
}

# Debian's tilemaker (2.x) for the self-hosted basemap (`tracker tiles build`; issue 19).
# $1 = required (the tests build tiles; in CI a missing tilemaker fails them) or optional.
setup_tilemaker() {
    command -v tilemaker >/dev/null && return 0
    say "installing tilemaker for the basemap's vector tiles (apt: tilemaker)"
    apt_install tilemaker && command -v tilemaker >/dev/null && return 0
    local what="could not install tilemaker (needs root or sudo and apt).
  Install it yourself (apt-get install tilemaker, or build it from its sources), then
  rerun. Until then there are no self-hosted tiles: the pages use TRACKER_TILE_URL, by
  default OpenStreetMap's tile server, and the basemap tests skip."
    [ "${1:-optional}" = required ] && [ "${CI:-}" = true ] && die "$what"
    say "WARNING: $what"
    return 1
}

# The demo's basemap: built once from the Porto extract beside the checkout (or the one
# TRACKER_DEMO_OSM_PBF names), else from the demo fleet's own streets (server/sim/data),
# into TRACKER_TILES_FILE; kept until its source changes (a stamp of the source's hash).
setup_basemap() {
    local pbf=${TRACKER_DEMO_OSM_PBF:-$ROOT/../shared/data/osm/porto_center.osm.pbf}
    local out=${TRACKER_TILES_FILE:-$LOCAL_DIR/tiles/basemap.mbtiles} want from
    setup_tilemaker optional || return 0
    if [ -f "$pbf" ]; then
        from=("$pbf")
        want=$(sha256sum "$pbf" | cut -d' ' -f1)
    else
        say "no OpenStreetMap extract at $pbf (set TRACKER_DEMO_OSM_PBF to one): the basemap shows the demo fleet's streets only"
        from=(--demo-routes)
        want="demo-routes $(sha256sum "$ROOT/server/sim/data/porto_runs.json" | cut -d' ' -f1)"
    fi
    [ -f "$out" ] && [ "$(cat "$out.source" 2>/dev/null)" = "$want" ] && return 0
    say "building the basemap's tiles (tracker tiles build ${from[*]})"
    "$VENV/bin/tracker" tiles build "${from[@]}" --out "$out" >/dev/null || die "tiles build failed (see above)"
    echo "$want" > "$out.source"
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

# Routing (issue 19): pgRouting for a local PostgreSQL (postgresql-<major>-pgrouting, as
# PostGIS) and osmium-tool to read OSM extracts. Neither is needed to run: without them
# orders keep provisional legs, and `tracker osm import` says what is missing.
setup_pgrouting() {
    local url=$1 facts major available
    command -v osmium >/dev/null || apt_install osmium-tool \
        || say "osmium-tool not installed (needs root or sudo and apt): \`tracker osm import\` cannot read extracts"
    facts=$("$VENV/bin/python" - "$url" <<'PY'
import asyncio, sys
import asyncpg
async def main() -> None:
    conn = await asyncpg.connect(sys.argv[1])
    try:
        major = await conn.fetchval("SELECT current_setting('server_version_num')::int / 10000")
        found = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgrouting'")
        print(major, found)
    finally:
        await conn.close()
asyncio.run(main())
PY
) || return 0
    read -r major available <<<"$facts"
    [ "$available" = 0 ] || return 0
    if is_local_url "$url" && apt_install "postgresql-$major-pgrouting"; then
        say "installed pgRouting for PostgreSQL $major (apt: postgresql-$major-pgrouting)"
    else
        say "no pgRouting at DATABASE_URL (install postgresql-$major-pgrouting there): orders get provisional legs"
    fi
}

# The demo's road network: TRACKER_DEMO_OSM_PBF (default: the shared Porto extract) imported
# when the database has none yet (a few seconds; `tracker osm import` replaces it later).
setup_roads() {
    local pbf=${TRACKER_DEMO_OSM_PBF:-$ROOT/../shared/data/osm/porto_center.osm.pbf}
    "$VENV/bin/python" -c 'import asyncio, asyncpg, os, sys
async def main() -> None:
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        sys.exit(0 if await conn.fetchval("SELECT count(*) FROM road_networks") else 1)
    finally:
        await conn.close()
asyncio.run(main())' && return 0
    [ -f "$pbf" ] || { say "no road network and no extract at $pbf (set TRACKER_DEMO_OSM_PBF): provisional legs"; return 0; }
    say "importing the demo road network from $pbf"
    "$VENV/bin/tracker" osm import "$pbf" >/dev/null || say "road network not imported (see above): provisional legs"
}
