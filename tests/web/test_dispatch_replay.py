"""Replaying a driver's day on the dispatcher page, in real Chromium against a real server: a
real GPS trace (a Porto taxi) sent through the courier socket earlier today, two orders
delivered and failed through the order API; the page draws the day, lists its events, and
the timeline slider (and play) moves the courier's marker to where the trace was then.

The page's day is the browser's, so the browser is put in a zone where it is about noon:
the half-hour trace then lies inside today at any hour the test runs (in UTC, a run just
after midnight would have found only its last minutes in today)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from server.base.settings import Settings
from server.bench.traces import read_trace
from tests.server.courier import Courier, fix
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import open_driver, sign_in

TRACE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "traces"
    / "porto_ecml2015_test__T217.csv"
)
pytestmark = pytest.mark.skipif(not TRACE.is_file(), reason=f"shared GPS trace not found: {TRACE}")


def _zone_at_noon(now: datetime) -> str:
    """A fixed-offset zone where `now` falls between 11:30 and 12:30 (Etc/GMT-5 is UTC+5)."""
    offset_h = 12 - (now + timedelta(minutes=30)).hour  # -11 to +12
    return f"Etc/GMT{-offset_h:+d}" if offset_h else "UTC"


def _recent_trace(now: datetime) -> list[tuple[datetime, float, float]]:
    """The whole trace, moved to end a minute ago."""
    fixes = read_trace(TRACE)
    shift = now - timedelta(minutes=1) - fixes[-1].recorded_at
    return [(f.recorded_at + shift, f.lon, f.lat) for f in fixes]


async def _marker(page: Page) -> tuple[float, float, str]:
    marker = page.locator(".replay-marker")
    await expect(marker).to_have_attribute("data-at", re.compile(r".+"))
    lat, lon, at = await marker.evaluate("m => [m.dataset.lat, m.dataset.lon, m.dataset.at]")
    return float(lat), float(lon), str(at)


async def _slide_to(page: Page, at: datetime) -> None:
    await page.locator("#replay-slider").evaluate(
        "(s, ms) => { s.value = String(ms); s.dispatchEvent(new Event('input')); }",
        int(at.timestamp() * 1000),
    )


async def test_a_days_replay_draws_the_track_and_the_slider_moves_the_marker(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    trace = _recent_trace(now)
    zone = _zone_at_noon(now)
    day = trace[0][0].astimezone(ZoneInfo(zone)).date()
    assert trace[-1][0].astimezone(ZoneInfo(zone)).date() == day and len(trace) > 20
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        ana, token = await server.create_driver("Ana")
        async with Courier(server.ws_url, token) as courier:
            await courier.send_batch(
                [fix(i + 1, t, lon, lat) for i, (t, lon, lat) in enumerate(trace)]
            )
            await courier.wait_acked(range(1, len(trace) + 1))
        _, last_lon, last_lat = trace[-1]
        done = await dispatch.order(last_lon, last_lat, reference="R-DONE")
        missed = await dispatch.order(-8.60, 41.15, reference="R-MISSED")
        for order, outcome in ((done, "delivered"), (missed, "failed")):
            await dispatch.out_for_delivery(order["id"], ana)
            await dispatch.status(order["id"], outcome)
        async with browsing(browser, timezone_id=zone) as b:
            page = b.page
            await sign_in(page, server.base_url)
            await open_driver(page, ana, "Ana")
            await page.get_by_text("Replay a day").click()
            await page.get_by_label("Day", exact=True).fill(day.isoformat())
            await page.get_by_role("button", name="Replay day").click()
            await expect(page.locator("#replay-status")).to_contain_text(f"{len(trace)} positions")
            events = page.locator("#replay-events li")
            await expect(events).to_have_count(4)  # out for delivery x2, delivered, failed
            await expect(page.locator("#replay-events")).to_contain_text("R-DONE: Delivered")
            await expect(page.locator("#replay-events")).to_contain_text(
                "R-MISSED: Delivery attempt failed"
            )
            await expect(page.locator("path.replay-line")).to_have_count(1)

            # The slider puts the marker on the last fix at or before its time.
            for k in (5, len(trace) // 2, len(trace) - 1):
                t, lon, lat = trace[k]
                await _slide_to(page, t + timedelta(milliseconds=500))
                await expect(page.locator(".replay-marker")).to_have_attribute(
                    "data-at", t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                )
                got_lat, got_lon, _ = await _marker(page)
                assert (got_lat, got_lon) == pytest.approx((lat, lon), abs=1e-6)
            await b.shot("dispatch-replay")

            # Play at 60x from the start: the marker moves on by itself; pause stops it.
            await _slide_to(page, trace[0][0])
            start_at = (await _marker(page))[2]
            await page.get_by_label("Speed").select_option("60")
            await page.get_by_role("button", name="Play", exact=True).click()
            await expect(page.locator(".replay-marker")).not_to_have_attribute("data-at", start_at)
            await page.get_by_role("button", name="Pause", exact=True).click()
            paused_at = (await _marker(page))[2]
            assert paused_at > start_at
            # An event jumps the slider to it.
            await (
                page.locator("#replay-events li", has_text="R-DONE: Delivered")
                .get_by_role("button")
                .click()
            )
            await expect(page.locator(".replay-marker")).to_have_attribute(
                "data-at", trace[-1][0].isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )
