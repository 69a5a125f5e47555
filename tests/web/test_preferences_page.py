"""The customer's message preferences page (issue 17), in a real browser: it speaks the
order's language, shows only the channels the order has, saves a change through the API,
and says plainly when the link is unknown."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings


async def test_the_page_changes_what_the_customer_hears_in_their_language(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        order = await dispatch.order(
            locale="pt-PT",
            customer={"name": "Cleo", "email": "cleo@example.com", "phone": "+351912345678"},
        )
        code = order["tracking_code"]
        email_only = await dispatch.order(reference="E-1")
        async with browsing(browser) as b:  # an en-GB browser: the order's locale wins
            page = b.page
            await page.goto(f"{server.base_url}/track/{code}/preferences")
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Mensagens sobre a sua encomenda"
            )
            assert await page.evaluate("document.documentElement.lang") == "pt-PT"
            email = page.get_by_label("Email")
            sms = page.get_by_label("Mensagem de texto (SMS)")
            await expect(email).to_be_checked()
            await expect(sms).to_be_checked()
            await sms.uncheck()
            await page.get_by_role("button", name="Guardar").click()
            await expect(page.get_by_role("status")).to_have_text("Guardado.")
            await b.shot("preferences-pt")
            await page.reload()
            await expect(page.get_by_label("Mensagem de texto (SMS)")).not_to_be_checked()
            await expect(page.get_by_label("Email")).to_be_checked()

            # An order with an email only: no SMS choice; English from the browser.
            await page.goto(f"{server.base_url}/track/{email_only['tracking_code']}/preferences")
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Messages about your order"
            )
            await expect(page.get_by_label("Email")).to_be_visible()
            await expect(page.get_by_label("Text message (SMS)")).to_be_hidden()

            await page.goto(f"{server.base_url}/track/0000-0000-0000-0000/preferences")
            await expect(page.get_by_role("alert")).to_contain_text("could not find")
        preferences = (await dispatch.client.get(f"/api/track/{code}/preferences")).json()
    assert preferences["sms"] is False and preferences["email"] is True
