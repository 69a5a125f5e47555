"""The end-to-end run of issue 17, replayed on a real server: a drop 37 m from a later part
of the next order's route, the run rebuilt there when the drop is delivered, and the
courier standing at it a while. "Almost there" for the next order must wait until the
courier is on the way and near, not come 1.4 km out from the rebuilt run's first fix."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.geo.helpers import lonlat, path_length, point_along
from tests.geo.test_progress_jumps import DROP, LOOP_BACK
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import MailBox
from tests.server.test_notifications import settled
from tests.server.watcher import Watcher

NEXT_EMAIL = "dora@example.com"
SPEED_MPS = 10.0


def line(points: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(lonlat(x, y)) for x, y in points]}


async def test_no_arriving_from_a_drop_next_to_a_later_pass_of_the_next_route(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox
) -> None:
    settings = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none",
        mail_from="tracking@shop.test", notify_poll_interval_s=0.05, fleet_interval_ms=20.0,
    )  # fmt: skip
    to_drop = [(-300.0, -50.0), DROP]
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        drop = await dispatch.order(*lonlat(*DROP))
        after = await dispatch.order(
            *lonlat(*LOOP_BACK[-1]), customer={"name": "Dora", "email": NEXT_EMAIL}
        )
        await dispatch.out_for_delivery(drop["id"], driver_id, route=line(to_drop))
        await dispatch.out_for_delivery(after["id"], driver_id, route=line(LOOP_BACK))
        t0 = now() - timedelta(minutes=5)
        seq = 0

        def at(t_s: float, x: float, y: float, speed: float) -> dict[str, Any]:
            nonlocal seq
            seq += 1
            return fix(seq, t0 + timedelta(seconds=t_s), *lonlat(x, y), speed=speed)

        async with (
            Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
            Courier(server.ws_url, token) as courier,
        ):
            for k in range(7):  # 300 m to the drop, then a minute standing there
                await courier.send(at(5.0 * k, -300.0 + 50.0 * k, -50.0, 10.0))
            for k in range(1, 13):
                await courier.send(at(30.0 + 5.0 * k, *DROP, 0.0))
            await courier.wait_acked(range(1, seq + 1))
            await dispatch.status(drop["id"], "delivered")  # the run is rebuilt here
            for k in range(1, 7):  # still standing, through the grace
                await courier.send(at(90.0 + 5.0 * k, *DROP, 0.0))
            leave_s = 120.0
            path = [DROP, *LOOP_BACK]
            for k in range(1, int(path_length(path) / SPEED_MPS / 5.0) + 1):
                x, y = point_along(path, SPEED_MPS * 5.0 * k)
                await courier.send(at(leave_s + 5.0 * k, x, y, SPEED_MPS))
            await courier.wait_acked(range(1, seq + 1))
            await fleet.wait_until(
                lambda: any(
                    m["kind"] == "arriving" and m["order_id"] == after["id"]
                    for m in fleet.of_type("alert")
                )
            )
        await mailbox.wait_for(lambda: bool(mailbox.to(NEXT_EMAIL, "almost there")), "arriving")
        await settled(db)
    [arriving] = [
        m
        for m in fleet.of_type("alert")
        if m["kind"] == "arriving" and m["order_id"] == after["id"]
    ]
    fired_s = (datetime.fromisoformat(arriving["at"].replace("Z", "+00:00")) - t0).total_seconds()
    # Not while standing at the drop: only on the way, with under 1,200 m of the 1,447 left.
    assert fired_s >= leave_s + (path_length([DROP, *LOOP_BACK]) - 1200.0) / SPEED_MPS - 5.0
    assert len(mailbox.to(NEXT_EMAIL, "almost there")) == 1
