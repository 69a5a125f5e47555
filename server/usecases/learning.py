"""Learning the ETA models from the fleet's own stored positions, by command and on a
schedule (once per cluster); every process picks up the newest models.

Each trip serves as its own route; the window calibration comes from cross-fitted
predictions (each trip predicted by a profile learned without it), as in `eval-eta`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from geo.calibration import Calibration
from geo.learning import calibrations, cross_fit
from geo.model import Fix
from geo.speed_profile import SpeedProfile, learn
from server.base.settings import Settings
from server.live.etas import EtaModels, Etas
from server.store import eta_models
from server.usecases.leader import Leadership

log = logging.getLogger("tracker.eta_learning")

MIN_TRIPS = 10  # fewer, and the fleet-wide defaults are better than what they would teach
MAX_ROWS = 2_000_000


async def learn_and_store(pool: asyncpg.Pool, settings: Settings) -> dict[str, object]:
    """Learn from the last `eta_history_days` of positions and store the models."""
    since = datetime.now(UTC) - timedelta(days=settings.eta_history_days)
    async with pool.acquire() as conn:
        trips = await eta_models.history_trips(conn, since, MAX_ROWS)
    trips = {k: t for k, t in trips.items() if len(t) >= 10}
    if len(trips) < MIN_TRIPS:
        return {"learned": False, "trips": len(trips), "reason": f"fewer than {MIN_TRIPS} trips"}
    profile, calibration = await asyncio.to_thread(_learn, trips)
    fixes = sum(len(t) for t in trips.values())
    async with pool.acquire() as conn:
        model_id = await eta_models.save(
            conn, len(trips), fixes, profile.to_json(), calibration.to_json()
        )
    return {"learned": True, "id": model_id, "trips": len(trips), "fixes": fixes}


def _learn(trips: dict[str, list[Fix]]) -> tuple[SpeedProfile, Calibration]:
    cross_fitted, detour = cross_fit(trips, {})
    calibration, _ = calibrations(cross_fitted)
    return learn(trips.values()).with_detour(detour), calibration


async def load_latest(pool: asyncpg.Pool, etas: Etas, known_id: int | None) -> int | None:
    """Swap in the newest stored models if they are newer than `known_id`."""
    async with pool.acquire() as conn:
        newest = await eta_models.latest_id(conn)
        stored = None if newest in (None, known_id) else await eta_models.latest(conn)
    if stored is None or stored.id == known_id:
        return known_id
    # Parsing a fleet's profile takes a second or more: off the loop, which serves sockets.
    models = await asyncio.to_thread(_parse, stored.profile, stored.calibration)
    etas.set_models(models)
    log.info("ETA models %d in use (%d trips, %d fixes)", stored.id, stored.trips, stored.fixes)
    return stored.id


def _parse(profile: dict[str, Any], calibration: dict[str, Any]) -> EtaModels:
    return EtaModels(SpeedProfile.from_json(profile), Calibration.from_json(calibration))


async def run_forever(
    pool: asyncpg.Pool, settings: Settings, leader: Leadership, etas: Etas
) -> None:
    known: int | None = None
    with contextlib.suppress(Exception):
        known = await load_latest(pool, etas, known)
    last_learned = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.eta_reload_interval_s)
        try:
            due = loop.time() - last_learned >= settings.eta_learn_interval_s
            if due and await leader.holds():
                last_learned = loop.time()
                log.info("ETA learning: %s", await learn_and_store(pool, settings))
            known = await load_latest(pool, etas, known)
        except Exception as exc:  # tried again next round
            log.warning("ETA learning failed: %r", exc)
