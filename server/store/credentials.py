"""SQL for credentials: API keys (created, listed, revoked) and the revocation channel.

A revocation (a revoked key, a driver's new token) is committed together with a
`NOTIFY` on `REVOCATIONS`, whoever makes it (REST or `tracker keys revoke`): every server
process listens there and closes the sockets that credential opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.store import Conn, queries

REVOCATIONS = "tracker_revocations"  # payloads: "key:<id>", "driver:<id>"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as operators see it: never the key or its hash."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


_KEY_COLUMNS = "id, name, role, created_at, revoked_at"


async def create_api_key(conn: Conn, name: str, role: str, key_hash: str) -> int:
    key_id = await conn.fetchval(
        "INSERT INTO api_keys (name, role, key_hash) VALUES ($1, $2, $3) RETURNING id",
        name,
        role,
        key_hash,
    )
    return int(key_id)


async def api_key_by_hash(conn: Conn, key_hash: str) -> tuple[int, str, str] | None:
    """(id, name, role) of the unrevoked key with that hash."""
    row = await conn.fetchrow(
        "SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )
    return None if row is None else (row["id"], row["name"], row["role"])


async def list_api_keys(conn: Conn) -> list[ApiKey]:
    rows = await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id")
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_api_key(conn: Conn, key_id: int) -> ApiKey | None:
    """Revoke the key (at once, for every process: see the module docs); revoking it again
    changes nothing. None when there is no such key."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
                WHERE id = $1 RETURNING {_KEY_COLUMNS}""",
            key_id,
        )
        if row is not None:
            await notify_revoked(conn, "key", key_id)
    return None if row is None else ApiKey(**dict(row))


async def notify_revoked(conn: Conn, kind: str, ident: int) -> None:
    """Tell every listening process (once the surrounding transaction commits) that
    credential `kind:ident` changed."""
    await conn.execute("SELECT pg_notify($1, $2)", REVOCATIONS, f"{kind}:{ident}")


async def live_key_ids(conn: Conn, key_ids: Sequence[int]) -> set[int]:
    """Those of `key_ids` that are not revoked (and exist)."""
    rows = await conn.fetch(
        "SELECT id FROM api_keys WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL",
        list(key_ids),
    )
    return {r["id"] for r in rows}


async def token_hashes(conn: Conn, driver_ids: Sequence[int]) -> dict[int, str]:
    """The current token hash of each of `driver_ids` that exists."""
    rows = await conn.fetch(
        "SELECT id, token_hash FROM drivers WHERE id = ANY($1::bigint[])", list(driver_ids)
    )
    return {r["id"]: r["token_hash"] for r in rows}


async def rotate_driver_token(conn: Conn, driver_id: int, token_hash: str) -> queries.Driver | None:
    """Give the driver a new token hash; its old token's sockets close everywhere."""
    async with conn.transaction():
        driver = await queries.set_token_hash(conn, driver_id, token_hash)
        if driver is not None:
            await notify_revoked(conn, "driver", driver_id)
    return driver
