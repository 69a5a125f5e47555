"""The live ETA-accuracy record against `tracker eval-eta` on the same trip (issue 18): the
server, fed the trip over the courier socket, records the arrival and the ETA it showed 5
minutes before it; eval-eta's replay of the same fixes finds the same arrival and had
predicted the same ETA at that fix."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import asyncpg

from geo.calibration import Calibration
from geo.learning import replay
from geo.model import Fix
from geo.route import parse_route
from geo.speed_profile import SpeedProfile
from server.base.settings import Settings
from tests.server.courier import Courier, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_insights import FIX_S, LAT, Trace, _arrival, leg, lon_at, send


def as_fix(sent: dict[str, object]) -> Fix:
    t = sent["t"]
    assert isinstance(t, int)
    lon, lat, speed = sent["lon"], sent["lat"], sent["speed"]
    assert isinstance(lon, float) and isinstance(lat, float) and isinstance(speed, float)
    return Fix(datetime.fromtimestamp(t / 1000, tz=now().tzinfo), lon, lat, 5.0, speed)


async def test_the_recorded_eta_accuracy_agrees_with_eval_eta(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, insights_eta_sample_s=FIX_S)
    route = leg(0.0, 4.0)
    trace = Trace(now() - timedelta(minutes=12))
    trace._fix(10.0)
    trace.drive_to(4.0)
    trace.stand(60.0)
    sent = trace.take()
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon_at(4.0), LAT)
        await dispatch.out_for_delivery(order["id"], driver_id, route=route)
        async with Courier(server.ws_url, token) as courier:
            await send(courier, sent)
            await _arrival(db, order["id"])
    row = await db.fetchrow("SELECT * FROM eta_accuracy WHERE horizon = '5'")
    arrived_at = await db.fetchval("SELECT arrived_at FROM delivery_facts")
    assert row is not None
    fixes = [as_fix(f) for f in sent]
    default = Calibration.default()
    result = replay("trip", fixes, parse_route(route), SpeedProfile(), default, default)
    # eval-eta's truth: the arrival is the first fix at rest at the destination
    first = result.predictions[0]
    eval_arrival = fixes[0].recorded_at + timedelta(seconds=first.actual_s)
    assert abs((eval_arrival - arrived_at).total_seconds()) <= FIX_S
    # what eval-eta predicted at the fix the server sampled for the 5-minute horizon
    at = next(i for i, f in enumerate(fixes) if f.recorded_at == row["shown_at"])
    predicted = fixes[at].recorded_at + timedelta(seconds=result.predictions[at].model_s)
    assert abs((predicted - row["eta_at"]).total_seconds()) < 1.0
    eval_error_s = (predicted - eval_arrival).total_seconds()
    assert abs(eval_error_s - row["error_s"]) <= FIX_S + 1.0
