"""The customer pages in the browser's language and colour scheme (issue 17): the portal in
German for a de-DE browser; dark mode from `prefers-color-scheme`, dimmed map tiles."""

from __future__ import annotations

import re

import asyncpg
from playwright.async_api import Browser, Page, expect

from server.base.settings import Settings
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.93, 50.30]]}


async def test_the_portal_speaks_german_to_a_german_browser(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with browsing(browser, locale="de-DE") as b:
            page = b.page
            # The widget too: the order has no locale, so the browser's language.
            await page.goto(f"{server.base_url}/embed/{order['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Bestellung bestätigt")
            await expect(page.locator("#full-link")).to_have_text(
                "Vollständige Sendungsverfolgung öffnen"
            )
            await expect(page.locator("#connection")).to_have_text("Live")
            await page.goto(f"{server.base_url}/embed/7KQ2-M9XD-3HVA-PR4T")  # no such order
            await expect(page.locator("#problem")).to_have_text(
                "Diese Sendungsnummer wurde nicht gefunden, oder ihr Link ist abgelaufen."
            )
            await expect(page.locator("#full-link")).to_be_hidden()
            await page.goto(f"{server.base_url}/track")
            await expect(page.locator("h1")).to_have_text("Sendung verfolgen")
            await expect(page.locator("html")).to_have_attribute("lang", "de-DE")
            await expect(page).to_have_title("Sendung verfolgen")
            await expect(page.locator("label[for=code]")).to_have_text("Sendungsnummer")
            await expect(page.locator("#code-hint")).to_contain_text("16 Buchstaben und Ziffern")
            await page.get_by_role("button", name="Verfolgen").click()
            message = page.locator("#lookup-message")
            await expect(message).to_have_text("Bitte geben Sie Ihre Sendungsnummer ein.")
            await page.fill("#code", "not a code")
            await page.get_by_role("button", name="Verfolgen").click()
            await expect(message).to_contain_text("Das sieht nicht wie eine Sendungsnummer aus")
            await page.fill("#code", "7KQ2-M9XD-3HVA-PR4T")  # well formed, no such order
            await page.get_by_role("button", name="Verfolgen").click()
            await expect(message).to_contain_text("Wir konnten diese Sendungsnummer nicht finden")
            await b.shot("portal-de")
        async with browsing(browser, locale="en-US") as b:  # and English stays English
            await b.page.goto(f"{server.base_url}/track")
            await expect(b.page.locator("h1")).to_have_text("Track a parcel")
            # A shop's hint (?lang=) speaks for an order without a locale.
            await b.page.goto(f"{server.base_url}/embed/{order['tracking_code']}?lang=fr")
            await expect(b.page.locator("#status-text")).to_have_text("Commande confirmée")


LUMINANCE = """(selector) => {
  const colour = getComputedStyle(document.querySelector(selector)).backgroundColor;
  const [r, g, b] = colour.match(/[\\d.]+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


async def luminance(page: Page, selector: str) -> float:
    value = await page.evaluate(LUMINANCE, selector)
    return float(value)


async def test_customer_pages_follow_the_dark_system_setting(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(lon=11.93, lat=50.30)
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        code = order["tracking_code"]
        async with browsing(browser, color_scheme="dark") as b:
            page = b.page
            await page.goto(f"{server.base_url}/track")
            await expect(page.locator("h1")).to_be_visible()
            assert await luminance(page, "html") < 0.15
            colour = await page.evaluate("getComputedStyle(document.body).color")
            assert sum(map(int, re.findall(r"\d+", colour)[:3])) > 3 * 180, colour  # light text
            await b.shot("portal-dark")

            await page.goto(f"{server.base_url}/embed/{code}")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            tiles = page.locator(".leaflet-tile-pane")
            await expect(tiles).to_have_count(1)  # the map came, with its library
            dimmed = await tiles.evaluate("(p) => getComputedStyle(p).filter")
            assert "brightness(0.65)" in dimmed, dimmed
            assert await luminance(page, "#eta-section") < 0.2
            await b.shot("embed-dark")

            # The tracking page too (its own rules are app.css's: variables).
            await page.goto(f"{server.base_url}/t/{code}")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            assert await luminance(page, "html") < 0.15
            await expect(page.locator(".leaflet-tile-pane")).to_have_count(1)
            dimmed = await page.locator(".leaflet-tile-pane").evaluate(
                "(p) => getComputedStyle(p).filter"
            )
            assert "brightness(0.65)" in dimmed, dimmed
            await b.shot("customer-dark")

            # The staff pages keep their light colours.
            await page.goto(f"{server.base_url}/dispatch")
            assert await luminance(page, "html") > 0.85
        async with browsing(browser, color_scheme="light") as b:
            await b.page.goto(f"{server.base_url}/embed/{code}")
            await expect(b.page.locator("#status-text")).to_have_text("Out for delivery")
            assert await luminance(b.page, "html") > 0.85
            tiles = b.page.locator(".leaflet-tile-pane")
            await expect(tiles).to_have_count(1)
            assert await tiles.evaluate("(p) => getComputedStyle(p).filter") == "none"
