"""`GET /api/orders?format=csv`: the JSON list's orders, as CSV safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg

from server.base.settings import Settings
from server.wire.exports import ORDER_COLUMNS
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server


async def test_the_order_list_as_csv_is_the_json_list_escaped_for_spreadsheets(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        formula = await dispatch.order(
            reference='=HYPERLINK("http://evil.example","x")',
            customer={"name": "@SUM(1+1)", "phone": "+351912345678"},
        )
        plain = await dispatch.order(reference="R-2", destination={"lat": 50.3, "lon": -8.5})
        await dispatch.out_for_delivery(plain["id"], driver_id)
        csv_all = await dispatch.client.get("/api/orders", params={"format": "csv"})
        filters = {"status": "out_for_delivery", "from": plain["created_at"]}
        csv_some = await dispatch.client.get("/api/orders", params={**filters, "format": "csv"})
        json_some = await dispatch.client.get("/api/orders", params=filters)
        backwards = await dispatch.client.get(
            "/api/orders",
            params={"format": "csv", "from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"},
        )
        bad_format = await dispatch.client.get("/api/orders", params={"format": "xlsx"})
    assert csv_all.status_code == 200, csv_all.text
    assert csv_all.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(csv_all.text)))
    assert list(rows[0]) == [*ORDER_COLUMNS]
    assert [int(r["id"]) for r in rows] == [formula["id"], plain["id"]]
    first, second = rows
    # A cell a spreadsheet would run as a formula is text; a phone number stays as it is.
    assert first["reference"] == "'" + formula["reference"]
    assert first["customer_name"] == "'@SUM(1+1)"
    assert first["customer_phone"] == "+351912345678"
    assert first["tracking_code"] == formula["tracking_code"]
    assert (first["status"], first["driver_id"], first["late"]) == ("confirmed", "", "false")
    assert second["status"] == "out_for_delivery" and second["driver_id"] == str(driver_id)
    assert (float(second["lat"]), float(second["lon"])) == (50.3, -8.5)
    assert datetime.fromisoformat(second["created_at"]) == datetime.fromisoformat(
        plain["created_at"]
    )
    # The same filters as the JSON list, the same orders.
    some = list(csv.DictReader(io.StringIO(csv_some.text)))
    assert [int(r["id"]) for r in some] == [o["id"] for o in json_some.json()["orders"]]
    assert [int(r["id"]) for r in some] == [plain["id"]]
    assert backwards.status_code == 422 and "from" in backwards.json()["error"]
    assert bad_format.status_code == 422 and "format" in bad_format.json()["error"]
