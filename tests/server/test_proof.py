"""Proof of delivery and delivery PINs, end to end: a real server, real multipart uploads
(httpx), images checked with Pillow, the customer's email from a real SMTP receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from PIL import ExifTags, Image

from server.base.settings import Settings
from server.usecases import proof
from tests.conftest import ADMIN_TOKEN
from tests.server import images
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.receivers import MailBox, smtp_server
from tests.server.watcher import Watcher

LON, LAT = 11.92, 50.31  # the orders' destination
JPEG = "image/jpeg"


def _files(**parts: tuple[str, bytes, str]) -> dict[str, tuple[str, bytes, str]]:
    return parts


PHOTO = _files(photo=("door.jpg", images.phone_photo(), JPEG))


async def upload(
    server: RunningServer,
    order_id: int,
    token: str | None,
    key: str | None = "k1",
    files: dict[str, tuple[str, bytes, str]] | None = None,
    **data: str,
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with server.http() as client:
        return await client.post(
            f"/api/orders/{order_id}/proof",
            files=PHOTO if files is None else files,
            data=data,
            headers=headers,
        )


@dataclasses.dataclass
class Scene:
    server: RunningServer
    dispatch: Dispatch
    driver_id: int
    token: str

    async def order_out(self, **fields: Any) -> dict[str, Any]:
        order = await self.dispatch.order(LON, LAT, **fields)
        await self.dispatch.out_for_delivery(order["id"], self.driver_id)
        return order


@pytest.fixture
async def scene(settings: Settings) -> AsyncIterator[Scene]:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        yield Scene(server, dispatch, driver_id, token)


def _image(response: httpx.Response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


async def test_a_photo_is_stored_re_encoded_without_exif_with_a_thumbnail_and_a_place(
    scene: Scene, db: asyncpg.Connection
) -> None:
    source = Image.open(io.BytesIO(images.phone_photo()))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the upload does carry a location
    order = await scene.order_out()
    async with Courier(scene.server.ws_url, scene.token) as courier:
        await courier.send(fix(1, now(), LON + 0.0002, LAT, acc=8.0))  # ~14 m from the door
        await courier.wait_acked([1])
        files = _files(
            photo=("door.jpg", images.phone_photo(), JPEG),
            signature=("sig.png", images.signature_png(), "image/png"),
        )
        response = await upload(scene.server, order["id"], scene.token, files=files,
                                recipient_name="Dora")  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["recipient_name"] == "Dora" and body["pin_verified"] is False
    assert 10 < body["distance_m"] < 20 and body["position"]["accuracy_m"] == 8.0
    # The EXIF orientation (held sideways) was applied: 800x600 stands up as 600x800.
    assert (body["photo"]["width"], body["photo"]["height"]) == (600, 800)
    assert (body["photo_thumb"]["width"], body["photo_thumb"]["height"]) == (240, 320)
    assert body["signature"]["media_type"] == "image/png"

    seen = (await scene.dispatch.client.get(f"/api/orders/{order['id']}/proof")).json()
    assert seen == body
    photo = await scene.dispatch.client.get(body["photo"]["url"])
    assert photo.headers["content-type"] == JPEG
    assert photo.headers["cache-control"] == "private, no-store"
    assert photo.headers["x-content-type-options"] == "nosniff"
    stored = _image(photo)
    assert stored.format == "JPEG" and stored.size == (600, 800)
    assert len(stored.getexif()) == 0 and not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile"} & set(stored.info)
    assert len(photo.content) == body["photo"]["size_bytes"]
    thumb = _image(await scene.dispatch.client.get(body["photo_thumb"]["url"]))
    assert thumb.size == (240, 320) and len(thumb.getexif()) == 0
    signature = await scene.dispatch.client.get(body["signature"]["url"])
    drawn = _image(signature)
    assert signature.headers["content-type"] == "image/png"
    assert drawn.format == "PNG" and drawn.mode == "RGBA" and drawn.size == (400, 150)
    assert await db.fetchval("SELECT count(*) FROM proof_images") == 3


BAD_UPLOADS = [
    (_files(photo=("a.gif", images.gif(), "image/gif")), 422, "GIF format is not accepted"),
    (_files(photo=("a.jpg", b"just some text, honest", JPEG)), 422, "not an image"),
    (_files(photo=("a.jpg", images.truncated_jpeg(), JPEG)), 422, "damaged or truncated"),
    (_files(signature=("s.png", images.png_bomb(), "image/png")), 422, "pixels"),
    (_files(recipient_name=("r.txt", b"Dora", "text/plain")), 422, "a photo or a signature"),
    (_files(photo=("a.jpg", images.phone_photo((100, 80)), JPEG),
            extra=("x", b"1", "text/plain")), 422, "unknown field 'extra'"),
]  # fmt: skip


async def test_bad_uploads_are_refused_naming_the_problem_and_nothing_is_stored(
    settings: Settings, db: asyncpg.Connection
) -> None:
    small = dataclasses.replace(settings, proof_max_photo_bytes=64 * 1024)
    async with run_server(small) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(LON, LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        for files, status, problem in BAD_UPLOADS:
            response = await upload(server, order["id"], token, files=files)
            assert (response.status_code, problem in response.json()["error"]) == (status, True), (
                problem, response.text,
            )  # fmt: skip
        over = images.phone_photo((360, 240))
        assert 64 * 1024 < len(over) < 128 * 1024  # over the image limit, not the body's
        response = await upload(
            server, order["id"], token, files=_files(photo=("o.jpg", over, JPEG))
        )
        assert response.status_code == 413
        assert "photo over 65536 bytes" in response.json()["error"]
        huge = _files(photo=("h.jpg", images.phone_photo(), JPEG))  # over the whole body's
        response = await upload(server, order["id"], token, files=huge)
        assert response.status_code == 413 and "body over" in response.json()["error"]
        # Declared too large and never sent: refused from the head, not at the body deadline.
        head = (
            f"POST /api/orders/{order['id']}/proof HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nIdempotency-Key: d\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 900000000\r\n\r\n"
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", urlsplit(server.base_url).port)
        try:
            writer.write(head.encode())
            answer = await asyncio.wait_for(reader.read(4096), 10.0)  # the deadline is 30 s
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 413 ") and b"body over" in answer, answer[:200]
        response = await upload(server, order["id"], token, key=None)
        assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]
        async with server.http() as client:
            response = await client.post(
                f"/api/orders/{order['id']}/proof",
                json={"photo": "x"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "j"},
            )
        assert response.status_code == 415
    assert await db.fetchval("SELECT count(*) FROM proofs") == 0
    assert await db.fetchval("SELECT count(*) FROM proof_keys") == 0


async def test_only_the_runs_driver_uploads_and_only_dispatchers_read(scene: Scene) -> None:
    order = await scene.order_out()
    _, other_token = await scene.server.create_driver("Bo")
    response = await upload(scene.server, order["id"], other_token)
    assert response.status_code == 403 and "not on your run" in response.json()["error"]
    assert (await upload(scene.server, order["id"], None)).status_code == 401
    assert (await upload(scene.server, order["id"] + 1000, scene.token)).status_code == 404
    assert (await upload(scene.server, order["id"], scene.token)).status_code == 201
    async with scene.server.http() as client:
        as_driver = {"Authorization": f"Bearer {scene.token}"}
        for path in ("", "/photo", "/photo/thumb"):
            url = f"/api/orders/{order['id']}/proof{path}"
            assert (await client.get(url, headers=as_driver)).status_code == 401
            assert (await scene.dispatch.client.get(url)).status_code == 200
    missing = await scene.dispatch.client.get(f"/api/orders/{order['id']}/proof/signature")
    assert missing.status_code == 404


async def test_a_proof_only_for_an_order_being_delivered(scene: Scene) -> None:
    order = await scene.dispatch.order(LON, LAT)
    await scene.dispatch.assign(order["id"], scene.driver_id)
    response = await upload(scene.server, order["id"], scene.token)
    assert response.status_code == 409 and "this one is confirmed" in response.json()["error"]


async def test_a_resend_is_stored_once_and_a_new_key_replaces_the_proof(
    scene: Scene, db: asyncpg.Connection
) -> None:
    order = await scene.order_out()
    first = await upload(scene.server, order["id"], scene.token, recipient_name="Dora")
    again = await upload(scene.server, order["id"], scene.token, recipient_name="Someone else")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    signed = _files(signature=("s.png", images.signature_png(), "image/png"))
    replaced = await upload(scene.server, order["id"], scene.token, key="k2", files=signed)
    assert replaced.status_code == 201
    body = replaced.json()
    assert body["photo"] is None and body["signature"] is not None
    assert body["recipient_name"] is None
    assert await db.fetchval("SELECT count(*) FROM proofs") == 1
    assert await db.fetchval("SELECT count(*) FROM proof_images") == 1
    other = await scene.order_out()
    reused = await upload(scene.server, other["id"], scene.token, key="k2")
    assert reused.status_code == 422 and f"order {order['id']}" in reused.json()["error"]


async def _customer(server: RunningServer, code: str) -> tuple[httpx.Response, dict[str, Any]]:
    async with server.http() as client:
        photo = await client.get(f"/api/track/{code}/proof/photo")
        view = (await client.get(f"/api/track/{code}")).json()
    return photo, view


async def test_the_customer_sees_the_photo_once_delivered_unless_turned_off(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(LON, LAT)
        code = order["tracking_code"]
        await dispatch.out_for_delivery(order["id"], driver_id)
        files = _files(
            photo=("door.jpg", images.phone_photo(), JPEG),
            signature=("sig.png", images.signature_png(), "image/png"),
        )
        assert (await upload(server, order["id"], token, files=files)).status_code == 201
        photo, view = await _customer(server, code)
        assert photo.status_code == 404 and view["proof_photo_url"] is None  # not delivered yet
        await dispatch.status(order["id"], "delivered")
        photo, view = await _customer(server, code)
        assert photo.status_code == 200 and photo.headers["content-type"] == JPEG
        assert photo.headers["cache-control"] == "private, no-store"
        assert _image(photo).size == (600, 800)
        assert view["proof_photo_url"] == f"/api/track/{code}/proof/photo"
        async with server.http() as client:  # the signature is for dispatch only
            assert (await client.get(f"/api/track/{code}/proof/signature")).status_code == 404
        async with Watcher(f"{server.ws_url}/ws/track/{code}") as watcher:
            [snapshot] = watcher.of_type("snapshot")
        assert snapshot["proof_photo_url"] == view["proof_photo_url"]
    async with run_server(dataclasses.replace(settings, proof_photo_to_customer=False)) as server:
        photo, view = await _customer(server, code)
        assert photo.status_code == 404 and view["proof_photo_url"] is None
        assert view["status"] == "delivered"


@pytest.fixture
async def mailbox() -> AsyncIterator[MailBox]:
    async with smtp_server() as box:
        yield box


def _mailing(settings: Settings, mailbox: MailBox) -> Settings:
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        notify_poll_interval_s=0.05,
    )


async def test_a_delivery_pin_is_mailed_to_the_customer_and_asked_of_the_courier(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox
) -> None:
    async with run_server(_mailing(settings, mailbox)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(LON, LAT, delivery_pin=True, reference="P-1")
        plain = await dispatch.order(LON, LAT, reference="P-2")
        for o in (order, plain):
            await dispatch.out_for_delivery(o["id"], driver_id)
        pin = await db.fetchval("SELECT pin FROM delivery_pins WHERE order_id = $1", order["id"])
        assert len(pin) == 4 and pin.isdigit()
        await mailbox.wait_for(lambda: len(mailbox.to("cleo@example.com", "out for")) == 2)
        [mail] = mailbox.to("cleo@example.com", "P-1 is out for delivery")
        text = mail.get_body(("plain",))
        assert text is not None and f"Your delivery PIN is {pin}" in text.get_content()
        [other] = mailbox.to("cleo@example.com", "P-2 is out for delivery")
        other_text = other.get_body(("plain",))
        assert other_text is not None and "PIN" not in other_text.get_content()

        async with server.services.db() as conn:
            with pytest.raises(proof.ProofRequired, match="delivery PIN"):
                await proof.require_proof(conn, order["id"])
            await proof.require_proof(conn, plain["id"])  # no PIN: nothing required
        missing = await upload(server, order["id"], token)
        assert missing.status_code == 422 and "needs the delivery PIN" in missing.json()["error"]
        wrong_pin = "0000" if pin != "0000" else "1111"
        wrong = await upload(server, order["id"], token, key="k2", pin=wrong_pin)
        assert wrong.status_code == 422 and "4 tries left" in wrong.json()["error"]
        right = await upload(server, order["id"], token, key="k3", pin=pin)
        assert right.status_code == 201 and right.json()["pin_verified"] is True
        async with server.services.db() as conn:
            await proof.require_proof(conn, order["id"])  # now it may be delivered


async def test_five_wrong_pins_lock_the_order_and_alert_dispatch(
    settings: Settings, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        run_server(settings) as server,
        Dispatch(server) as dispatch,
        Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
    ):
        driver_id, token = await server.create_driver()
        order = await dispatch.order(LON, LAT, delivery_pin=True)
        await dispatch.out_for_delivery(order["id"], driver_id)
        pin = await db.fetchval("SELECT pin FROM delivery_pins WHERE order_id = $1", order["id"])
        tries = [f"{(int(pin) + n) % 10_000:04d}" for n in range(1, 6)]
        with caplog.at_level(logging.WARNING, logger="tracker.proof"):
            answers = [
                await upload(server, order["id"], token, key=f"w{n}", pin=tried)
                for n, tried in enumerate(tries)
            ]
        assert [a.status_code for a in answers] == [422, 422, 422, 422, 423]
        assert "1 try left" in answers[3].json()["error"]
        assert "locked after 5 wrong tries" in answers[4].json()["error"]
        right = await upload(server, order["id"], token, key="r", pin=pin)
        assert right.status_code == 423  # locked stays locked, the right PIN too
        await fleet.wait_until(
            lambda: any(a["kind"] == "pin_locked" for a in fleet.of_type("alert"))
        )
    [alert] = [a for a in fleet.of_type("alert") if a["kind"] == "pin_locked"]
    assert (alert["order_id"], alert["driver_id"]) == (order["id"], driver_id)
    stored = await db.fetchrow("SELECT id, acked_at FROM alerts WHERE kind = 'pin_locked'")
    assert stored is not None and alert["id"] == stored["id"] and stored["acked_at"] is None
    logged = [r.getMessage() for r in caplog.records if r.name == "tracker.proof"]
    assert len(logged) == 5 and all("wrong delivery PIN" in line for line in logged)
    assert not any(code in line for line in logged for code in [pin, *tries])
    assert await db.fetchval("SELECT count(*) FROM proofs") == 0
