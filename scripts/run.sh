#!/usr/bin/env bash
# Sets everything up (virtualenv, PostGIS, database) and runs the server in the foreground.
# Extra arguments go to `tracker serve` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

setup_python
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tracker}
setup_database "$DATABASE_URL"

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
cat <<MSG
[setup] ready.
  server:      http://$host:$port   (health: /healthz, metrics: /metrics)
  database:    $DATABASE_URL
  admin token: $TRACKER_ADMIN_TOKEN
  add a driver: curl -s -X POST http://$host:$port/api/drivers \\
                  -H "Authorization: Bearer \$TRACKER_ADMIN_TOKEN" -d '{"name":"Ana"}'
MSG
exec "$VENV/bin/tracker" serve --host "$host" --port "$port" "$@"
