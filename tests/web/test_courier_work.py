"""The courier page as a work tool, in Chromium against a real server: the run from the
socket, arrived / delivered with proof (photo, drawn signature, PIN wrong then right) /
failed, messages from dispatch, and work done offline sent once when the signal is back."""

from __future__ import annotations

import io
from typing import Any

import asyncpg
from PIL import ExifTags, Image
from playwright.async_api import Browser, Geolocation, Page, Request, Route, expect

from server.base.settings import Settings
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.images import phone_photo
from tests.web.conftest import WAIT_MS, browsing, web_settings
from tests.web.test_driver_page import until

LAT, LON = 41.1500, -8.6100


async def timeline(dispatch: Dispatch, order_id: int) -> list[dict[str, Any]]:
    response = await dispatch.client.get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["timeline"])


async def statuses(dispatch: Dispatch, order_id: int) -> list[str]:
    return [entry["status"] for entry in await timeline(dispatch, order_id)]


async def new_stop(dispatch: Dispatch, driver_id: int, reference: str, **fields: Any) -> int:
    destination = {"lat": LAT, "lon": LON, "address": f"Rua das Flores {reference}, Porto"}
    order = await dispatch.order(reference=reference, destination=destination, **fields)
    await dispatch.out_for_delivery(order["id"], driver_id)
    return int(order["id"])


SMALL_TARGETS = """(root) => [...document.querySelector(root).querySelectorAll(
    "button, a, input, select, textarea")]
  .filter((e) => e.getClientRects().length > 0)
  .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
  .filter(([, box]) => box.height < 44 || box.width < 44)
  .map(([name, box]) => `${name}: ${box.width}x${box.height}`)"""


async def small_targets(page: Page, root: str) -> list[str]:
    """Visible controls under `root` smaller than 44 by 44 CSS px (docs/pages.md)."""
    return list(await page.evaluate(SMALL_TARGETS, root))


async def sign_in(page: Page, base_url: str, token: str) -> None:
    await page.goto(f"{base_url}/driver")
    await page.get_by_label("Your driver token").fill(token)
    await page.get_by_role("button", name="Sign in").click()


async def sign(page: Page) -> None:
    """Draw a signature on the pad with the mouse, as a finger would."""
    box = await page.locator("#signature").bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    for i in range(1, 9):
        await page.mouse.move(x + i * 25, y + (15 if i % 2 else -15), steps=4)
    await page.mouse.up()


async def test_a_courier_works_their_run_with_proof_failure_and_messages(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    # Email configured (to a closed port), so customers' messages land in the outbox.
    mail = {"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_security": "none"}
    async with run_server(web_settings(settings, **mail)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        first = await new_stop(dispatch, driver_id, "A-1", delivery_pin=True)
        second = await new_stop(dispatch, driver_id, "B-2")
        pin = await db.fetchval("SELECT pin FROM delivery_pins WHERE order_id = $1", first)
        wrong = "0000" if pin != "0000" else "1111"

        # The courier ~500 m south of the stops, on shift: the run gains ETAs.
        here: Geolocation = {"latitude": LAT - 0.0045, "longitude": LON, "accuracy": 8}
        async with browsing(browser, geolocation=here, permissions=["geolocation"]) as b:
            page = b.page
            await sign_in(page, server.base_url, token)

            # The run, in order, the first stop current, with its navigation hand-offs.
            cards = page.locator("#run > li")
            await expect(cards).to_have_count(2)
            one, two = cards.nth(0), cards.nth(1)
            await expect(one).to_have_attribute("aria-current", "step")
            await expect(one.get_by_role("heading")).to_contain_text("A-1")
            await expect(one).to_contain_text("Rua das Flores A-1, Porto")
            await expect(one).to_contain_text("For Cleo")
            await expect(one.locator(".stop-status")).to_have_text("On the way")
            await expect(two.get_by_role("heading")).to_contain_text("B-2")
            await page.get_by_role("button", name="Start shift").click()
            await expect(page.locator("#acked")).to_have_text("1")
            # The run carries ETAs once one moves materially (server/live/courier_runs.py):
            # 110 m closer, at the provisional route's pace, is more than a tenth of the time.
            closer: Geolocation = {"latitude": LAT - 0.0035, "longitude": LON, "accuracy": 8}
            await b.context.set_geolocation(closer)
            await expect(page.locator("#acked")).to_have_text("2")
            await expect(one.locator(".eta")).to_contain_text("ETA")
            await expect(one.locator(".eta")).to_contain_text("m)")  # the distance left
            geo = f"geo:{LAT},{LON}?q={LAT},{LON}(Rua%20das%20Flores%20A-1%2C%20Porto)"
            await expect(one.get_by_role("link", name="Maps app")).to_have_attribute("href", geo)
            google = one.get_by_role("link", name="Google Maps")
            await expect(google).to_have_attribute(
                "href", f"https://www.google.com/maps/dir/?api=1&destination={LAT},{LON}"
            )
            await b.shot("courier-run")
            assert not await small_targets(page, "#app")

            # Arrived: stored, and the stop says so (from the run the server sends back).
            await one.get_by_role("button", name="Arrived").click()
            await until(lambda: _has(dispatch, first, "arrived"), "the arrival stored")
            await expect(one.locator(".stop-status")).to_have_text("Arrived")
            await expect(one.get_by_role("button", name="Arrived")).to_have_count(0)

            # Delivered: a phone photo (GPS in its EXIF), a drawn signature, a wrong PIN...
            await one.get_by_role("button", name="Delivered").click()
            dialog = page.get_by_role("dialog", name="Delivered: A-1")
            await expect(dialog).to_be_visible()
            await dialog.get_by_label("Photo of the parcel").set_input_files(
                {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
            )
            await expect(dialog.get_by_role("img", name="The photo you took")).to_be_visible()
            await sign(page)
            await expect(page.locator("#signature-state")).to_have_text("Signed.")
            assert not await small_targets(page, "#proof-dialog")
            await dialog.get_by_label("Recipient's name").fill("Dora")
            await dialog.get_by_label("Delivery PIN").fill(wrong)
            await dialog.get_by_role("button", name="Confirm delivery").click()
            # ...is refused plainly, the dialog comes back with everything kept...
            await expect(page.locator("#proof-error")).to_contain_text("wrong delivery PIN")
            await expect(page.locator("#proof-error")).to_contain_text("tries left")
            await expect(dialog).to_be_visible()
            await expect(page.locator("#refusals")).to_contain_text(
                "Proof of delivery · A-1: not accepted (422)"
            )
            assert "delivered" not in await statuses(dispatch, first)
            await b.shot("courier-wrong-pin")
            # ...and with the right one the proof and the delivery are stored.
            await dialog.get_by_label("Delivery PIN").fill(pin)
            await dialog.get_by_role("button", name="Confirm delivery").click()
            await until(lambda: _has(dispatch, first, "delivered"), "the delivery stored")
            await expect(page.locator("#outbox-count")).to_have_text("0")
            await expect(page.locator("#refusals > li")).to_have_count(0)  # settled now
            await expect(cards).to_have_count(1)

            proof = (await dispatch.client.get(f"/api/orders/{first}/proof")).json()
            assert proof["recipient_name"] == "Dora" and proof["pin_verified"] is True
            assert proof["signature"]["media_type"] == "image/png"
            signature = Image.open(
                io.BytesIO((await dispatch.client.get(proof["signature"]["url"])).content)
            )
            assert signature.getchannel("A").getbbox() is not None, "the signature is blank"
            photo = await dispatch.client.get(proof["photo"]["url"])
            stored = Image.open(io.BytesIO(photo.content))
            assert stored.format == "JPEG" and len(stored.getexif()) == 0
            assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)

            # Failed, with a reason code and a note.
            await cards.nth(0).get_by_role("button", name="Failed").click()
            failed = page.get_by_role("dialog", name="Failed: B-2")
            await failed.get_by_label("Why").select_option("no_access")
            await failed.get_by_label("Note").fill("Gate locked")
            await failed.get_by_role("button", name="Report failed delivery").click()
            await until(lambda: _has(dispatch, second, "failed"), "the failure stored")
            entry = (await timeline(dispatch, second))[-1]
            assert entry["reason"] == "no_access" and entry["note"] == "Gate locked"
            await expect(page.locator("#run-empty")).to_be_visible()

            # The customers heard of each outcome once.
            for order_id, event in ((first, "delivered"), (second, "failed")):
                sent = await db.fetchval(
                    "SELECT count(*) FROM outbox WHERE order_id = $1 AND event = $2"
                    " AND channel = 'email'",
                    order_id,
                    event,
                )
                assert sent == 1, (order_id, event, sent)

            # A message from dispatch: listed newest first and announced.
            for text in ("Parcel 3 goes to the back door", "Call me when free"):
                sent = await dispatch.client.post(
                    f"/api/drivers/{driver_id}/messages", json={"text": text}
                )
                assert sent.status_code == 201, sent.text
                await expect(page.locator("#message-news")).to_contain_text(text)
            await expect(page.locator("#messages > li").first).to_contain_text("Call me when free")
            await expect(page.locator("#messages > li")).to_have_count(2)
            await b.shot("courier-messages")


async def _has(dispatch: Dispatch, order_id: int, status: str) -> bool:
    return status in await statuses(dispatch, order_id)


async def test_offline_the_page_opens_and_work_is_sent_once_when_back(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order_id = await new_stop(dispatch, driver_id, "C-3")
        later_id = await new_stop(dispatch, driver_id, "E-5")

        async with browsing(browser) as b:
            page = b.page
            await sign_in(page, server.base_url, token)
            await expect(page.locator("#run > li")).to_have_count(2)
            # The service worker has the whole shell once it controls the page.
            await page.wait_for_function(
                "() => navigator.serviceWorker.controller !== null", timeout=WAIT_MS
            )

            await b.context.set_offline(True)
            await page.reload()
            card = page.locator("#run > li").first
            await expect(card.get_by_role("heading")).to_contain_text("C-3")  # from the phone
            await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
            await card.get_by_role("button", name="Arrived").click()
            await expect(page.locator("#outbox-count")).to_have_text("1")
            await expect(page.locator("#outbox")).to_contain_text("Arrived · C-3")
            await expect(page.locator("#outbox")).to_contain_text("Waiting for signal")
            await expect(card.locator(".stop-status")).to_contain_text("waiting to send")
            await b.shot("courier-offline-queued")

            # A delivery with its proof, offline too (the signature pad from the cache)...
            later = page.locator("#run > li").nth(1)
            await later.get_by_role("button", name="Delivered").click()
            dialog = page.get_by_role("dialog", name="Delivered: E-5")
            await expect(page.locator("#proof-pin-field")).to_be_hidden()  # E-5 has no PIN
            await dialog.get_by_label("Photo of the parcel").set_input_files(
                {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
            )
            await sign(page)
            await expect(page.locator("#signature-state")).to_have_text("Signed.")
            await dialog.get_by_role("button", name="Confirm delivery").click()
            await expect(page.locator("#outbox-count")).to_have_text("3")
            # ...and the phone closes the page: all of it, photo included, waits on it.
            await page.reload()
            await expect(page.locator("#outbox-count")).to_have_text("3")
            await expect(later.locator(".stop-status")).to_have_text("Delivered (waiting to send)")
            assert "arrived" not in await statuses(dispatch, order_id)
            assert "delivered" not in await statuses(dispatch, later_id)

            # Back online, the first answer is lost on the way back: the page sends again,
            # with the same key, and the server stores the arrival once.
            keys: list[str | None] = []

            async def lose_first_answer(route: Route, request: Request) -> None:
                keys.append(await request.header_value("idempotency-key"))
                if len(keys) == 1:
                    await route.fetch()  # the server does it...
                    await route.abort("connectionreset")  # ...the phone never hears
                else:
                    await route.continue_()

            await page.route(f"**/api/orders/{order_id}/status", lose_first_answer)
            await b.context.set_offline(False)
            await expect(page.locator("#outbox-count")).to_have_text("0")
            assert len(keys) == 2 and keys[0] == keys[1] and keys[0], keys
            assert (await statuses(dispatch, order_id)).count("arrived") == 1
            assert (await statuses(dispatch, later_id)).count("delivered") == 1
            await expect(card.locator(".stop-status")).to_have_text("Arrived")
            proof = (await dispatch.client.get(f"/api/orders/{later_id}/proof")).json()
            assert proof["photo"]["media_type"] == "image/jpeg" and proof["signature"]


async def test_a_server_error_is_retried_and_a_refusal_shown_and_dropped(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        other_id, _ = await server.create_driver("Bo")
        order_id = await new_stop(dispatch, driver_id, "D-4")

        async with browsing(browser) as b:
            page = b.page
            await sign_in(page, server.base_url, token)
            card = page.locator("#run > li").first
            await expect(card.get_by_role("heading")).to_contain_text("D-4")

            # Tapped without signal; meanwhile dispatch gives the stop to another courier.
            await b.context.set_offline(True)
            await card.get_by_role("button", name="Arrived").click()
            await expect(page.locator("#outbox-count")).to_have_text("1")
            await dispatch.assign(order_id, other_id)

            # The first answers are a 503 and a 429 (retried, same key), then the server's 403:
            # shown in its words, and the action leaves the outbox.
            keys: list[str | None] = []

            async def unavailable_then_busy(route: Route, request: Request) -> None:
                keys.append(await request.header_value("idempotency-key"))
                if len(keys) == 1:
                    await route.fulfill(status=503, json={"error": "storage unavailable"})
                elif len(keys) == 2:
                    busy = {"error": "too many requests"}
                    await route.fulfill(status=429, json=busy, headers={"Retry-After": "1"})
                else:
                    await route.continue_()

            await page.route(f"**/api/orders/{order_id}/status", unavailable_then_busy)
            await b.context.set_offline(False)
            refusal = "Arrived · D-4: not accepted (403): this order is not on your run"
            await expect(page.locator("#refusals")).to_contain_text(refusal)
            await expect(page.locator("#outbox-count")).to_have_text("0")
            assert len(keys) == 3 and keys[0] == keys[1] == keys[2], keys
            assert "arrived" not in await statuses(dispatch, order_id)
            await expect(page.locator("#run > li")).to_have_count(0)  # the run moved on
            await b.shot("courier-refused")
