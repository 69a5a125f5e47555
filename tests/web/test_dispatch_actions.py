"""The dispatcher acts from the page, in real Chromium against a real server: creates an
order by clicking the map and assigns it, reorders a run by dragging and from the keyboard,
messages the courier, changes a status with a note and cancels. Each change shows live on
a second dispatcher's page (another browser context) and on the courier's socket."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.server.courier import fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.watcher import Message, Watcher
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import open_driver, sign_in, stop, stop_names


def run_ids(message: Message) -> list[int]:
    return [s["order_id"] for s in message["stops"]]


async def db_run(db: asyncpg.Connection, driver_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM orders WHERE driver_id = $1 AND stop_index IS NOT NULL ORDER BY stop_index",
        driver_id,
    )
    return [r["id"] for r in rows]


async def test_dispatchers_create_assign_reorder_and_message_seen_live_everywhere(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        ana, token = await server.create_driver("Ana", phone="+351912345678")
        r1 = (await dispatch.order(11.93, 50.30, reference="R-1"))["id"]
        r2 = (await dispatch.order(11.95, 50.30, reference="R-2"))["id"]
        await dispatch.assign(r1, ana)
        await dispatch.assign(r2, ana)
        async with (
            Watcher(f"{server.ws_url}/ws/driver?token={token}") as courier,
            browsing(browser) as a,
            browsing(browser) as b,
        ):
            assert run_ids(courier.of_type("run")[0]) == [r1, r2]
            since = courier.mark()
            await courier.send(fix(1, now() - timedelta(seconds=3), 11.90, 50.30, battery=0.62))
            await courier.next_of("ack", lambda m: 1 in m["seqs"], since)
            for page in (a.page, b.page):
                await sign_in(page, server.base_url)
                await open_driver(page, ana, "Ana")
            facts = a.page.locator("#detail-facts")
            await expect(facts).to_contain_text("+351912345678")
            await expect(facts).to_contain_text("62 %")
            await expect(facts).to_contain_text("own page")
            await expect(facts).to_contain_text("s ago")

            # A: a new order, its destination clicked on the map, assigned to Ana at once.
            page = a.page
            await page.locator("#new-order summary").click()
            await page.get_by_label("Reference (optional)").fill("N-1")
            await page.get_by_label("Address", exact=True).fill("Rua Nova 5")
            await page.get_by_label("Customer name").fill("Dora")
            await expect(page.get_by_label("Latitude")).to_have_value("")
            await page.locator("#map").click(position={"x": 120, "y": 90})
            await expect(page.get_by_label("Latitude")).not_to_have_value("")
            await expect(page.locator(".pick-marker")).to_have_count(1)
            lat = float(await page.get_by_label("Latitude").input_value())
            lon = float(await page.get_by_label("Longitude").input_value())
            await page.get_by_label("Assign to (optional)").select_option(str(ana))
            since = courier.mark()
            await page.get_by_role("button", name="Create order").click()
            await expect(page.locator("#order-form-done")).to_contain_text(
                "Order N-1 created and put at the end of Ana"
            )
            created = await courier.next_of("run", lambda m: len(m["stops"]) == 3, since)
            n1 = run_ids(created)[2]
            order = (await dispatch.client.get(f"/api/orders/{n1}")).json()
            assert order["reference"] == "N-1" and order["driver_id"] == ana
            assert order["customer"]["name"] == "Dora"
            assert order["destination"] == {"lat": lat, "lon": lon, "address": "Rua Nova 5"}
            assert run_ids(created) == [r1, r2, n1]
            await expect(page.locator("#order-heading")).to_have_text("Order N-1")
            for p in (page, b.page):
                await expect(stop_names(p)).to_have_text(
                    ["R-1: Order confirmed", "R-2: Order confirmed", "N-1: Order confirmed"]
                )

            # A drags N-1 onto R-1's upper half: first. B and the courier follow.
            since = courier.mark()
            await (
                stop(page, n1)
                .locator(".grip")
                .drag_to(stop(page, r1), target_position={"x": 40, "y": 3})
            )
            moved = await courier.next_of("run", lambda m: run_ids(m) == [n1, r1, r2], since)
            assert [s["reference"] for s in moved["stops"]] == ["N-1", "R-1", "R-2"]
            for p in (page, b.page):
                await expect(stop_names(p)).to_have_text(
                    ["N-1: Order confirmed", "R-1: Order confirmed", "R-2: Order confirmed"]
                )
            await expect(page.locator("#run-status")).to_have_text("N-1 moved before R-1.")

            # The keyboard path: R-2 up, twice, focus staying on its button.
            up = page.get_by_role("button", name="Move R-2 up")
            await up.focus()
            since = courier.mark()
            await page.keyboard.press("Enter")
            await courier.next_of("run", lambda m: run_ids(m) == [n1, r2, r1], since)
            await expect(stop_names(b.page)).to_have_text(
                ["N-1: Order confirmed", "R-2: Order confirmed", "R-1: Order confirmed"]
            )
            await expect(up).to_be_focused()
            await expect(up).not_to_have_attribute("aria-disabled", "true")
            since = courier.mark()
            await page.keyboard.press("Enter")
            await courier.next_of("run", lambda m: run_ids(m) == [r2, n1, r1], since)
            await expect(stop_names(b.page).first).to_have_text("R-2: Order confirmed")
            # First now: "up" is disabled, so focus moved to "down" of the same stop.
            await expect(page.get_by_role("button", name="Move R-2 down")).to_be_focused()
            assert await db_run(db, ana) == [r2, n1, r1]

            # A message to the courier, from A's detail panel.
            since = courier.mark()
            await page.get_by_label("Message to the courier").fill("Gate code 4711")
            await page.get_by_role("button", name="Send message").click()
            message = await courier.next_of("message", since=since)
            assert message["text"] == "Gate code 4711" and message["from"] == "admin"
            await expect(page.locator("#messages-sent")).to_contain_text("Sent: Gate code 4711")
            await a.shot("dispatch-actions")


async def test_statuses_with_notes_cancelling_and_refusals_shown_plainly(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        ana, token = await server.create_driver("Ana")
        bruno, _ = await server.create_driver("Bruno")
        r1 = (await dispatch.order(11.93, 50.30, reference="R-1"))["id"]
        await dispatch.assign(r1, ana)
        async with (
            Watcher(f"{server.ws_url}/ws/driver?token={token}") as courier,
            browsing(browser) as a,
            browsing(browser) as b,
        ):
            since = courier.mark()
            await courier.send(fix(1, now(), 11.90, 50.30))
            await courier.next_of("ack", lambda m: 1 in m["seqs"], since)
            for p in (a.page, b.page):
                await sign_in(p, server.base_url)
                await open_driver(p, ana, "Ana")
            page = a.page

            # A 422 names the field, which is marked and focused; nothing is created.
            await page.locator("#new-order summary").click()
            await page.get_by_label("Customer name").fill("Eve")
            await page.get_by_label("Latitude").fill("50,31")  # a decimal comma is fine
            await page.get_by_label("Longitude").fill("11.92x")  # this is not
            await page.get_by_role("button", name="Create order").click()
            problem = page.locator("#order-form-problem")
            await expect(problem).to_contain_text("decimal degrees")
            await expect(page.get_by_label("Longitude")).to_be_focused()
            await page.get_by_label("Longitude").fill("11.92")
            await page.get_by_label("Customer phone (optional)").fill("12")
            await page.get_by_role("button", name="Create order").click()
            await expect(problem).to_contain_text("Not accepted (422)")
            await expect(problem).to_contain_text("customer.phone")
            phone = page.get_by_label("Customer phone (optional)")
            await expect(phone).to_have_attribute("aria-invalid", "true")
            await expect(phone).to_be_focused()
            assert await db.fetchval("SELECT count(*) FROM orders") == 1
            # Corrected: created at the typed coordinates, the mark and the problem gone.
            await phone.fill("+351 912 345 678")
            await page.get_by_role("button", name="Create order").click()
            await expect(page.locator("#order-form-done")).to_contain_text("created (tracking")
            await expect(problem).to_be_hidden()
            await expect(phone).not_to_have_attribute("aria-invalid", "true")
            typed = await db.fetchrow(
                "SELECT customer_phone, ST_X(destination::geometry) AS lon,"
                " ST_Y(destination::geometry) AS lat"
                " FROM orders WHERE customer_name = 'Eve'"
            )
            assert typed is not None
            assert (typed["lon"], typed["lat"]) == (11.92, 50.31)
            assert typed["customer_phone"] == "+351912345678"

            # The order panel: a 409 says which statuses are allowed.
            await stop(page, r1).get_by_role("button", name="R-1: Order confirmed").click()
            await expect(page.locator("#order-heading")).to_have_text("Order R-1")
            await page.get_by_label("New status").select_option("delivered")
            await page.get_by_role("button", name="Change status").click()
            refused = page.locator("#order-problem")
            await expect(refused).to_contain_text("Not possible now (409)")
            await expect(refused).to_contain_text("cannot go from confirmed to delivered")
            await expect(refused).to_contain_text("allowed: processing")

            # A status with a note: on the timeline, on B's page live.
            await page.get_by_label("New status").select_option("processing")
            await page.get_by_label("Note (the customer sees it)").fill("Packing now")
            await page.get_by_role("button", name="Change status").click()
            await expect(page.locator("#order-timeline")).to_contain_text("Being prepared")
            await expect(page.locator("#order-timeline")).to_contain_text("Packing now")
            await expect(stop_names(b.page)).to_have_text(["R-1: Being prepared"])
            await stop(b.page, r1).get_by_role("button", name="R-1: Being prepared").click()
            await expect(b.page.locator("#order-facts")).to_contain_text("Being prepared")

            # Reassigned to Bruno: off Ana's run (her courier is told), on Bruno's.
            since = courier.mark()
            await page.get_by_label("Driver", exact=True).select_option(str(bruno))
            await page.get_by_role("button", name="Reassign").click()
            await courier.next_of("run", lambda m: run_ids(m) == [], since)
            await expect(page.locator("#order-facts")).to_contain_text("Bruno")
            await expect(b.page.locator("#order-facts")).to_contain_text("Bruno")  # live
            await expect(stop_names(b.page)).to_have_count(0)

            # Cancelling asks first; "keep it" changes nothing.
            await page.get_by_role("button", name="Cancel order…").click()
            await expect(page.locator("#cancel-question")).to_contain_text("Cancel order R-1?")
            await page.get_by_role("button", name="Keep it").click()
            await expect(page.locator("#cancel-confirm")).to_be_hidden()
            assert await db.fetchval("SELECT status FROM orders WHERE id = $1", r1) == "processing"
            await page.get_by_role("button", name="Cancel order…").click()
            await page.get_by_role("button", name="Yes, cancel it").click()
            await expect(page.locator("#order-done")).to_have_text("Status is now: Cancelled.")
            assert await db.fetchval("SELECT status FROM orders WHERE id = $1", r1) == "cancelled"
            await expect(page.get_by_role("button", name="Cancel order…")).to_be_hidden()
            # Nothing follows a cancellation: no assigning, no status form.
            await expect(page.locator("#assign-form")).to_be_hidden()
            await expect(page.locator("#status-form")).to_be_hidden()
            await a.shot("dispatch-order")
