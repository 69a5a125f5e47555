"""SQL for idempotency keys: a courier's action stored once per (driver, key), its first
answer kept so that a resend (after a lost answer) is answered alike.

Callers hold `lock` for the key inside the transaction that performs the action and saves
its answer: a concurrent resend waits for the first to commit, then finds its answer.
Kept `KEEP_S` and at most `MAX_PER_DRIVER` per driver (the oldest go first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.store import Conn

KEEP_S = 24 * 3600.0
MAX_PER_DRIVER = 5_000  # a day of actions, a hundred times over


@dataclass(frozen=True, slots=True)
class Stored:
    request_hash: str
    status_code: int
    response: bytes


async def lock(conn: Conn, driver_id: int, key: str) -> None:
    """Serialise actions with this key until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::bigint::text || ':' || $2, 16))",
        driver_id,
        key,
    )


async def find(conn: Conn, driver_id: int, key: str, now: datetime) -> Stored | None:
    """The answer stored under the key, unless it is older than `KEEP_S`."""
    row = await conn.fetchrow(
        """SELECT request_hash, status_code, response FROM idempotency_keys
           WHERE driver_id = $1 AND key = $2 AND created_at >= $3""",
        driver_id,
        key,
        now - timedelta(seconds=KEEP_S),
    )
    return None if row is None else Stored(row[0], row[1], bytes(row[2]))


async def save(conn: Conn, driver_id: int, key: str, stored: Stored, now: datetime) -> None:
    """Store the answer (replacing an expired one) and forget the driver's old keys."""
    await conn.execute(
        """INSERT INTO idempotency_keys
               (driver_id, key, request_hash, status_code, response, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (driver_id, key) DO UPDATE SET request_hash = $3, status_code = $4,
               response = $5, created_at = $6""",
        driver_id,
        key,
        stored.request_hash,
        stored.status_code,
        stored.response,
        now,
    )
    await conn.execute(
        """DELETE FROM idempotency_keys WHERE driver_id = $1 AND (created_at < $2 OR key IN (
               SELECT key FROM idempotency_keys WHERE driver_id = $1
               ORDER BY created_at DESC OFFSET $3))""",
        driver_id,
        now - timedelta(seconds=KEEP_S),
        MAX_PER_DRIVER,
    )
