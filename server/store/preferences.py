"""SQL for what customers chose to hear (per order and channel), and this installation's
identity (migration 0016: a random id and a secret, made once)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from server.store import Conn


@dataclass(frozen=True, slots=True)
class Installation:
    id: UUID  # in every Message-ID: unique across databases, stable across restarts
    secret: bytes  # signs the unsubscribe links in messages


@dataclass(frozen=True, slots=True)
class Preferences:
    """True: the customer hears of the order on that channel (the default)."""

    email: bool
    sms: bool


async def installation(conn: Conn) -> Installation:
    row = await conn.fetchrow("SELECT id, secret FROM installation")
    if row is None:  # only a database migrated by hand past 0016 without its row
        raise LookupError("no installation row: run `tracker migrate`")
    return Installation(row["id"], bytes(row["secret"]))


async def set_preferences(
    conn: Conn, order_id: int, email: bool | None, sms: bool | None
) -> Preferences | None:
    """Change what is given (None: leave it); None when there is no such order."""
    row = await conn.fetchrow(
        """UPDATE orders SET email_opt_out = coalesce(NOT $2, email_opt_out),
                             sms_opt_out = coalesce(NOT $3, sms_opt_out)
           WHERE id = $1 RETURNING email_opt_out, sms_opt_out""",
        order_id,
        email,
        sms,
    )
    return None if row is None else Preferences(not row["email_opt_out"], not row["sms_opt_out"])
