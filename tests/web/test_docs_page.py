"""`/docs`: Swagger UI (served from web/node_modules, nothing from outside) renders the
server's own /openapi.json under the pages' Content-Security-Policy."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, ConsoleMessage, expect

from server.base.settings import Settings
from server.edges.rest.openapi import TITLE
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings


async def test_the_docs_page_shows_the_api(
    browser: Browser, settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(web_settings(settings)) as server, browsing(browser) as b:
        refused: list[str] = []

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                refused.append(message.text)

        b.page.on("console", console)
        answer = await b.page.goto(server.base_url + "/docs")
        assert answer is not None and answer.status == 200
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        await expect(b.page.get_by_role("heading", name=TITLE)).to_be_visible()
        orders = b.page.locator(".opblock", has_text="/api/orders/{order_id}/status").first
        await expect(orders).to_be_visible()
        await orders.locator(".opblock-summary").click()  # expands: its responses listed
        refusal = orders.locator(".response-col_status", has_text="409")
        await expect(refusal).to_be_visible()
        await b.shot("docs")
    assert not refused, f"the page logged errors (CSP violations among them?): {refused}"
