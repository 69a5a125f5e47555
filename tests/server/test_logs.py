"""A real `tracker serve` process's log lines, read from its stderr: one format for every
logger (JSON or text), an access line per request and a line per socket, request ids
taken or made, echoed and carried into the app's lines, `--log-level` obeyed, and no
token or tracking code in clear."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import asyncpg
import websockets

from server.base.logs import JsonFormatter, TextFormatter
from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.processes import server_processes

HEX_ID = re.compile(r"[0-9a-f]{16}")
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+: ")
ORDER = {"customer": {"name": "Dee"}, "destination": {"lat": 50.31, "lon": 11.92}}


def where(records: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in fields.items())]


async def test_json_lines_carry_request_ids_and_no_secret(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    log_path = tmp_path / "stderr"
    env = {"TRACKER_LOG_FORMAT": "json"}
    with log_path.open("wb") as stderr:
        async with server_processes(settings, ["a"], env, "info", stderr) as [server]:
            async with server.http() as client:
                made = await client.post(
                    "/api/keys",
                    json={"name": "ops", "role": "dispatcher"},
                    headers={"X-Request-ID": "req-keys-1"},
                )
                assert made.status_code == 201
                order = await client.post("/api/orders", json=ORDER)
                code = order.json()["tracking_code"]
                assert (await client.get(f"/api/track/{code}")).status_code == 200
                fleet = await client.get(
                    "/api/fleet", params={"token": ADMIN_TOKEN}, headers={"Authorization": ""}
                )
                unsafe = await client.get("/livez", headers={"X-Request-ID": "a b;<script>"})
                too_long = await client.get("/livez", headers={"X-Request-ID": "x" * 129})
            customer_url = f"{server.ws_url}/ws/track/{code}"
            headers = {"X-Request-ID": "sock-7"}
            async with websockets.connect(customer_url, additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
            async with websockets.connect(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
    text = log_path.read_text()
    records = [json.loads(line) for line in text.splitlines()]  # every line: uvicorn's too

    assert made.headers["X-Request-ID"] == "req-keys-1"
    (created,) = where(records, logger="tracker.keys", request_id="req-keys-1")
    assert created["message"].startswith("API key 1 (dispatcher) created")
    (access,) = where(records, logger="tracker.access", request_id="req-keys-1")
    assert access["method"] == "POST" and access["route"] == "/api/keys"
    assert access["status"] == 201 and access["duration_ms"] > 0
    assert where(records, logger="tracker.access", route="/api/track/{code}", status=200)
    assert where(records, logger="tracker.access", route="/api/fleet", status=fleet.status_code)
    for refused in (unsafe, too_long):  # a fresh id instead, in the answer and the line
        made_up = refused.headers["X-Request-ID"]
        assert HEX_ID.fullmatch(made_up)
        assert where(records, logger="tracker.access", request_id=made_up, route="/livez")
    assert len({unsafe.headers["X-Request-ID"], too_long.headers["X-Request-ID"]}) == 2

    socket_lines = where(records, logger="tracker.sockets", request_id="sock-7")
    assert [r["message"].split(":")[0] for r in socket_lines] == ["socket open", "socket closed"]
    assert all(r["kind"] == "customer" and r["route"] == "/ws/track/{code}" for r in socket_lines)
    fleet_socket = where(records, logger="tracker.sockets", kind="fleet")
    assert len(fleet_socket) == 2 and HEX_ID.fullmatch(fleet_socket[0]["request_id"])

    assert where(records, logger="uvicorn.error", level="info")  # uvicorn's lines, as JSON
    # The URLs were logged (uvicorn names each socket's), only without the secrets.
    assert "/ws/fleet?token=***" in text and "/ws/track/***" in text
    assert ADMIN_TOKEN not in text and code not in text and code.replace("-", "") not in text


async def test_log_level_and_text_format_apply_to_every_logger(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    log_path = tmp_path / "stderr"
    env = {"TRACKER_LOG_FORMAT": "text", "TRACKER_NOT_A_SETTING": "1"}
    with log_path.open("wb") as stderr:
        async with (
            server_processes(settings, ["a"], env, "warning", stderr) as [server],
            server.http() as client,
        ):
            assert (await client.post("/api/orders", json=ORDER)).status_code == 201
            assert (await client.get("/nope")).status_code == 404
    lines = log_path.read_text().splitlines()
    assert lines, "the unknown variable's warning at least"
    assert all(TEXT_LINE.match(line) for line in lines), lines
    assert any("TRACKER_NOT_A_SETTING is not a known setting" in line for line in lines)
    assert [line for line in lines if " INFO " in line or " DEBUG " in line] == []


def test_formatters_redact_fields_passed_as_extra() -> None:
    """The record factory cleans messages and arguments; `extra` fields come after it."""
    record = logging.makeLogRecord(
        {"name": "tracker.x", "levelname": "INFO", "msg": "seen", "args": None}
    )
    record.url = "/t/7KQ2-M9XD-3HVA-PR4T?token=abc"
    record.request_id = "r-1"
    record.quoted = '"WebSocket /ws/track/7KQ2-M9XD" [accepted]'
    out = json.loads(JsonFormatter().format(record))  # still JSON: escapes kept whole
    assert out["url"] == "/t/***?token=***" and out["request_id"] == "r-1"
    assert out["quoted"] == '"WebSocket /ws/track/***" [accepted]'
    line = TextFormatter().format(
        logging.makeLogRecord({"msg": "GET /api/track/%s", "args": ("CODE",)})
    )
    assert line.endswith("GET /api/track/***")
