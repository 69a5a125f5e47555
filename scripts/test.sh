#!/usr/bin/env bash
# Sets everything up (virtualenv, PostGIS, test database, the pages' JS dependencies,
# Chromium for the page tests) and runs the whole test suite:
# lint, type checks, then pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

setup_python
setup_web required
setup_chromium
setup_tilemaker required || true  # the basemap tests build tiles with it
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tracker_test}
setup_database "$TEST_DATABASE_URL"
setup_pgrouting "$TEST_DATABASE_URL"  # routing tests (issue 19) import the Porto extract

say "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
say "mypy"
"$VENV/bin/mypy"
say "pytest (database: $TEST_DATABASE_URL)"
"$VENV/bin/pytest" "$@"
