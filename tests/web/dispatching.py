"""Shared steps of the dispatcher page tests: signing in, a driver's detail, its stops."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

from tests.conftest import ADMIN_TOKEN


async def sign_in(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/dispatch")
    await page.get_by_label("Dispatcher API key").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Live")


async def open_driver(page: Page, driver_id: int, name: str) -> None:
    await page.locator(f'#driver-list li[data-driver-id="{driver_id}"] button').click()
    await expect(page.locator("#detail").get_by_role("heading", name=name)).to_be_visible()


def stop_names(page: Page) -> Locator:
    """The detail panel's stops, in their order, by the button that opens each."""
    return page.locator("#detail-stops li .stop-text button")


def stop(page: Page, order_id: int) -> Locator:
    return page.locator(f'#detail-stops li[data-order-id="{order_id}"]')
