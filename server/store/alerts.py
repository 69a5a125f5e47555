"""SQL for dispatchers' alerts: raised in batches, listed, acknowledged.

At most one alert per (kind, driver, order) is open (the partial unique index
`alerts_open_once`): raising one again while it is open stores nothing and returns nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.store import Conn


@dataclass(frozen=True, slots=True)
class NewAlert:
    kind: str
    driver_id: int | None
    order_id: int | None
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    driver_id: int | None
    order_id: int | None
    at: datetime
    detail: str | None
    acked_at: datetime | None
    acked_by: str | None


_COLUMNS = "id, kind, driver_id, order_id, at, detail, acked_at, acked_by"


async def raise_alerts(conn: Conn, alerts: Sequence[NewAlert]) -> list[Alert]:
    """Store the alerts in one statement; returns those stored (not the ones already open,
    nor repeats within `alerts`), in the order given. An order or driver that no longer
    exists stores nothing either."""
    if not alerts:
        return []
    rows = await conn.fetch(
        f"""INSERT INTO alerts (kind, driver_id, order_id, at, detail)
            SELECT a.kind, a.driver_id, a.order_id, a.at, a.detail
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[])
                 WITH ORDINALITY AS a (kind, driver_id, order_id, at, detail, n)
            WHERE (a.driver_id IS NULL OR EXISTS (SELECT 1 FROM drivers d WHERE d.id = a.driver_id))
              AND (a.order_id IS NULL OR EXISTS (SELECT 1 FROM orders o WHERE o.id = a.order_id))
            ORDER BY a.n
            ON CONFLICT DO NOTHING
            RETURNING {_COLUMNS}""",
        [a.kind for a in alerts],
        [a.driver_id for a in alerts],
        [a.order_id for a in alerts],
        [a.at for a in alerts],
        [a.detail for a in alerts],
    )
    return sorted((Alert(**dict(r)) for r in rows), key=lambda a: a.id)


async def list_alerts(conn: Conn, open_only: bool, limit: int, after_id: int) -> list[Alert]:
    """A page of alerts by id, oldest first; `open_only`: not acknowledged yet."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM alerts
            WHERE id > $1 AND (NOT $2 OR acked_at IS NULL)
            ORDER BY id LIMIT $3""",
        after_id,
        open_only,
        limit,
    )
    return [Alert(**dict(r)) for r in rows]


async def ack_alert(
    conn: Conn, alert_id: int, actor: str, now: datetime
) -> tuple[Alert, bool] | None:
    """Acknowledge the alert; the first acknowledgement stays (who and when). Returns it
    and whether this call acknowledged it; None when there is no such alert."""
    row = await conn.fetchrow(
        f"""UPDATE alerts SET acked_at = $2, acked_by = $3
            WHERE id = $1 AND acked_at IS NULL RETURNING {_COLUMNS}""",
        alert_id,
        now,
        actor,
    )
    if row is not None:
        return Alert(**dict(row)), True
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE id = $1", alert_id)
    return None if row is None else (Alert(**dict(row)), False)
