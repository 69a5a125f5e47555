"""SQL for messages from dispatch to couriers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.store import Conn


@dataclass(frozen=True, slots=True)
class DriverMessage:
    id: int
    driver_id: int
    text: str
    sent_by: str
    at: datetime
    delivered_at: datetime | None


_COLUMNS = "id, driver_id, text, sent_by, at, delivered_at"


async def add_message(
    conn: Conn, driver_id: int, text: str, sent_by: str, now: datetime
) -> DriverMessage | None:
    """Store a message for the driver; None when there is no such driver."""
    row = await conn.fetchrow(
        f"""INSERT INTO driver_messages (driver_id, text, sent_by, at)
            SELECT id, $2, $3, $4 FROM drivers WHERE id = $1
            RETURNING {_COLUMNS}""",
        driver_id,
        text,
        sent_by,
        now,
    )
    return None if row is None else DriverMessage(**dict(row))


async def recent_messages(
    conn: Conn, driver_id: int, since: timedelta, limit: int, now: datetime
) -> list[DriverMessage]:
    """The driver's newest `limit` messages of the last `since`, oldest first."""
    rows = await conn.fetch(
        f"""SELECT * FROM (
                SELECT {_COLUMNS} FROM driver_messages
                WHERE driver_id = $1 AND at > $2 ORDER BY at DESC, id DESC LIMIT $3
            ) newest ORDER BY at, id""",
        driver_id,
        now - since,
        limit,
    )
    return [DriverMessage(**dict(r)) for r in rows]


async def mark_delivered(conn: Conn, message_ids: Sequence[int], now: datetime) -> None:
    """The first time these messages were written to a courier socket."""
    await conn.execute(
        "UPDATE driver_messages SET delivered_at = $2 WHERE id = ANY($1) AND delivered_at IS NULL",
        list(message_ids),
        now,
    )
