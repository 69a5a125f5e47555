"""The operator's insights page, /insights (issue 18), in a real browser against a real
server, on a history written by `tracker seed`'s functions (the server's own recording
functions: order status changes, their facts and rollups, GPS arrivals with the ETAs
shown). Every figure the page shows is checked against the API, read here independently
with the admin key, and written the way the page writes it (`expected`)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
import httpx
from PIL import Image
from playwright.async_api import Browser, Page, Route, expect

from server.base.settings import Settings
from server.sim.history import Plan, seed
from tests.conftest import ADMIN_TOKEN
from tests.server.dispatch import ADMIN
from tests.server.harness import RunningServer, run_server
from tests.server.test_support_role import support_key
from tests.web.conftest import browsing, web_settings

# The KPI tiles: data-kpi, how the figure is read from a summary period, its kind.
TILES: dict[str, tuple[Callable[[dict[str, Any]], float | None], str]] = {
    "deliveries": (lambda p: p["deliveries"], "count"),
    "on_time_rate_promise": (lambda p: p["on_time_rate_promise"], "rate"),
    "on_time_rate_window": (lambda p: p["on_time_rate_window"], "rate"),
    "first_attempt_success_rate": (lambda p: p["first_attempt_success_rate"], "rate"),
    "lateness_median_s": (lambda p: p["lateness_median_s"], "duration"),
    "lateness_p90_s": (lambda p: p["lateness_p90_s"], "duration"),
    "time_at_door_median_s": (lambda p: p["time_at_door_median_s"], "duration"),
    "stops_per_driver_hour": (lambda p: p["stops_per_driver_hour"], "perHour"),
    "eta_mae_s": (lambda p: p["eta"]["dispatch"]["mae_s"], "duration"),
    "window_coverage": (lambda p: p["eta"]["dispatch"]["window_coverage"], "rate"),
}
BARS = (0x0B, 0x5C, 0xAD)  # the deliveries' bars (web/static/js/insights/charts.js)


def decimals(value: float, places: int) -> str:
    """As Intl.NumberFormat in en-GB: ties away from zero, on the double's exact value."""
    quantum = Decimal(1).scaleb(-places)
    return f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP):,}"


def signed(text: str, value: float) -> str:
    return f"+{text}" if value > 0 else text


def expected(kind: str, value: float | None) -> str:
    """A figure as the page writes it (text.js KINDS)."""
    if value is None:
        return "—"
    if kind == "count":
        return decimals(value, 0)
    if kind == "rate":
        return f"{decimals(value * 100, 1)} %"
    if kind == "duration":
        if abs(value) < 120:
            return f"{decimals(value, 0)} s"
        return f"{decimals(value / 60, 1)} min"
    return f"{decimals(value, 2)} / h"


def expected_change(kind: str, now: float | None, before: float | None) -> str:
    if now is None or before is None or (kind == "count" and not before):
        return "no earlier figure"
    text = _moved(kind, now, before)
    return text if re.search("[1-9]", text) else text.lstrip("+-")  # too small to show


def _moved(kind: str, now: float, before: float) -> str:
    if kind == "count":
        moved = (now - before) / before * 100
        return f"{signed(decimals(moved, 1), moved)} %"
    if kind == "rate":
        return f"{signed(decimals((now - before) * 100, 1), now - before)} pts"
    if kind == "duration":
        return f"{signed(decimals((now - before) / 60, 1), now - before)} min"
    return f"{signed(decimals(now - before, 2), now - before)} / h"


async def seeded(server: RunningServer) -> None:
    plan = Plan(days=16, drivers=3, stops=6, seed=11)
    await seed(server.services.pool, server.services.settings, plan)


async def read_api(server: RunningServer, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=server.base_url, headers=ADMIN) as client:
        answer = await client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def sign_in(page: Page, base_url: str, key: str, query: str = "") -> None:
    await page.goto(f"{base_url}/insights{query}")
    await page.get_by_label("Dispatcher API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()


async def check_tiles(page: Page, summary: dict[str, Any]) -> None:
    for name, (read, kind) in TILES.items():
        tile = page.locator(f'#kpis li[data-kpi="{name}"]')
        now, before = read(summary["current"]), read(summary["previous"])
        await expect(tile.locator(".value")).to_have_text(expected(kind, now))
        await expect(tile.locator(".change")).to_have_text(expected_change(kind, now, before))


def coloured_pixels(png: bytes, colour: tuple[int, int, int], tolerance: int = 24) -> int:
    raw = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    pixels = (raw[i : i + 3] for i in range(0, len(raw), 3))
    return sum(
        1
        for pixel in pixels
        if all(
            abs(channel - want) <= tolerance for channel, want in zip(pixel, colour, strict=True)
        )
    )


@asynccontextmanager
async def held(page: Page, pattern: str) -> AsyncIterator[asyncio.Event]:
    """Answers to `pattern` wait until the event is set (then, and after, go through
    unchanged)."""
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route(pattern, hold)
    try:
        yield release
    finally:
        release.set()


async def test_the_page_shows_the_apis_figures_charts_tables_filters_and_exports(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, browsing(browser) as b:
        await seeded(server)
        page = b.page
        # Reached from the fleet map's header, with the same sign-in.
        await page.goto(f"{server.base_url}/dispatch")
        await page.get_by_label("Dispatcher API key").fill(ADMIN_TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name="Insights").click()
        summary = await read_api(server, "/api/insights/summary")
        period = summary["current"]
        assert period["attempts"] > 0 and summary["previous"]["attempts"] > 0
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
        assert page.url.endswith(f"/insights?from={period['from']}&to={period['to']}")
        await expect(page.locator("#period")).to_have_text(
            f"{period['from']} to {period['to']} · days in UTC"
        )
        await check_tiles(page, summary)
        dispatch_row = page.locator('#eta-table tr[data-horizon="dispatch"] td')
        eta = period["eta"]["dispatch"]
        await expect(dispatch_row.nth(0)).to_have_text(expected("count", eta["n"]))
        await expect(dispatch_row.nth(2)).to_have_text(expected("duration", eta["p90_abs_error_s"]))
        for reason, count in period["failure_reasons"].items():
            await expect(page.locator(f'#failures li[data-reason="{reason}"]')).to_contain_text(
                f"{count} ("
            )

        # The charts draw the series: the deliveries' bars are there, in their colour.
        await b.shot("insights-laptop")
        bars = await page.locator("#chart-deliveries canvas").screenshot()
        assert coloured_pixels(bars, BARS) > 500
        on_time = await page.locator("#chart-on-time canvas").screenshot()
        assert coloured_pixels(on_time, (0x1E, 0x7B, 0x34), tolerance=60) > 50

        # The tables: a row per driver and zone the API has, sortable.
        drivers = (await read_api(server, "/api/insights/drivers"))["rows"]
        zones = (await read_api(server, "/api/insights/zones"))["rows"]
        driver_rows = page.locator("#drivers-table tbody tr")
        await expect(driver_rows).to_have_count(len(drivers))
        await expect(page.locator("#zones-table tbody tr")).to_have_count(len(zones))
        most = max(drivers, key=lambda r: (r["failed"], -r["driver_id"]))
        await page.locator("#drivers-table").get_by_role("button", name="Failed").click()
        await expect(page.locator("#drivers-table th[aria-sort]")).to_have_attribute(
            "aria-sort", "descending"
        )
        await expect(driver_rows.first.locator("td").nth(1)).to_have_text(str(most["failed"]))
        # From the keyboard: the pressed heading keeps the focus; Enter turns the order.
        failed_heading = page.locator("#drivers-table").get_by_role("button", name="Failed")
        await expect(failed_heading).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#drivers-table th[aria-sort]")).to_have_attribute(
            "aria-sort", "ascending"
        )
        least = min(r["failed"] for r in drivers)
        await expect(driver_rows.first.locator("td").nth(1)).to_have_text(str(least))

        # Export: the drivers' table as the API's CSV, downloaded with the key.
        async with page.expect_download() as waiting:
            await page.locator('button.export[data-table="drivers"]').click()
        download = await waiting.value
        assert download.suggested_filename == "insights-drivers.csv"
        text = (await download.path()).read_text()
        exported = list(csv.DictReader(io.StringIO(text)))
        assert [r["driver_id"] for r in exported] == [str(r["driver_id"]) for r in drivers]
        assert {r["time_zone"] for r in exported} == {"UTC"}

        # A driver filter: the URL says so, and the figures are that driver's.
        one = drivers[0]["driver_id"]
        await page.get_by_label("Driver", exact=True).select_option(str(one))
        await expect(page).to_have_url(f"{server.base_url}/insights?from={period['from']}"
                                       f"&to={period['to']}&driver_id={one}")  # fmt: skip
        theirs = await read_api(server, "/api/insights/summary", driver_id=one)
        assert theirs["current"]["deliveries"] != period["deliveries"]
        await check_tiles(page, theirs)
        await expect(driver_rows).to_have_count(1)
        # The orders created in the period, that driver's, as the orders export has them.
        async with page.expect_download() as waiting:
            await page.locator('button.export[data-table="orders"]').click()
        orders_csv = (await (await waiting.value).path()).read_text()
        created = await db.fetch(
            """SELECT id FROM orders WHERE driver_id = $1 AND created_at >= $2::timestamptz
               AND created_at < $3::timestamptz ORDER BY id""",
            one,
            datetime.fromisoformat(period["from_at"]),
            datetime.fromisoformat(period["to_at"]),
        )
        exported_ids = [int(r["id"]) for r in csv.DictReader(io.StringIO(orders_csv))]
        assert exported_ids == [r["id"] for r in created] and exported_ids

        # Weekly buckets: in the URL, and the series' export is of those.
        await page.get_by_label("Chart by").select_option("week")
        await expect(page).to_have_url(re.compile(r"&bucket=week$"))
        await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
        async with page.expect_download() as waiting:
            await page.locator('button.export[data-table="series"]').click()
        series_csv = (await (await waiting.value).path()).read_text()
        series = await read_api(server, "/api/insights/series", driver_id=one, bucket="week")
        assert [
            (r["bucket"], r["deliveries"]) for r in csv.DictReader(io.StringIO(series_csv))
        ] == [(r["bucket"], str(r["deliveries"])) for r in series["rows"]]

        # A longer period (and the period before it), then a zone: the numbers follow again.
        first_day = summary["previous"]["from"]
        await page.get_by_label("From", exact=True).fill(first_day)
        wider = await read_api(
            server,
            "/api/insights/summary",
            driver_id=one,
            **{"from": first_day, "to": period["to"]},
        )
        await check_tiles(page, wider)
        span = {"from": first_day, "to": period["to"]}
        theirs_by_zone = await read_api(server, "/api/insights/zones", driver_id=one, **span)
        zone = max(theirs_by_zone["rows"], key=lambda r: (r["deliveries"], r["zone"]))["zone"]
        await page.get_by_label("Zone", exact=True).select_option(zone)
        in_zone = await read_api(server, "/api/insights/summary", driver_id=one, zone=zone, **span)
        assert in_zone["current"]["deliveries"] > 0
        await expect(page.locator('#kpis li[data-kpi="deliveries"] .value')).to_have_text(
            expected("count", in_zone["current"]["deliveries"])
        )
        # The view is shareable: the same URL in another tab shows the same figures.
        shared = page.url
        other = await b.new_page()
        await other.goto(shared)  # the key is per tab: sign in there
        await other.get_by_label("Dispatcher API key").fill(ADMIN_TOKEN)
        await other.get_by_role("button", name="Sign in").click()
        await check_tiles(other, in_zone)
        await expect(other.get_by_label("Zone", exact=True)).to_have_value(zone)
        # Back: the view before the zone was chosen.
        await page.go_back()
        await check_tiles(page, wider)


async def test_states_support_key_bad_key_and_tablet_width(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server:
        await seeded(server)
        agent = await support_key(server)
        async with browsing(browser) as b:
            await sign_in(b.page, server.base_url, "not-a-key")
            await expect(b.page.locator("#signin-error")).to_contain_text("not accepted")
            await b.page.get_by_label("Dispatcher API key").fill(agent)
            await b.page.get_by_role("button", name="Sign in").click()
            state = b.page.locator("#state")
            await expect(state).to_have_attribute("data-state", "forbidden")
            await expect(state).to_contain_text("only dispatcher and admin keys")
            await expect(b.page.locator("#report")).to_be_hidden()
            await expect(b.page.locator("#filters")).to_be_hidden()
        async with browsing(browser) as b:
            page = b.page
            await page.set_viewport_size({"width": 768, "height": 1024})  # a tablet, upright
            async with held(page, "**/api/insights/summary*") as release:
                await sign_in(page, server.base_url, ADMIN_TOKEN)
                await expect(page.locator("#state")).to_have_text("Loading the figures…")
                release.set()
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            await expect(page.locator("#chart-eta canvas")).to_be_visible()
            await b.shot("insights-tablet")
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], f"horizontal scroll at 768 px: {widths}"
            # A period with nothing recorded, then one the API refuses.
            await page.goto(f"{server.base_url}/insights?from=2020-01-06&to=2020-01-12")
            await expect(page.locator("#state")).to_have_text(
                "Nothing was delivered or attempted from 2020-01-06 to 2020-01-12. "
                "Choose another period."
            )
            await expect(page.locator("#report")).to_be_hidden()
            await page.goto(f"{server.base_url}/insights?from=2020-01-06&to=2020-01-12&zone=zzzzz")
            await expect(page.locator("#state")).to_have_attribute("data-state", "error")
            await expect(page.locator("#state")).to_contain_text("no delivery was recorded in zone")
            await page.goto(f"{server.base_url}/insights?from=2020-01-01&to=2022-01-01")
            await expect(page.locator("#state")).to_contain_text("TRACKER_INSIGHTS_MAX_RANGE_DAYS")
