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
    conn: Conn, driver_ids: Sequence[int], since: timedelta, limit: int, now: datetime
) -> dict[int, list[DriverMessage]]:
    """Each driver's newest `limit` messages of the last `since`, oldest first (drivers
    with none are left out): one query for however many couriers connect at once."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM (
                SELECT {_COLUMNS}, row_number() OVER (
                    PARTITION BY driver_id ORDER BY at DESC, id DESC) AS newest
                FROM driver_messages WHERE driver_id = ANY($1) AND at > $2
            ) recent WHERE newest <= $3 ORDER BY driver_id, at, id""",
        list(driver_ids),
        now - since,
        limit,
    )
    found: dict[int, list[DriverMessage]] = {}
    for row in rows:
        found.setdefault(row["driver_id"], []).append(DriverMessage(**dict(row)))
    return found


async def mark_delivered(conn: Conn, message_ids: Sequence[int], now: datetime) -> None:
    """The first time these messages were written to a courier socket."""
    await conn.execute(
        "UPDATE driver_messages SET delivered_at = $2 WHERE id = ANY($1) AND delivered_at IS NULL",
        list(message_ids),
        now,
    )
