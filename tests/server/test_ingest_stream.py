"""A long courier stream with duplicates, reordering, batches and a cut connection."""

from __future__ import annotations

import random
from datetime import timedelta

import asyncpg

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server

FIXES = 3_000


async def test_every_fix_acked_and_stored_once(settings: Settings, db: asyncpg.Connection) -> None:
    rng = random.Random(7)
    start = now() - timedelta(seconds=FIXES + 60)
    # A courier driving north-east at ~12 m/s, one fix a second.
    track = [
        fix(seq, start + timedelta(seconds=seq), 11.90 + seq * 1e-4, 50.30 + seq * 5e-5, acc=8.0)
        for seq in range(FIXES)
    ]
    async with run_server(settings) as server:
        driver_id, token = await server.create_driver()
        courier = Courier(server.ws_url, token)
        await courier.connect()
        sent: list[dict[str, object]] = []
        position = 0
        was_cut = False
        while position < FIXES:
            chunk = track[position : position + rng.randint(1, 40)]
            position += len(chunk)
            rng.shuffle(chunk)  # out of order within a burst
            if len(chunk) > 20:
                await courier.send_batch(chunk)  # an offline backlog
            else:
                for message in chunk:
                    await courier.send(message)
            sent.extend(chunk)
            if rng.random() < 0.1:  # re-send a few earlier fixes, as phones do
                for message in rng.sample(sent, min(5, len(sent))):
                    await courier.send(message)
            if position >= FIXES // 2 and not was_cut:
                courier.drop()  # lose the connection mid-stream...
                was_cut = True
                await courier.wait_closed()
                await courier.connect()
                unacked = [m for m in sent if m["seq"] not in courier.acked]
                for i in range(0, len(unacked), 500):  # ...and resend what was not acked
                    await courier.send_batch(unacked[i : i + 500])
        await courier.wait_acked(range(FIXES))
        assert not courier.rejected and not courier.errors
        await courier.close()

    rows = await db.fetch(
        "SELECT recorded_at, geom FROM positions WHERE driver_id = $1 ORDER BY recorded_at",
        driver_id,
    )
    assert len(rows) == FIXES
    expected_times = [start + timedelta(seconds=seq) for seq in range(FIXES)]
    assert [r["recorded_at"] for r in rows] == [
        t.replace(microsecond=t.microsecond // 1000 * 1000) for t in expected_times
    ]
    latest = await db.fetchrow(
        "SELECT recorded_at, geom FROM driver_latest WHERE driver_id = $1", driver_id
    )
    assert latest is not None
    assert latest["recorded_at"] == rows[-1]["recorded_at"]
    assert latest["geom"] == rows[-1]["geom"]
