"""What a customer does on the tracking page (issue 17): delivery instructions until out
for delivery, a problem report, a new attempt after a failure, a rating after delivery; a
request the state no longer allows (409) said plainly; and the page in Portuguese for a
pt-PT browser. Forms are found by their labels, as a screen reader would."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import asyncpg
from playwright.async_api import Browser, WebSocketRoute, expect

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

DEG_PER_KM = 0.01407  # of longitude at lat 50.30
LAT = 50.30
DESTINATION = (11.90 + DEG_PER_KM, LAT)
PT_WEEKDAYS = ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"]
LISBON = ZoneInfo("Europe/Lisbon")


async def test_instructions_issue_and_rating_from_the_page(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(*DESTINATION)
        await dispatch.status(order["id"], "processing", "packed", "shipped")
        words = "Ring twice <b>not bold</b>\nblue gate"
        async with browsing(browser) as b:
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            field = page.get_by_label("Delivery instructions for the courier")
            await field.fill(words)
            await page.get_by_role("button", name="Save instructions").click()
            form = page.locator("#instructions-form")
            await expect(form.locator(".form-result")).to_have_text(
                "Saved: the courier will see them."
            )
            stored = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
            assert stored["delivery_instructions"] == words.strip()

            # Out for delivery: the courier's to read, no longer the customer's to change.
            await dispatch.assign(order["id"], driver_id)
            await dispatch.status(order["id"], "out_for_delivery")
            await expect(form).to_be_hidden()
            shown = page.locator("#instructions-text")
            await expect(shown).to_have_text(words)
            assert await shown.locator("b").count() == 0  # text, never HTML

            await page.get_by_text("Report a problem").click()
            await page.get_by_label("What went wrong?").select_option("other")
            await page.get_by_role("button", name="Send report").click()  # "other" needs words
            issue = page.locator("#issue-form .form-result")
            await expect(issue).to_have_text("")
            await page.get_by_label("What went wrong?").select_option("damaged")
            await page.get_by_label("Tell us more").fill("The box was wet")
            await page.get_by_role("button", name="Send report").click()
            await expect(issue).to_contain_text("Thank you")

            await dispatch.status(order["id"], "delivered")
            await expect(page.locator("#rating-form")).to_be_visible()
            await page.get_by_label("4", exact=True).check()
            await page.get_by_label("Comment (optional)").fill("Quick")
            await page.get_by_role("button", name="Send rating").click()
            await expect(page.locator("#rating-form .form-result")).to_have_text(
                "Thank you for your rating."
            )
            await b.shot("customer-rated")
        stored = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
    assert [(i["reason"], i["text"]) for i in stored["issues"]] == [("damaged", "The box was wet")]
    assert stored["rating"]["score"] == 4 and stored["rating"]["comment"] == "Quick"


async def test_a_new_attempt_and_the_409_when_the_state_moved_on(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(*DESTINATION)
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "failed")
        code = order["tracking_code"]
        late = {"hold": False}  # the page's socket hears nothing while held: a slow network

        def relay(ws: WebSocketRoute) -> None:
            upstream = ws.connect_to_server()
            upstream.on_message(lambda message: None if late["hold"] else ws.send(message))

        async with browsing(browser) as b:
            page = b.page
            await page.route_web_socket(re.compile(r"/ws/track/"), relay)
            await page.goto(f"{server.base_url}/t/{code}")
            await expect(page.locator("#connection")).to_have_text("Live")
            reattempt = page.locator("#reattempt-form")
            await expect(reattempt).to_be_visible()
            late["hold"] = True
            async with server.http() as client:  # another tab asked first
                first = await client.post(f"/api/track/{code}/reattempt", json={})
            assert first.status_code == 200, first.text
            await page.get_by_label("When or how should we try again? (optional)").fill("After 6")
            await page.get_by_role("button", name="Ask for a new attempt").click()
            result = reattempt.locator(".form-result")
            await expect(result).to_have_text("This cannot be done now: the order is “Shipped”.")
            await expect(result).to_have_attribute("data-kind", "error")
            await b.shot("customer-reattempt-409")
            timeline = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()["timeline"]
            assert [e["status"] for e in timeline].count("shipped") == 2  # the first ask only

            # The page's own ask, on a fresh failure: the status follows live.
            late["hold"] = False
            await dispatch.assign(order["id"], driver_id)
            await dispatch.status(order["id"], "out_for_delivery", "failed")
            await expect(page.locator("#status-text")).to_have_text("Delivery attempt failed")
            await page.get_by_role("button", name="Ask for a new attempt").click()
            await expect(result).to_have_text("Done: we will plan a new delivery attempt.")
            await expect(page.locator("#status-text")).to_have_text("Shipped")
            await expect(reattempt).to_be_hidden()


async def test_the_page_in_portuguese_for_a_pt_pt_browser(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        promised = now() + timedelta(days=2)
        order = await dispatch.order(*DESTINATION, promised_by=promised.isoformat())
        await dispatch.out_for_delivery(order["id"], driver_id)
        async with (
            Courier(server.ws_url, token) as courier,
            browsing(browser, locale="pt-PT", timezone_id="Europe/Lisbon") as b,
        ):
            await courier.send(fix(1, now() - timedelta(seconds=5), 11.90, LAT, speed=9.0))
            await courier.wait_acked({1})
            page = b.page
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Em distribuição")
            await expect(page.locator("html")).to_have_attribute("lang", "pt-PT")
            await expect(page.locator("#connection")).to_have_text("Em direto")
            await expect(page.locator("#eta-heading")).to_have_text("Chegada prevista")
            await expect(page.locator("#eta-in")).to_have_text(
                re.compile(r"^dentro de \d+ min · faltam \d+,\d km$")
            )
            await expect(page.locator("#stops-before")).to_have_text("É a próxima paragem")
            await expect(page.locator("#updated")).to_have_text(
                re.compile(r"^Posição do estafeta atualizada há \d+ s$")
            )
            promise = page.locator("#promise")
            await expect(promise).to_contain_text("Prometido até")
            there = promised.astimezone(LISBON)  # not today: with its date, the Portuguese way
            day = f"{PT_WEEKDAYS[there.weekday()]}, {there.day}/{there.month}, {there:%H:%M}"
            await expect(promise).to_have_text(f"Prometido até {day}")
            await expect(page.locator("h1")).to_contain_text("A sua entrega")
            await expect(page.get_by_text("Comunicar um problema")).to_be_visible()
            assert "Promised" not in await page.locator("main").inner_text()
            await b.shot("customer-pt-PT")
