"""TRACKER_INSIGHTS_RECORDING (issue 18's cost, measured by `tracker bench --recording-ab`):
the same day replayed with the recording on and off. Off, a delivered order leaves no
delivery facts, ETA samples, accuracy rows or rollups; everything else (statuses,
timelines, messages queued for the customer, the tracker's "arrived" to the customer, the
ETAs) is the same as with it on."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN, empty_tables
from tests.server.courier import Courier
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_insights import LAT, Trace, _arrival, leg, lon_at, send
from tests.server.watcher import Watcher

INSIGHT_TABLES = ("delivery_facts", "eta_accuracy", "insight_rollups", "insight_counts")


async def _day(settings: Settings, db: asyncpg.Connection) -> dict[str, Any]:
    """Two orders out for delivery; the courier's trace arrives at the first (GPS: it
    stands still there), which is delivered; the second stays out for delivery. Returns
    what anyone but the insights could see of it, and the insights' rows."""
    hour = timedelta(hours=1)
    start = datetime.now().astimezone()
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        a = await dispatch.order(lon_at(1.0), LAT, promised_by=(start + hour).isoformat())
        b = await dispatch.order(lon_at(3.0), LAT)
        await dispatch.out_for_delivery(a["id"], driver_id, route=leg(0.0, 1.0))
        await dispatch.out_for_delivery(b["id"], driver_id, route=leg(1.0, 3.0))
        trace = Trace(start - timedelta(minutes=10))
        trace._fix(10.0)
        trace.drive_to(1.0)
        arrived_at = trace.stand(60.0)
        async with (
            Watcher(f"{server.ws_url}/ws/track/{a['tracking_code']}") as customer,
            Courier(server.ws_url, token) as courier,
        ):
            await customer.wait_until(lambda: bool(customer.of_type("snapshot")))
            await send(courier, trace.take())
            arrived = await customer.next_of("arrived", since=0)
            if settings.insights_recording:
                await _arrival(db, a["id"])  # the recorder is behind the arrival
            await dispatch.status(a["id"], "delivered")
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            view_b = (await client.get(f"/api/track/{b['tracking_code']}")).json()
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            summary = await client.get(
                "/api/insights/summary", params={"from": start.date().isoformat()}, headers=headers
            )
        horizons = server.services.live.etas.horizons
        samples = 0 if horizons is None else len(horizons)
    ids = {a["id"]: "a", b["id"]: "b"}
    statuses = await db.fetch("SELECT id, status FROM orders ORDER BY id")
    events = await db.fetch("SELECT order_id, status FROM order_events ORDER BY id")
    outbox = await db.fetch("SELECT order_id, event, channel FROM outbox ORDER BY id")
    seen = {
        "statuses": [(ids[r["id"]], r["status"]) for r in statuses],
        "timeline": [(ids[r["order_id"]], r["status"]) for r in events],
        "outbox": [(ids[r["order_id"]], r["event"], r["channel"]) for r in outbox],
        "arrived_s": round((datetime.fromisoformat(arrived["at"]) - arrived_at).total_seconds()),
        "eta_b": view_b["eta"] is not None,
        "summary": summary.status_code,
    }
    rows = {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in INSIGHT_TABLES}
    deliveries = summary.json()["current"]["deliveries"]
    return {"seen": seen, "rows": rows, "deliveries": deliveries, "samples": samples}


async def test_recording_off_leaves_no_insights_and_changes_nothing_else(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(  # emails are queued for the customer, not sent
        settings, insights_eta_sample_s=10.0, smtp_host="127.0.0.1", notify_enabled=False
    )
    on = await _day(settings, db)
    await empty_tables(db)
    off = await _day(dataclasses.replace(settings, insights_recording=False), db)
    assert on["rows"]["delivery_facts"] == 2  # b's attempt too, from its out for delivery
    assert on["rows"]["eta_accuracy"] >= 1 and on["rows"]["insight_rollups"] >= 1
    assert on["deliveries"] == 1 and on["samples"] >= 1  # b's ETAs, sampled
    assert off["rows"] == dict.fromkeys(INSIGHT_TABLES, 0)
    assert off["deliveries"] == 0 and off["samples"] == 0
    assert off["seen"] == on["seen"]
    assert ("a", "delivered") in on["seen"]["statuses"] and on["seen"]["eta_b"]
    assert abs(on["seen"]["arrived_s"]) <= 5.0
    assert any(event == "delivered" for _, event, _ in on["seen"]["outbox"])


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).insights_recording
    assert not Settings.from_env({"TRACKER_INSIGHTS_RECORDING": "false"}).insights_recording
