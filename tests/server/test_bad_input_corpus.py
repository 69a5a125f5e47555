"""The inputs that used to drop a courier's connection or answer 500, one by one: each now
gets a clear 4xx / `error` / `rejected` answer, stores nothing it should not, and leaves
the connection usable. One server for the module (see tests/server/hostile.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from server.edges.responses import internal_error
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.hostile import Shared, assert_client_error, deep, shared_server
from tests.server.watcher import Watcher

LON, LAT = 11.92, 50.31
POISON_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
DEEP = 5000


@pytest.fixture(scope="module")
async def shared(database_url: str) -> AsyncIterator[Shared]:
    async with shared_server(database_url) as shared:
        yield shared


async def stored_for(shared: Shared, driver_id: int) -> list[dict[str, Any]]:
    rows = await shared.db.fetch(
        "SELECT recorded_at, attributes FROM positions WHERE driver_id = $1 ORDER BY 1",
        driver_id,
    )
    return [dict(r) for r in rows]


# -- the courier socket ------------------------------------------------------------------


async def test_poison_times_in_a_backlog_are_rejected_alone(shared: Shared) -> None:
    driver_id, token = await shared.server.create_driver("Poison")
    t0 = now() - timedelta(minutes=1)
    good = [fix(i, t0 + timedelta(seconds=i), LON + i * 1e-4, LAT) for i in range(4)]
    bad = [{**good[0], "seq": 10 + i, "t": t} for i, t in enumerate(POISON_TIMES)]
    async with Courier(shared.server.ws_url, token) as courier:
        await courier.send_batch([good[0], bad[0], good[1], bad[1], good[2]])
        await courier.wait_acked({0, 1, 2})
        await courier.wait_until(lambda: {10, 11} <= set(courier.rejected))
        assert all("out of range" in courier.rejected[seq] for seq in (10, 11)), courier.rejected
        await courier.send(good[3])  # the same connection goes on
        await courier.wait_acked({3})
        assert courier.close_code is None and not courier.errors
    assert len(await stored_for(shared, driver_id)) == 4


@pytest.mark.parametrize(
    "frame",
    [
        deep(DEEP),
        "[" * DEEP,
        '{"type":"fix","seq":1,"t":0,"lat":1,"lon":2,"x":' + deep(DEEP) + "}",
        '{"type":"fixes","fixes":[{"seq":1,"t":0,"lat":1,"lon":2,"x":' + deep(DEEP) + "}]}",
        '{"a":' * DEEP + "1" + "}" * DEEP,
    ],
    ids=["arrays", "unclosed", "inside a fix", "inside a backlog", "objects"],
)
async def test_deep_nesting_on_the_socket_is_an_error_reply(shared: Shared, frame: str) -> None:
    driver_id, token = await shared.server.create_driver("Deep")
    async with Courier(shared.server.ws_url, token) as courier:
        await courier.send(frame)
        await courier.wait_until(lambda: bool(courier.errors))
        assert "nested deeper than" in courier.errors[0], courier.errors
        await courier.send(fix(5, now() - timedelta(seconds=5), LON, LAT))
        await courier.wait_acked({5})
        assert courier.close_code is None
    assert len(await stored_for(shared, driver_id)) == 1


async def test_wrong_kind_of_credential_on_a_socket_closes_4403(shared: Shared) -> None:
    _, token = await shared.server.create_driver("Wrong socket")
    courier = Courier(shared.server.ws_url, ADMIN_TOKEN)  # an API key on the courier socket
    await courier.connect()
    assert await courier.wait_closed() == 4403
    watcher = Watcher(f"{shared.server.ws_url}/ws/fleet?token={token}")  # a courier's token
    await watcher.connect()
    assert await watcher.wait_closed() == 4403
    unknown = Watcher(f"{shared.server.ws_url}/ws/fleet?token=nobody")
    await unknown.connect()
    assert await unknown.wait_closed() == 4401


async def test_deep_viewport_is_an_error_and_the_fleet_socket_goes_on(shared: Shared) -> None:
    url = f"{shared.server.ws_url}/ws/fleet?token={ADMIN_TOKEN}"
    async with Watcher(url) as watcher:
        await watcher.send(deep(2000))  # under the 4 KiB client frame limit
        await watcher.wait_until(lambda: bool(watcher.of_type("error")))
        assert "nested deeper than" in watcher.of_type("error")[0]["reason"]
        snapshots = len(watcher.of_type("snapshot"))
        await watcher.send({"type": "viewport", "bbox": [11.0, 50.0, 12.0, 51.0]})
        await watcher.wait_until(lambda: len(watcher.of_type("snapshot")) > snapshots)
        assert watcher.close_code is None


# -- HTTP ingest and the phone apps ------------------------------------------------------


async def test_http_ingest_deep_and_poison_times(shared: Shared) -> None:
    driver_id, token = await shared.server.create_driver("Http")
    auth = {"Authorization": f"Bearer {token}"}
    deep_answer = await shared.http.post("/api/ingest", content=deep(DEEP), headers=auth)
    assert "nested deeper than" in assert_client_error(deep_answer, 400)
    t0 = now() - timedelta(minutes=1)
    good = [fix(i, t0 + timedelta(seconds=i), LON, LAT) for i in range(2)]
    bad = [{**good[0], "seq": 10 + i, "t": t} for i, t in enumerate(POISON_TIMES)]
    answer = await shared.http.post("/api/ingest", json=[good[0], *bad, good[1]], headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["acked"] == [0, 1]
    assert [r["seq"] for r in answer.json()["rejected"]] == [10, 11]
    assert len(await stored_for(shared, driver_id)) == 2


async def test_phone_apps_refuse_deep_json(shared: Shared) -> None:
    await shared.server.create_driver("Deep app", device_id="deep-app")
    json_type = {"Content-Type": "application/json", "X-Limit-U": "deep-app"}
    osmand = await shared.http.post("/osmand", content=deep(DEEP), headers=json_type)
    owntracks = await shared.http.post("/owntracks", content=deep(DEEP), headers=json_type)
    nested_location = (
        '{"device_id":"deep-app","location":{"coords":{"latitude":1,"longitude":2},'
        '"extras":{"x":' + deep(DEEP) + "}}}"
    )
    inside = await shared.http.post("/osmand", content=nested_location, headers=json_type)
    for answer in (osmand, owntracks, inside):
        assert "nested deeper than" in assert_client_error(answer, 400)


async def test_control_characters_in_app_attributes_are_dropped_not_the_fix(
    shared: Shared,
) -> None:
    osmand_id, _ = await shared.server.create_driver("Nul osmand", device_id="nul-osmand")
    json_id, _ = await shared.server.create_driver("Nul json", device_id="nul-json")
    own_id, own_token = await shared.server.create_driver("Nul owntracks", device_id="nul-own")
    t = now() - timedelta(seconds=30)
    query = await shared.http.get(
        "/osmand",
        params={"id": "nul-osmand", "lat": LAT, "lon": LON, "timestamp": int(t.timestamp()),
                "driverUniqueId": "a\x00b", "bad\x01key": "1", "kept": "yes"},
    )  # fmt: skip
    location = {
        "timestamp": t.isoformat(),
        "coords": {"latitude": LAT, "longitude": LON},
        "extras": {"note": "x\u0000y", "kept": "yes"},
    }
    body = await shared.http.post(
        "/osmand",
        json={"device_id": "nul-json", "location": location},
        headers={"Content-Type": "application/json"},
    )
    owntracks = await shared.http.post(
        "/owntracks",
        json={"_type": "location", "lat": LAT, "lon": LON, "tst": int(t.timestamp()),
              "tid": "a\u0000", "kept": "yes"},
        auth=("nul-own", own_token),
    )  # fmt: skip
    for answer in (query, body, owntracks):
        assert answer.status_code == 200 and "x-tracker-rejected" not in answer.headers, (
            answer.status_code,
            answer.text,
            answer.headers,
        )
    for driver_id in (osmand_id, json_id, own_id):
        rows = await stored_for(shared, driver_id)
        assert len(rows) == 1 and rows[0]["attributes"] == {"kept": "yes"}, rows


async def test_phone_app_bodies_are_bounded_before_the_work(shared: Shared) -> None:
    """Unauthenticated senders: the decoding work a body may cost is bounded (locations in
    a list, form parameters, attributes kept, OwnTracks' body size)."""
    driver_id, token = await shared.server.create_driver("Bounded", device_id="bounded")
    t = now() - timedelta(seconds=30)
    location = {"timestamp": t.isoformat(), "coords": {"latitude": LAT, "longitude": LON}}
    listed = await shared.http.post(
        "/osmand",
        json={"device_id": "bounded", "location": [location] * 1001},
        headers={"Content-Type": "application/json"},
    )
    assert "too many locations: 1001 > 1000" in assert_client_error(listed, 400)
    form = "&".join(f"k{i}=1" for i in range(201)) + "&id=bounded"
    formed = await shared.http.post(
        "/osmand", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "more than 200 parameters" in assert_client_error(formed, 400)
    owntracks = await shared.http.post(
        "/owntracks", content=b" " * (16 * 1024 + 1), auth=("bounded", token)
    )
    assert_client_error(owntracks, 413)
    assert await stored_for(shared, driver_id) == []
    extras = {f"x{i}": i for i in range(100)}
    kept = await shared.http.post(
        "/osmand",
        json={"device_id": "bounded", "location": {**location, "extras": extras}},
        headers={"Content-Type": "application/json"},
    )
    assert kept.status_code == 200, kept.text
    rows = await stored_for(shared, driver_id)
    assert len(rows) == 1 and len(rows[0]["attributes"]) == 64, rows


async def test_osmand_unreadable_times(shared: Shared) -> None:
    driver_id, _ = await shared.server.create_driver("Times", device_id="times")
    t = now() - timedelta(seconds=30)
    good = {"timestamp": t.isoformat(), "coords": {"latitude": LAT, "longitude": LON}}
    poison = {**good, "timestamp": POISON_TIMES[0]}
    listed = await shared.http.post(
        "/osmand",
        json={"device_id": "times", "location": [good, poison]},
        headers={"Content-Type": "application/json"},
    )
    assert listed.status_code == 200, listed.text  # the readable one stored, the other alone
    assert "x-tracker-rejected" not in listed.headers  # /osmand says nothing an id could tell
    assert len(await stored_for(shared, driver_id)) == 1
    for stamp in POISON_TIMES:
        alone = await shared.http.get(
            "/osmand", params={"id": "times", "lat": LAT, "lon": LON, "timestamp": stamp}
        )
        assert "out of range" in assert_client_error(alone, 400)
    nul_id = await shared.http.get("/osmand", params={"id": "ti\x00mes", "lat": LAT, "lon": LON})
    assert "control characters" in assert_client_error(nul_id, 400)
    assert len(await stored_for(shared, driver_id)) == 1


# -- REST bodies and parameters ----------------------------------------------------------


async def _order(shared: Shared, **fields: Any) -> httpx.Response:
    body = {"customer": {"name": "Cleo"}, "destination": {"lat": LAT, "lon": LON}, **fields}
    return await shared.http.post("/api/orders", json=body)


async def test_deep_rest_bodies_are_422(shared: Shared) -> None:
    order = (await _order(shared)).json()
    before = await shared.counts()
    for path in (
        "/api/drivers",
        "/api/orders",
        f"/api/orders/{order['id']}/status",
        f"/api/orders/{order['id']}/assign",
        "/api/keys",
        "/api/webhooks",
    ):
        answer = await shared.http.post(path, content=deep(DEEP))
        assert "nested deeper than" in assert_client_error(answer, 422), path
    assert await shared.counts() == before


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the field at dotted `path` set to `value`."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = copy
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value
    return copy


DRIVER = {"name": "Ana", "phone": "+351912345678", "vehicle": "van", "device_id": "d-1"}
ORDER = {
    "reference": "A-1",
    "customer": {"name": "Cleo", "email": "c@example.com", "phone": "+351912345678",
                 "time_zone": "Europe/Lisbon"},
    "destination": {"lat": LAT, "lon": LON, "address": "Rua 1"},
}  # fmt: skip
TEXT_FIELDS = (
    [("/api/drivers", DRIVER, field) for field in ("name", "phone", "vehicle", "device_id")]
    + [
        ("/api/orders", ORDER, field)
        for field in (
            "reference",
            "customer.name",
            "customer.email",
            "customer.phone",
            "customer.time_zone",
            "destination.address",
        )
    ]
    + [
        ("/api/keys", {"name": "k", "role": "dispatcher"}, "name"),
        ("/api/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}, "url"),
        ("/api/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}, "secret"),
        ("/api/orders/{order}/status", {"status": "processing"}, "note"),
    ]
)


@pytest.mark.parametrize(
    ("path", "body", "field"), TEXT_FIELDS, ids=[f"{p} {f}" for p, _, f in TEXT_FIELDS]
)
async def test_nul_in_a_text_field_is_422_naming_it(
    shared: Shared, path: str, body: dict[str, Any], field: str
) -> None:
    order = (await _order(shared)).json()
    before = await shared.counts()
    bad = _with(body, field, "bad\u0000 text with enough length")
    answer = await shared.http.post(path.format(order=order["id"]), json=bad)
    error = assert_client_error(answer, 422)
    assert field in error and "holds a control character" in error, error  # not another rule
    assert await shared.counts() == before


async def test_nul_in_a_list_item_names_it(shared: Shared) -> None:
    answer = await shared.http.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*", "a\u0000"]}
    )
    assert "events[1]" in assert_client_error(answer, 422)


@pytest.mark.parametrize("name", ["after", "driver_id", "limit"])
@pytest.mark.parametrize("value", ["9" * 30, "-1", "1e3", "١٢"])
async def test_order_list_parameters_out_of_range_are_422(
    shared: Shared, name: str, value: str
) -> None:
    answer = await shared.http.get("/api/orders", params={name: value})
    assert name in assert_client_error(answer, 422)


async def test_deliveries_limit_and_webhook_url_are_checked(shared: Shared) -> None:
    hook = await shared.http.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    )
    assert hook.status_code == 201, hook.text
    for limit in ("abc", "-5", "9" * 30):
        answer = await shared.http.get(
            f"/api/webhooks/{hook.json()['id']}/deliveries", params={"limit": limit}
        )
        assert "limit" in assert_client_error(answer, 422)
    for url in ("http://[::1/hook", "http://example.com:99999/hook"):
        answer = await shared.http.post("/api/webhooks", json={"url": url, "events": ["*"]})
        assert "url" in assert_client_error(answer, 422)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("promised_by", POISON_TIMES[0]),
        ("promised_by", POISON_TIMES[1]),
        ("promised_by", "0001-01-01T00:00:00Z"),
        ("window", {"start": POISON_TIMES[0], "end": "2026-01-01T00:00:00Z"}),
        ("window", {"start": "2026-01-01T00:00:00Z", "end": POISON_TIMES[1]}),
    ],
)
async def test_order_times_out_of_range_are_422(shared: Shared, field: str, value: Any) -> None:
    before = await shared.counts()
    answer = await _order(shared, **{field: value})
    assert field in assert_client_error(answer, 422)
    assert await shared.counts() == before


# -- every answer's shape ----------------------------------------------------------------


async def test_unknown_paths_and_methods_answer_json(shared: Shared) -> None:
    missing = await shared.http.get("/no/such/path")
    assert_client_error(missing, 404)
    wrong_method = await shared.http.delete("/api/drivers")
    assert_client_error(wrong_method, 405)
    assert "GET" in wrong_method.headers["allow"]
    assert_client_error(await shared.http.get("/api/ingest"), 405)
    assert_client_error(await shared.http.get("/static/no-such-file.js"), 404)


async def test_every_http_response_has_nosniff(shared: Shared) -> None:
    async with httpx.AsyncClient(base_url=shared.server.base_url) as anonymous:
        answers = [
            await anonymous.get("/track"),  # a page
            await anonymous.get("/static/js/socket.js"),  # a static file
            await anonymous.get("/healthz"),  # an API answer
            await anonymous.get("/api/drivers"),  # 401
            await anonymous.get("/no/such/path"),  # 404
            await anonymous.get("/osmand", params={"id": "nobody", "lat": 1, "lon": 2}),
        ]
    for answer in answers:
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"], answer.url


async def test_the_last_resort_answer_is_json() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    answer = await internal_error(request, RuntimeError("a bug"))
    assert answer.status_code == 500 and json.loads(bytes(answer.body)) == {
        "error": "internal error"
    }
