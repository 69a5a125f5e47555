#!/usr/bin/env bash
# Sets everything up (virtualenv, PostGIS, database) and runs the server in the foreground
# with a demo fleet driving Porto's streets (TRACKER_DEMO_COURIERS=0 for none).
# Extra arguments go to `tracker serve` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

setup_python
if declare -F setup_web >/dev/null; then setup_web; fi  # the pages' npm packages
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tracker}
setup_database "$DATABASE_URL"
setup_basemap  # the demo's vector tiles, built on first run (cached)
setup_pgrouting "$DATABASE_URL" && setup_roads  # routing (issue 19): pgRouting, the demo's roads

if [ -z "${TRACKER_ADMIN_TOKEN:-}" ]; then
    mkdir -p "$LOCAL_DIR"
    if [ ! -s "$LOCAL_DIR/admin_token" ]; then
        (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$LOCAL_DIR/admin_token")
        say "generated an admin token in .local/admin_token"
    fi
    TRACKER_ADMIN_TOKEN=$(cat "$LOCAL_DIR/admin_token")
    export TRACKER_ADMIN_TOKEN
fi

host=${TRACKER_HOST:-127.0.0.1}
port=${TRACKER_PORT:-8000}
couriers=${TRACKER_DEMO_COURIERS:-12}
url="http://$host:$port"

"$VENV/bin/tracker" serve --host "$host" --port "$port" "$@" &
server_pid=$!
sim_pid=""
trap 'kill $sim_pid 2>/dev/null; kill -TERM $server_pid 2>/dev/null; wait $server_pid' INT TERM
"$VENV/bin/python" - "$url" <<'PY' || { kill $server_pid; die "the server did not start (see above)"; }
import sys, time, urllib.request
for _ in range(300):
    try:
        if urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2).status == 200:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
cat <<MSG
[setup] ready.
  server:      $url   (health: /livez, /readyz; metrics: /metrics with the admin token as bearer)
  database:    $DATABASE_URL
  admin token: $TRACKER_ADMIN_TOKEN
  customer portal: $url/track
MSG
if [ "$couriers" -gt 0 ]; then
    "$VENV/bin/tracker" simulate --url "$url" --couriers "$couriers" &
    sim_pid=$!
fi
wait $server_pid
