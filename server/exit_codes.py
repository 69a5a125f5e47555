"""The `tracker` command's exit codes, one table for the command, its --help and scripts
(scripts/setup.sh reads DATABASE_UNREACHABLE and NO_POSTGIS from `tracker db prepare`)."""

from __future__ import annotations

import sys
from typing import NoReturn

OK = 0
FAILURE = 1  # anything not named below
USAGE = 2  # argparse's: an unknown command or a bad argument
DATABASE_UNREACHABLE = 3  # PostgreSQL down, wrong host or port, refused login, no database
NO_POSTGIS = 4  # `db prepare`: the server has no PostGIS
CONFIGURATION = 5  # a malformed DATABASE_URL / TRACKER_* variable, or a required one unset
PORT_IN_USE = 6  # `serve`: the address is taken by another process
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it); `serve` drains and exits 0

TABLE = {
    OK: "ok",
    FAILURE: "failure",
    USAGE: "usage error (a bad command line)",
    DATABASE_UNREACHABLE: "database unreachable (or it refused the login, or does not exist)",
    NO_POSTGIS: "PostGIS missing (db prepare)",
    CONFIGURATION: "configuration error",
    PORT_IN_USE: "port in use (serve)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


def fail(code: int, message: str) -> NoReturn:
    """End the command with one line on stderr saying what failed and what to do."""
    print(message, file=sys.stderr)
    raise SystemExit(code)


def epilog() -> str:
    """The table, for `tracker --help`."""
    return "exit codes: " + ", ".join(f"{code} {what}" for code, what in TABLE.items())
