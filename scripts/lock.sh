#!/usr/bin/env bash
# Regenerates the hash-locked requirements from pyproject.toml, after any change to its
# dependencies: requirements/runtime.txt (the server; the Docker image) and
# requirements/dev.txt (the server and every extra but `data`; scripts/setup.sh). Pins already
# in the lock files are kept; `scripts/lock.sh --upgrade` moves every one to the newest allowed.
# tests/test_packaging.py fails while the locks disagree with pyproject.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UV_VERSION=0.13.9  # the lock tool, pinned: its output format is part of the files
TOOLS=.local/lock-tools
if [ "$("$TOOLS/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    "${PYTHON:-python3}" -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q "uv==$UV_VERSION"
fi
# The extras for development: all of them but `data` (one script's, see pyproject.toml).
extras=$("${PYTHON:-python3}" -c 'import tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
print(" ".join(f"--extra {e}" for e in extras if e != "data"))')
lock() {  # output file, then uv's own options
    local out=$1; shift
    "$TOOLS/bin/uv" pip compile pyproject.toml --quiet --generate-hashes --universal \
        --python-version 3.11 --custom-compile-command scripts/lock.sh -o "$out" "$@"
}
lock requirements/runtime.txt "$@"
# shellcheck disable=SC2086  # one word per option
lock requirements/dev.txt $extras "$@"
