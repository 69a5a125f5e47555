"""No token, key, device id or tracking code is logged in clear, and sockets authenticate
without putting the credential in the URL (a `tracker.token.<token>` subprotocol)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

import asyncpg
import websockets
from websockets.typing import Subprotocol

from server.base.redact import redact
from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server

# uvicorn's loggers do not propagate to the root; ours ("tracker.*") do.
LOGGERS = ("", "uvicorn", "uvicorn.access")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured() -> Iterator[Capture]:
    """Every record the server's loggers emit, as formatted (with tracebacks); access
    logging on (uvicorn logs requests once its access logger has a handler)."""
    capture = Capture()
    ours = logging.getLogger("tracker")
    level = ours.level
    ours.setLevel(logging.DEBUG)
    for name in LOGGERS:
        logging.getLogger(name).addHandler(capture)
    try:
        yield capture
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(capture)
        ours.setLevel(level)


async def test_no_secret_reaches_a_log(settings: Settings, db: asyncpg.Connection) -> None:
    device_id = "device-secret-4242"
    async with run_server(settings, log_level="info") as server, Dispatch(server) as dispatch:
        with captured() as capture:
            driver_id, token = await server.create_driver(device_id=device_id)
            order = await dispatch.order()
            code = order["tracking_code"]
            async with Courier(server.ws_url, token) as courier:
                await courier.send(fix(1, now(), 11.9, 50.3))
                await courier.wait_acked([1])
            async with Courier(server.ws_url, "wrong-token-value") as stranger:
                assert await stranger.wait_closed() == 4401
            fleet_url = f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}"
            async with websockets.connect(fleet_url) as fleet:
                assert json.loads(await fleet.recv())["type"] == "snapshot"
            async with websockets.connect(f"{server.ws_url}/ws/track/{code}") as watcher:
                assert json.loads(await watcher.recv())["type"] == "snapshot"
            async with server.http() as client:
                assert (await client.get(f"/api/track/{code}")).status_code == 200
                await client.get(f"/t/{code}")
                await client.get("/osmand", params={"id": device_id, "lat": 50.3, "lon": 11.9})
                await client.get("/api/fleet", params={"token": ADMIN_TOKEN})
                await client.post(f"/api/drivers/{driver_id}/token?key={ADMIN_TOKEN}")
    text = "\n".join(capture.lines)
    # The lines are there, only without the secrets in them.
    assert "/ws/driver?token=***" in text and "/ws/track/***" in text
    assert "/api/track/***" in text and "/osmand?id=***" in text
    secrets = [token, "wrong-token-value", ADMIN_TOKEN, device_id, code, code.replace("-", "")]
    leaked = [s for s in secrets if s in text]
    assert leaked == [], [line for line in capture.lines if any(s in line for s in leaked)]


async def test_sockets_take_the_credential_in_a_subprotocol(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        courier = Courier(server.ws_url, None)
        await courier.connect(
            subprotocols=[Subprotocol("tracker"), Subprotocol(f"tracker.token.{token}")]
        )
        try:
            assert courier.ws.subprotocol == "tracker"  # what browsers require echoed
            await courier.send(fix(1, now(), 11.9, 50.3))
            await courier.wait_acked([1])
        finally:
            await courier.close()
        async with websockets.connect(
            f"{server.ws_url}/ws/fleet",
            subprotocols=[Subprotocol("tracker"), Subprotocol(f"tracker.token.{ADMIN_TOKEN}")],
        ) as fleet:
            assert fleet.subprotocol == "tracker"
            assert json.loads(await fleet.recv())["type"] == "snapshot"
        wrong = Courier(server.ws_url, None)
        await wrong.connect(
            subprotocols=[Subprotocol("tracker"), Subprotocol("tracker.token.nope")]
        )
        assert await wrong.wait_closed() == 4401


def test_redaction_keeps_what_is_not_secret() -> None:
    assert redact('1.2.3.4 - "GET /api/orders?limit=5 HTTP/1.1" 200') == (
        '1.2.3.4 - "GET /api/orders?limit=5 HTTP/1.1" 200'
    )
    assert redact("/ws/fleet?x=1&token=abc&y=2") == "/ws/fleet?x=1&token=***&y=2"
    assert redact("POST /api/drivers/7/token") == "POST /api/drivers/7/token"
    assert redact("GET /t/7KQ2-M9XD-3HVA-PR4T HTTP/1.1") == "GET /t/*** HTTP/1.1"
