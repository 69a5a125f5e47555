"""Stored alerts and proof of delivery on the dispatcher page, in real Chromium against a
real server: open alerts survive a reload, clicking one opens its driver and order, and an
acknowledgement on one page removes the alert live from another; a courier's proof (photo,
signature, recipient, far from the address) shown after they upload it over REST."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from playwright.async_api import Browser, Locator, expect

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server import images
from tests.server.courier import fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.watcher import Watcher
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import open_driver, sign_in

LON, LAT = 11.92, 50.31  # the doors


async def failed_alert(fleet: Watcher, dispatch: Dispatch, order_id: int) -> dict[str, Any]:
    """A delivery marked failed by dispatch: a stored `failed` alert, waited for."""
    since = fleet.mark()
    response = await dispatch.client.post(
        f"/api/orders/{order_id}/status", json={"status": "failed", "note": "Nobody home"}
    )
    assert response.status_code == 200, response.text
    return await fleet.next_of(
        "alert", lambda m: m["kind"] == "failed" and m["order_id"] == order_id, since
    )


def open_alerts(locator: Locator) -> Locator:
    return locator.page.locator("#open-alerts li")


async def test_open_alerts_survive_reloads_open_their_order_and_acks_are_shared_live(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with (
        run_server(web_settings(settings)) as server,
        Dispatch(server) as dispatch,
        Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
    ):
        ana, token = await server.create_driver("Ana")
        f1 = (await dispatch.order(LON, LAT, reference="F-1"))["id"]
        g1 = (await dispatch.order(LON, LAT, reference="G-1"))["id"]
        await dispatch.out_for_delivery(f1, ana)
        await dispatch.out_for_delivery(g1, ana)
        first = await failed_alert(fleet, dispatch, f1)  # raised before any page is open
        async with (
            Watcher(f"{server.ws_url}/ws/driver?token={token}") as courier,
            browsing(browser) as a,
            browsing(browser) as b,
        ):
            since = courier.mark()
            await courier.send(fix(1, now(), LON - 0.02, LAT))
            await courier.next_of("ack", lambda m: 1 in m["seqs"], since)
            for page in (a.page, b.page):
                await sign_in(page, server.base_url)
            a_open, b_open = a.page.locator("#open-alerts li"), b.page.locator("#open-alerts li")
            for items in (a_open, b_open):
                await expect(items).to_have_count(1)
                await expect(items.first).to_contain_text("Ana failed to deliver")
                await expect(items.first).to_contain_text("Nobody home")

            second = await failed_alert(fleet, dispatch, g1)  # live, on both pages
            for items in (a_open, b_open):
                await expect(items).to_have_count(2)
            await expect(a.page.locator("#open-alerts-heading")).to_have_text("Open alerts (2)")
            await b.page.reload()  # stored: still there
            await expect(b.page.locator("#connection")).to_have_text("Live")
            await expect(b_open).to_have_count(2)

            # Clicking an alert opens its driver and its order.
            item = a.page.locator(f'#open-alerts li[data-alert-id="{first["id"]}"]')
            await item.locator("button.link").click()  # the alert's text
            await expect(a.page.locator("#order-heading")).to_have_text("Order F-1")
            await expect(a.page.locator("#order-timeline")).to_contain_text("Nobody home")
            await expect(a.page.locator("#detail-heading")).to_have_text("Ana")

            # A acknowledges: gone from A, and from B live; stored as A's.
            await item.get_by_role("button", name="Acknowledge").click()
            for page, items in ((a.page, a_open), (b.page, b_open)):
                await expect(items).to_have_count(1)
                await expect(items.first).to_have_attribute("data-alert-id", str(second["id"]))
                await expect(page.locator("#alerts")).to_contain_text("Acknowledged by admin")
            row = await db.fetchrow(
                "SELECT acked_by, acked_at FROM alerts WHERE id = $1", first["id"]
            )
            assert row is not None
            assert row["acked_by"] == "admin" and row["acked_at"] is not None
            await b.page.reload()
            await expect(b.page.locator("#connection")).to_have_text("Live")
            await expect(b_open).to_have_count(1)
            await expect(b_open.first).to_have_attribute("data-alert-id", str(second["id"]))


async def courier_post(server: RunningServer, token: str, path: str, **kwargs: Any) -> Any:
    async with server.http() as client:
        response = await client.post(
            path,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"key-{path}"},
            **kwargs,
        )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def natural_width(image: Locator) -> int:
    """The width the browser decoded the image at (it was fetched with the key)."""
    await expect(image).to_have_attribute("src", re.compile(r"^data:image/"))
    return int(await image.evaluate("img => img.decode().then(() => img.naturalWidth)"))


async def test_a_delivery_proof_uploaded_by_the_courier_is_shown_with_its_far_flag(
    settings: Settings, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        ana, token = await server.create_driver("Ana")
        p1 = (await dispatch.order(LON, LAT, reference="P-1"))["id"]
        await dispatch.out_for_delivery(p1, ana)
        async with (
            Watcher(f"{server.ws_url}/ws/driver?token={token}") as courier,
            browsing(browser) as a,
        ):
            since = courier.mark()
            await courier.send(fix(1, now(), LON + 0.02, LAT, acc=8.0))  # 1.4 km from the door
            await courier.next_of("ack", lambda m: 1 in m["seqs"], since)
            page = a.page
            await sign_in(page, server.base_url)
            await open_driver(page, ana, "Ana")
            finished = page.locator("#detail-finished")
            await expect(finished).to_have_text("Nothing yet.")
            files = {
                "photo": ("door.jpg", images.phone_photo(), "image/jpeg"),
                "signature": ("sig.png", images.signature_png(), "image/png"),
            }
            proof = await courier_post(
                server,
                token,
                f"/api/orders/{p1}/proof",
                files=files,
                data={"recipient_name": "Dora"},
            )
            done = await courier_post(
                server, token, f"/api/orders/{p1}/status", json={"status": "delivered"}
            )
            assert done["far"] is True
            # The delivery left Ana's run: her finished list, open on the page, shows it.
            await finished.get_by_role("button", name="P-1: Delivered").click()
            await expect(page.locator("#order-heading")).to_have_text("Order P-1")
            shown = page.locator("#order-proof")
            await expect(shown).to_contain_text("Dora")
            await expect(shown.locator(".far-flag")).to_contain_text("Far from the address")
            await expect(shown).to_contain_text("1.4 km from the address")
            await expect(page.locator("#order-timeline")).to_contain_text("(far from the address)")
            thumb = shown.get_by_role("img", name="Photo of the delivery")
            assert await natural_width(thumb) == proof["photo_thumb"]["width"]
            signature = shown.get_by_role("img", name="Recipient's signature")
            assert await natural_width(signature) == proof["signature"]["width"]
            await shown.get_by_role("button", name="Show the full photo").click()
            full = shown.get_by_role("img", name="Photo of the delivery, full size")
            assert await natural_width(full) == proof["photo"]["width"]
            # The far action raised a stored alert too.
            await expect(page.locator("#open-alerts")).to_contain_text("m from the address")
            await a.shot("dispatch-proof")
