"""Finding an order on the dispatcher page (customer service), in real Chromium against a
real server: a part of a customer's email finds their order and opens it; a query too
short for the index is refused in the server's words; a query matching nothing says so."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import sign_in


async def test_a_dispatcher_finds_an_order_by_part_of_the_customers_email(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        wanted = await dispatch.order(
            reference="S-1", customer={"name": "Cleo", "email": "cleo.marsh@example.com"}
        )
        await dispatch.order(
            reference="S-2", customer={"name": "Dora", "email": "dora@example.com"}
        )
        async with browsing(browser) as b:
            page = b.page
            await sign_in(page, server.base_url)
            search = page.get_by_role("search")
            results = page.locator("#search-results li")

            await search.get_by_label("Order search").fill("ma")
            await search.get_by_role("button", name="Search").click()
            await expect(page.locator("#search-problem")).to_contain_text("(422)")
            await expect(results).to_have_count(0)

            await search.get_by_label("Order search").fill("marsh@")
            await search.get_by_role("button", name="Search").click()
            await expect(page.locator("#search-summary")).to_have_text("1 order matching “marsh@”.")
            await expect(page.locator("#search-problem")).to_be_hidden()
            await expect(results).to_have_count(1)
            await results.get_by_role("button").click()
            await expect(page.locator("#order-heading")).to_have_text("Order S-1")
            assert await results.first.get_attribute("data-order-id") == str(wanted["id"])

            await search.get_by_label("Order search").fill("nobody-here")
            await search.get_by_role("button", name="Search").click()
            await expect(page.locator("#search-summary")).to_have_text(
                "No order matches “nobody-here”."
            )
            await expect(results).to_have_count(0)
