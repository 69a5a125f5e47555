"""SQL for what customers do on their tracking link: delivery instructions, reported
issues, ratings (server/usecases/self_service.py decides when each is allowed)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from server.domain.lifecycle import Status
from server.store import Conn
from server.store.orders import ORDER_COLUMNS, Order, locked_order, order_of_row


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    order_id: int
    reason: str
    text: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Rating:
    order_id: int
    score: int
    comment: str | None
    at: datetime


async def set_instructions(
    conn: Conn, order_id: int, text: str | None, at: datetime, open_in: Collection[Status]
) -> tuple[Order, Order] | Status | None:
    """Replace the order's delivery instructions while its status is one of `open_in`:
    (before, after); the status it is in otherwise; None for an unknown order."""
    async with conn.transaction():
        before = await locked_order(conn, order_id)
        if before is None:
            return None
        if before.status not in open_in:
            return before.status
        row = await conn.fetchrow(
            f"""UPDATE orders SET delivery_instructions = $2, updated_at = $3
                WHERE id = $1 RETURNING {ORDER_COLUMNS}""",
            order_id,
            text,
            at,
        )
    assert row is not None
    return before, order_of_row(row)


async def add_issue(
    conn: Conn, order_id: int, reason: str, text: str | None, at: datetime, max_per_order: int
) -> Issue | None:
    """Store a reported issue; None when the order already has `max_per_order` of them.
    In the caller's transaction (with the alert's and messages' rows)."""
    await conn.execute("SELECT id FROM orders WHERE id = $1 FOR UPDATE", order_id)  # one count
    count = await conn.fetchval("SELECT count(*) FROM order_issues WHERE order_id = $1", order_id)
    if count >= max_per_order:
        return None
    issue_id = await conn.fetchval(
        """INSERT INTO order_issues (order_id, reason, text, at) VALUES ($1, $2, $3, $4)
           RETURNING id""",
        order_id,
        reason,
        text,
        at,
    )
    return Issue(int(issue_id), order_id, reason, text, at)


async def issues(conn: Conn, order_id: int) -> list[Issue]:
    rows = await conn.fetch(
        """SELECT id, order_id, reason, text, at FROM order_issues
           WHERE order_id = $1 ORDER BY at, id""",
        order_id,
    )
    return [Issue(**dict(r)) for r in rows]


async def rate(
    conn: Conn, order_id: int, score: int, comment: str | None, at: datetime, status: Status
) -> Rating | None:
    """Store the order's rating, replacing an earlier one, if the order is in `status`
    (checked in the same statement); None otherwise."""
    row = await conn.fetchrow(
        """INSERT INTO order_ratings (order_id, score, comment, at)
           SELECT id, $2, $3, $4 FROM orders WHERE id = $1 AND status = $5
           ON CONFLICT (order_id) DO UPDATE
               SET score = excluded.score, comment = excluded.comment, at = excluded.at
           RETURNING order_id, score, comment, at""",
        order_id,
        score,
        comment,
        at,
        status.value,
    )
    return None if row is None else Rating(**dict(row))


async def rating(conn: Conn, order_id: int) -> Rating | None:
    row = await conn.fetchrow(
        "SELECT order_id, score, comment, at FROM order_ratings WHERE order_id = $1", order_id
    )
    return None if row is None else Rating(**dict(row))
