"""The slow bottleneck layer weighed against the learned speed profile, on a real server.

Ten usual days of fast driving along a street (faster on the slow day's weekday), starting
1,500 m east of where the slow day starts, are stored and learned from by the server's own
learning function (stored in `eta_models`, loaded as the ETA models are). One older usual
day, further back than the learning looks (`eta_history_days`) but inside the layer's
baseline, drives the whole street. Then a day with a slow 600 m stretch half on the learned
part of the street and half not: its learned cells must be weighed against the profile
(`usual_from: "profile"`, per hour of the week), the others against the rollup's history
(`"history"`). Every figure is computed here from the stored profile and the trips, by the
rule docs/api.md states; then, with no profile in use, every cell is back on history.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from server.live.etas import EtaModels
from server.store import eta_models
from server.store.pool import create_pool
from server.usecases import learning
from tests.server import bottleneck_trips as trips
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_bottlenecks_api import _rolled_up
from tests.server.test_insight_rollup import store

Travel = dict[tuple[int, int], dict[datetime, list[float]]]  # cell -> UTC hour -> [s, m, n]


def _by_cell(*days: trips.Expected) -> Travel:
    out: Travel = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))
    for day in days:
        for (hour, ix, iy), (s, m, n) in day.travel.items():
            entry = out[(ix, iy)][hour]
            entry[0] += s
            entry[1] += m
            entry[2] += n
    return out


def _profile_pace(profile: dict[str, Any], ix: int, iy: int, hour: datetime) -> float | None:
    """The stored profile's usual pace (s/m) of a cell in an hour of the week, any heading;
    None when the profile does not know the cell (its own metres under prior_m)."""
    cells = {tuple(int(v) for v in row[:6]): (row[6], row[7]) for row in profile["cells"]}
    prior_m = profile["params"]["prior_m"]
    cell_m, coarse_m = profile["params"]["cell_m"], profile["params"]["coarse_cell_m"]
    pace = 1.0 / profile["fleet_speed_mps"]
    coarse = (0, trips.EPSG, math.floor((ix + 0.5) * cell_m / coarse_m),
              math.floor((iy + 0.5) * cell_m / coarse_m), -1, -1)  # fmt: skip
    if coarse in cells:
        s, m = cells[coarse]
        pace = (s + prior_m * pace) / (m + prior_m)
    own = cells.get((1, trips.EPSG, ix, iy, -1, -1))
    if own is None or own[1] < prior_m:
        return None
    pace = (own[0] + prior_m * pace) / (own[1] + prior_m)
    how = hour.weekday() * 24 + hour.hour  # UTC, as the profile learns it
    hour_s = hour_m = 0.0
    for heading in range(8):
        s, m = cells.get((3, trips.EPSG, ix, iy, heading, how), (0.0, 0.0))
        hour_s += s
        hour_m += m
    return float((hour_s + prior_m * pace) / (hour_m + prior_m))


def _weighed(
    slow: Travel, history: Travel, profile: dict[str, Any] | None
) -> dict[tuple[int, int], dict[str, Any]]:
    """Per cell of the slow day: driven s, m, steps, expected s by hour, and its source."""
    out = {}
    for cell, hours in slow.items():
        s = sum(v[0] for v in hours.values())
        m = sum(v[1] for v in hours.values())
        n = sum(v[2] for v in hours.values())
        paces = {h: _profile_pace(profile, *cell, h) if profile else None for h in hours}
        if all(p is not None for p in paces.values()):
            expected = {h: v[1] * paces[h] for h, v in hours.items()}  # type: ignore[operator]
            source = "profile"
        else:
            base_s = sum(v[0] for v in history[cell].values())
            base_m = sum(v[1] for v in history[cell].values())
            expected = {h: v[1] * base_s / base_m for h, v in hours.items()}
            source = "history"
        out[cell] = {"s": s, "m": m, "n": n, "hours": hours, "expected": expected, "from": source}
    return out


async def test_slow_cells_weighed_against_the_learned_profile(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, eta_history_days=14.0, bottleneck_max_features=100)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = today + timedelta(hours=9, minutes=12)
    old_points = trips.day(at - timedelta(days=20), slow_mps=10.0, stop_s=60)
    # a week before the slow day, same hour: faster (the profile's hour of the week knows)
    learned_points = [
        trips.day(
            at - timedelta(days=d), 10.0, 60, x0=trips.X0 + 1_500, fast_mps=20.0 if d == 8 else 10.0
        )
        for d in range(3, 13)
    ]
    slow_start = at - timedelta(days=1)
    slow_points = trips.day(slow_start, slow_mps=1.5, stop_s=900)
    for points in (old_points, *learned_points):
        await store(db, points)
    async with await create_pool(settings) as pool:  # the server's kind, with its codecs
        learned = await learning.learn_and_store(pool, settings)
    assert learned["learned"] is True and learned["trips"] == 10
    await store(db, slow_points)  # after learning: the profile never saw the slow day
    stored = await eta_models.latest(db)
    assert stored is not None
    profile = stored.profile

    dwell_min_s = settings.bottleneck_dwell_min_s
    slow_day = trips.expected(slow_points, dwell_min_s)
    history = _by_cell(
        slow_day,
        trips.expected(old_points, dwell_min_s),
        *(trips.expected(p, dwell_min_s) for p in learned_points),
    )
    slow = _by_cell(slow_day)
    day_range = {
        "from": (slow_start - timedelta(hours=1)).isoformat(),
        "to": (slow_start + timedelta(hours=3)).isoformat(),
    }
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        await _rolled_up(server, slow_points[-1].t + timedelta(seconds=400))
        etas = server.services.live.etas
        assert await learning.load_latest(server.services.pool, etas, None) == stored.id
        client = dispatch.client
        with_profile = await _answers(client, day_range)
        etas.set_models(EtaModels())  # no profile in use: history, as before
        without = await _answers(client, day_range)

    for answer, known in ((with_profile, profile), (without, None)):
        layer, heat = answer
        cells = _weighed(slow, history, known)
        ratio, min_steps = settings.bottleneck_slow_ratio, settings.bottleneck_min_steps
        want = {
            cell: c
            for cell, c in cells.items()
            if c["n"] >= min_steps and sum(c["expected"].values()) < ratio * c["s"]
        }
        got = {(f["properties"]["ix"], f["properties"]["iy"]): f for f in layer["features"]}
        assert set(got) == set(want) and layer["truncated"] is False
        sources = {c["from"] for c in want.values()}
        assert sources == ({"profile", "history"} if known else {"history"})
        lost = [f["properties"]["lost_s"] for f in layer["features"]]
        assert lost == sorted(lost, reverse=True)
        for cell, feature in got.items():
            props, c = feature["properties"], want[cell]
            expected_s = sum(c["expected"].values())
            assert props["usual_from"] == c["from"]
            assert props["lost_s"] == pytest.approx(c["s"] - expected_s, abs=0.5)
            assert props["usual_mps"] == pytest.approx(c["m"] / expected_s, abs=0.01)
            assert props["driven_mps"] == pytest.approx(c["m"] / c["s"], abs=0.01)
        # the heat map: every cell of the range against the same usual, by hour of the week
        want_heat = [[0.0] * 24 for _ in range(7)]
        for c in cells.values():
            for hour, (s, _, _) in c["hours"].items():
                want_heat[hour.weekday()][hour.hour] += s - c["expected"][hour]
        for d in range(7):
            assert heat["values"][d] == pytest.approx(want_heat[d], abs=0.1)

    # the profile changes the answer where the slow day was slow on the learned street
    by_profile, by_history = _weighed(slow, history, profile), _weighed(slow, history, None)
    learned_slow = [
        cell for cell, c in by_profile.items() if c["from"] == "profile" and c["m"] / c["s"] < 5
    ]
    assert learned_slow
    for cell in learned_slow:
        profile_s = sum(by_profile[cell]["expected"].values())
        assert abs(profile_s - sum(by_history[cell]["expected"].values())) > 2.0


async def _answers(client: Any, day_range: dict[str, str]) -> tuple[Any, Any]:
    layer = await client.get("/api/insights/bottlenecks", params={**day_range, "layer": "slow"})
    heat = await client.get("/api/insights/heatmap", params={**day_range, "metric": "slow"})
    assert layer.status_code == 200 and heat.status_code == 200, (layer.text, heat.text)
    return layer.json(), heat.json()
