"""Database preparation: create the database, check PostGIS, run alembic migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


CONNECT_TIMEOUT_S = 5.0
# A database that is starting answers these; anything else (a refused login, no such
# database) will not change by waiting.
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


class DatabaseUnreachable(RuntimeError):
    pass


class MigrationFailed(RuntimeError):
    pass


class PostgisMissing(RuntimeError):
    def __init__(self, server_major: int) -> None:
        super().__init__(
            f"PostGIS is not available on this PostgreSQL {server_major} server "
            f"(Debian/Ubuntu package: postgresql-{server_major}-postgis-3)"
        )
        self.server_major = server_major


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def prepare(url: str) -> bool:
    """Make sure the server is reachable, has PostGIS, and the database exists.

    Returns True when the database was created.
    """
    try:
        conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL at {_redacted(url)}: {exc}"
        ) from exc
    try:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10_000
        has_postgis = await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'postgis'"
        )
        if not has_postgis:
            raise PostgisMissing(major)
        name = database_name(url)
        exists = await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_database WHERE datname = $1", name
        )
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            await conn.execute(f"CREATE DATABASE {quoted}")
        return not exists
    finally:
        await conn.close()


async def reachable(url: str, wait_s: float = 0.0) -> None:
    """Connect once to the database itself, retrying transient failures for up to `wait_s`
    (a database still starting); DatabaseUnreachable says what failed and what to do."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
        except TRANSIENT as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise _unreachable(url, exc, "start PostgreSQL or fix DATABASE_URL") from exc
            await asyncio.sleep(0.5)
        except Exception as exc:
            raise _unreachable(
                url, exc, "fix DATABASE_URL (`tracker db prepare` creates a missing database)"
            ) from exc
        else:
            await conn.close()
            return


def _unreachable(url: str, exc: Exception, advice: str) -> DatabaseUnreachable:
    """One line: where (host:port and database, never the password), why, what to do."""
    parts = urlsplit(url)
    try:
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    except ValueError:  # a port that is no number: asyncpg said so already
        where = parts.hostname or "localhost"
    reason = str(exc) or type(exc).__name__
    if parts.password:
        reason = reason.replace(parts.password, "***")
    return DatabaseUnreachable(
        f"cannot connect to PostgreSQL at {where} "
        f"(database {database_name(url)}): {reason}; {advice}"
    )


def upgrade(url: str) -> None:
    """Run migrations to head (idempotent). Call outside a running event loop."""
    asyncio.run(reachable(url))  # one clear line, not alembic's traceback, when it is not
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    sa_url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    config.set_main_option("sqlalchemy.url", sa_url.replace("%", "%%"))
    try:
        command.upgrade(config, "head")
    except (DBAPIError, CommandError) as exc:  # a role without rights; a newer schema
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        raise MigrationFailed(f"migrating database {database_name(url)} failed: {reason}") from exc


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
