"""Database preparation: create the database, check PostGIS, run alembic migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class DatabaseUnreachable(RuntimeError):
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
        conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
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


def upgrade(url: str) -> None:
    """Run migrations to head (idempotent). Call outside a running event loop."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    sa_url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    config.set_main_option("sqlalchemy.url", sa_url.replace("%", "%%"))
    command.upgrade(config, "head")


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
