"""Real answers of a running server match the OpenAPI document: for each route family a
success and its errors, each body validated (JSON Schema 2020-12) against the document's
schema for that status code, and every documented operation called at least once."""

from __future__ import annotations

import base64
import dataclasses
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from server.base.settings import Settings
from server.edges.rest.openapi import document
from tests.conftest import ADMIN_TOKEN
from tests.server import images
from tests.server.harness import RunningServer, run_server
from tests.server.openapi_check import ResponseChecker

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOBODY = {"Authorization": "Bearer not-a-key"}
ORDER = {"customer": {"name": "Eva", "email": "eva@example.com"},
         "destination": {"lat": 50.31, "lon": 11.92, "address": "Hof"}}  # fmt: skip


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def _drivers_and_keys(
    c: httpx.AsyncClient, check: ResponseChecker
) -> tuple[int, str, dict[str, str]]:
    """A driver (its id and token) and a dispatcher key's headers."""
    t = "/api/drivers"
    created = check(await c.post(t, json={"name": "Ana", "device_id": "dev-1"}, headers=ADMIN), t)
    check(await c.post(t, json={"name": "Bo", "device_id": "dev-1"}, headers=ADMIN), t)  # 409
    check(await c.post(t, json={"name": ""}, headers=ADMIN), t)  # 422
    check(await c.post(t, json={"name": "Cy"}), t)  # 401
    check(await c.get(t, headers=ADMIN), t)
    check(await c.get(t, headers=NOBODY), t)  # 401
    driver_id = created.json()["id"]
    one = "/api/drivers/{driver_id}"
    check(await c.get(f"/api/drivers/{driver_id}", headers=ADMIN), one)
    check(await c.get("/api/drivers/999999", headers=ADMIN), one)  # 404
    token = "/api/drivers/{driver_id}/token"
    rotated = check(await c.post(f"/api/drivers/{driver_id}/token", headers=ADMIN), token)
    check(await c.post("/api/drivers/999999/token", headers=ADMIN), token)  # 404

    k = "/api/keys"
    key = check(await c.post(k, json={"name": "desk", "role": "dispatcher"}, headers=ADMIN), k)
    check(await c.post(k, json={"name": "desk", "role": "king"}, headers=ADMIN), k)  # 422
    check(await c.post(k, content=b"{", headers=ADMIN), k)  # 422: not JSON
    dispatcher = {"Authorization": f"Bearer {key.json()['key']}"}
    check(await c.get(k, headers=ADMIN), k)
    check(await c.get(k, headers=dispatcher), k)  # 403
    check(await c.post(t, json={"name": "Di"}, headers=dispatcher), t)  # 403
    spare = check(await c.post(k, json={"name": "spare"}, headers=ADMIN), k)
    revoke = "/api/keys/{key_id}"
    check(await c.delete(f"/api/keys/{spare.json()['id']}", headers=ADMIN), revoke)  # 204
    check(await c.delete("/api/keys/999999", headers=ADMIN), revoke)  # 404
    return driver_id, rotated.json()["token"], dispatcher


async def _orders(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, headers: dict[str, str]
) -> str:
    """Orders through their lifecycle; the tracking code of one out for delivery."""
    t = "/api/orders"
    created = check(await c.post(t, json=ORDER, headers=headers), t)
    check(await c.post(t, json={**ORDER, "destination": {"lat": 91, "lon": 0}}, headers=headers), t)
    check(await c.post(t, json=ORDER), t)  # 401
    check(await c.get(t, headers=headers), t)
    check(await c.get(t, params={"status": "packed,shipped", "late": "false"}, headers=headers), t)
    check(await c.get(t, params={"limit": "x"}, headers=headers), t)  # 422
    order_id = created.json()["id"]
    one = "/api/orders/{order_id}"
    check(await c.get(f"/api/orders/{order_id}", headers=headers), one)
    check(await c.get("/api/orders/999999", headers=headers), one)  # 404
    status = "/api/orders/{order_id}/status"
    for step in ("processing", "packed", "shipped"):
        check(await c.post(f"/api/orders/{order_id}/status", json={"status": step},
                           headers=headers), status)  # fmt: skip
    check(await c.post(f"/api/orders/{order_id}/status", json={"status": "confirmed"},
                       headers=headers), status)  # 409, the allowed named  # fmt: skip
    check(await c.post(f"/api/orders/{order_id}/status", json={"status": "lost"},
                       headers=headers), status)  # 422  # fmt: skip
    check(await c.post("/api/orders/999999/status", json={"status": "packed"},
                       headers=headers), status)  # 404  # fmt: skip
    assign = "/api/orders/{order_id}/assign"
    check(await c.post(f"/api/orders/{order_id}/assign", json={"driver_id": driver_id},
                       headers=headers), assign)  # fmt: skip
    check(await c.post(f"/api/orders/{order_id}/assign", json={"driver_id": 999999},
                       headers=headers), assign)  # 422: no such driver  # fmt: skip
    check(await c.post("/api/orders/999999/assign", json={"driver_id": driver_id},
                       headers=headers), assign)  # 404  # fmt: skip
    check(await c.post(f"/api/orders/{order_id}/status", json={"status": "out_for_delivery"},
                       headers=headers), status)  # fmt: skip
    return str(created.json()["tracking_code"])


async def _courier(c: httpx.AsyncClient, check: ResponseChecker, order_id: int, token: str) -> None:
    """A courier's actions on the order out for delivery on their run."""
    status = "/api/orders/{order_id}/status"
    driver = {"Authorization": f"Bearer {token}"}
    path = f"/api/orders/{order_id}/status"
    arrived = {"status": "arrived"}
    check(await c.post(path, json=arrived, headers={**driver, "Idempotency-Key": "o1"}), status)
    check(await c.post(path, json=arrived, headers=driver), status)  # 400: no key
    check(await c.post(path, json=arrived, headers={**driver, "Idempotency-Key": "o2"}),
          status)  # 409: arrived already  # fmt: skip
    check(await c.post(path, json={"status": "failed", "reason": "x"},
                       headers={**driver, "Idempotency-Key": "o3"}), status)  # 422  # fmt: skip
    check(await c.post("/api/orders/999999/status", json=arrived,
                       headers={**driver, "Idempotency-Key": "o4"}), status)  # 403  # fmt: skip


async def _notifications(
    c: httpx.AsyncClient, check: ResponseChecker, order_id: int, headers: dict[str, str]
) -> None:
    log = "/api/orders/{order_id}/notifications"
    check(await c.get(f"/api/orders/{order_id}/notifications", headers=headers), log)
    check(await c.get(f"/api/orders/{order_id}/notifications"), log)  # 401


async def _exports(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, headers: dict[str, str]
) -> None:
    """Each track format (the orders' first order went out for delivery), the CSV list."""
    t = "/api/drivers/{driver_id}/track"
    for fmt in ("geojson", "gpx", "csv"):
        check(await c.get(f"/api/drivers/{driver_id}/track", params={"format": fmt},
                          headers=headers), t)  # fmt: skip
    check(await c.get("/api/drivers/999999/track", headers=headers), t)  # 404
    check(await c.get(f"/api/drivers/{driver_id}/track", params={"format": "kml"},
                      headers=headers), t)  # 422  # fmt: skip
    order = "/api/orders/{order_id}/track"
    out = await c.get("/api/orders", params={"status": "out_for_delivery"}, headers=headers)
    order_id = out.json()["orders"][0]["id"]
    check(await c.get(f"/api/orders/{order_id}/track", params={"format": "gpx"},
                      headers=headers), order)  # fmt: skip
    check(await c.get("/api/orders/999999/track", headers=headers), order)  # 404
    waiting = check(await c.post("/api/orders", json=ORDER, headers=headers), "/api/orders")
    check(await c.get(f"/api/orders/{waiting.json()['id']}/track", headers=headers), order)  # 409
    check(await c.get("/api/orders", params={"format": "csv"}, headers=headers), "/api/orders")
    b, h = "/api/insights/bottlenecks", "/api/insights/heatmap"
    for layer in ("slow", "dwell", "late"):
        check(await c.get(b, params={"layer": layer}, headers=headers), b)
        check(await c.get(h, params={"metric": layer}, headers=headers), h)
    check(await c.get(b, params={"layer": "jams"}, headers=headers), b)  # 422
    check(await c.get(h, params={"from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
                      headers=headers), h)  # 422  # fmt: skip


async def _insights(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, headers: dict[str, str]
) -> None:
    """Each table as JSON and CSV; an unknown driver (404), a bad period (422)."""
    s = "/api/insights/summary"
    check(await c.get(s, params={"driver_id": driver_id}, headers=headers), s)
    check(await c.get(s, params={"driver_id": 999999}, headers=headers), s)  # 404
    check(await c.get(s, params={"from": "2026-11-30", "to": "2026-11-01"}, headers=headers), s)
    for table in ("series", "drivers", "zones"):
        path = f"/api/insights/{table}"
        for fmt in ("json", "csv"):
            check(await c.get(path, params={"format": fmt}, headers=headers), path)
        check(await c.get(path, params={"format": "xls"}, headers=headers), path)  # 422
        check(await c.get(path, params={"zone": "ezzzz"}, headers=headers), path)  # 404


async def _webhooks(
    c: httpx.AsyncClient, check: ResponseChecker, dispatcher: dict[str, str]
) -> None:
    t = "/api/webhooks"
    body = {"url": "http://127.0.0.1:9/hook", "events": ["order.shipped"]}
    created = check(await c.post(t, json=body, headers=ADMIN), t)
    check(await c.post(t, json={**body, "events": ["order.eaten"]}, headers=ADMIN), t)  # 422
    check(await c.post(t, json={**body, "url": "http://10.1.2.3/"}, headers=ADMIN), t)  # 422
    check(await c.post(t, json=body, headers=dispatcher), t)  # 403
    check(await c.get(t, headers=ADMIN), t)
    sub_id = created.json()["id"]
    one = "/api/webhooks/{subscription_id}"
    check(await c.get(f"/api/webhooks/{sub_id}", headers=ADMIN), one)
    check(await c.get("/api/webhooks/999999", headers=ADMIN), one)  # 404
    enable = "/api/webhooks/{subscription_id}/enable"
    check(await c.post(f"/api/webhooks/{sub_id}/enable", headers=ADMIN), enable)
    check(await c.post("/api/webhooks/999999/enable", headers=ADMIN), enable)  # 404
    deliveries = "/api/webhooks/{subscription_id}/deliveries"
    check(await c.get(f"/api/webhooks/{sub_id}/deliveries", headers=ADMIN), deliveries)
    check(await c.get(f"/api/webhooks/{sub_id}/deliveries?limit=0", headers=ADMIN), deliveries)
    check(await c.get("/api/webhooks/999999/deliveries", headers=ADMIN), deliveries)  # 404
    check(await c.delete(f"/api/webhooks/{sub_id}", headers=ADMIN), one)  # 204
    check(await c.delete(f"/api/webhooks/{sub_id}", headers=ADMIN), one)  # 404


async def _ingest(c: httpx.AsyncClient, check: ResponseChecker, token: str) -> None:
    now_ms = int(time.time() * 1000)
    fix = {"seq": 1, "t": now_ms, "lat": 50.3, "lon": 11.9, "acc": 5}
    driver = {"Authorization": f"Bearer {token}"}
    t = "/api/ingest"
    check(await c.post(t, json={"type": "fix", **fix}, headers=driver), t)
    check(await c.post(t, json=[{**fix, "seq": 2, "lat": 91}], headers=driver), t)  # rejected
    check(await c.post(t, content=b"{nope", headers=driver), t)  # 400
    check(await c.post(t, json={"type": "fix", **fix}), t)  # 401
    o = "/osmand"
    query = {"id": "dev-1", "lat": "50.3", "lon": "11.9", "timestamp": str(now_ms // 1000 + 1)}
    check(await c.get(o, params=query), o)
    check(await c.post(o, data={**query, "timestamp": str(now_ms // 1000 + 2)}), o)
    check(await c.put(o, params={**query, "timestamp": str(now_ms // 1000 + 3)}), o)
    check(await c.get(o, params={"lat": "1", "lon": "2"}), o)  # 400: no id
    ot = "/owntracks"
    location = {"_type": "location", "lat": 50.3, "lon": 11.9, "tst": now_ms // 1000 + 4}
    check(await c.post(ot, json=location, headers=_basic("ana", token)), ot)
    check(await c.post(ot, json={"_type": "waypoint"}, headers=_basic("ana", token)), ot)
    check(await c.post(ot, json={**location, "lat": "x"}, headers=_basic("ana", token)), ot)
    check(await c.post(ot, json=location), ot)  # 401


async def _track_fleet_health(
    c: httpx.AsyncClient, check: ResponseChecker, code: str, dispatcher: dict[str, str]
) -> None:
    t = "/api/track/{code}"
    check(await c.get(f"/api/track/{code}"), t)
    check(await c.get("/api/track/AAAA-BBBB-CCCC-DDDD"), t)  # 404
    check(await c.get("/api/fleet", headers=dispatcher), "/api/fleet")
    check(await c.get("/api/fleet"), "/api/fleet")  # 401
    for path in ("/livez", "/readyz", "/healthz", "/openapi.json"):
        check(await c.get(path), path)
    check(await c.get("/metrics", headers=ADMIN), "/metrics")
    check(await c.get("/metrics"), "/metrics")  # 401


async def _self_service(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, dispatcher: dict[str, str]
) -> None:
    """The customer's routes under the tracking code: done, refused, and in the wrong state."""
    order = (await c.post("/api/orders", json=ORDER, headers=dispatcher)).json()
    order_id, code = order["id"], order["tracking_code"]

    def route(what: str) -> tuple[str, str]:
        return f"/api/track/{code}/{what}", f"/api/track/{{code}}/{what}"

    async def status(*steps: str) -> None:
        for step in steps:
            await c.post(f"/api/orders/{order_id}/status", json={"status": step}, headers=ADMIN)

    url, t = route("preferences")
    check(await c.get(url), t)  # 200
    check(await c.post(url, json={"sms": False}), t)  # 200
    check(await c.post(url, json={"fax": False}), t)  # 422
    url, t = route("unsubscribe")
    check(await c.post(f"{url}?channel=email&sig={'A' * 22}"), t)  # 403: not signed here
    check(await c.post(f"{url}?channel=fax&sig={'A' * 22}"), t)  # 422
    check(await c.get(f"{url}?channel=email&sig={'A' * 22}"), t)  # 303 to the page
    url, t = route("instructions")
    check(await c.post(url, json={"text": "Ring twice"}), t)  # 200
    check(await c.post(url, json={"text": 5}), t)  # 422
    url, t = route("issues")
    check(await c.post(url, json={"reason": "late"}), t)  # 201
    check(await c.post("/api/track/AAAA-BBBB-CCCC-DDDD/issues", json={"reason": "late"}), t)
    url, t = route("reattempt")
    check(await c.post(url, json={}), t)  # 409: not failed
    await c.post(f"/api/orders/{order_id}/assign", json={"driver_id": driver_id}, headers=ADMIN)
    await status("shipped", "out_for_delivery")
    check(await c.post(route("instructions")[0], json={"text": "x"}), route("instructions")[1])
    await status("failed")
    check(await c.post(url, json={"note": "After 6 pm"}), t)  # 200
    url, t = route("rating")
    check(await c.post(url, json={"score": 5}), t)  # 409: not delivered
    await status("out_for_delivery", "delivered")
    check(await c.post(url, json={"score": 4, "comment": "Fine"}), t)  # 200


async def _proof(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, token: str,
    dispatcher: dict[str, str],
) -> None:  # fmt: skip
    """A proof uploaded (and refused), read by dispatch and by the customer once delivered."""
    order = (await c.post("/api/orders", json=ORDER, headers=dispatcher)).json()
    order_id, code = order["id"], order["tracking_code"]
    await c.post(f"/api/orders/{order_id}/assign", json={"driver_id": driver_id}, headers=ADMIN)
    for step in ("shipped", "out_for_delivery"):
        await c.post(f"/api/orders/{order_id}/status", json={"status": step}, headers=ADMIN)
    t, url = "/api/orders/{order_id}/proof", f"/api/orders/{order_id}/proof"
    driver = {"Authorization": f"Bearer {token}", "Idempotency-Key": "p1"}
    photo = {"photo": ("p.jpg", images.phone_photo((80, 60)), "image/jpeg")}
    gif = {"photo": ("p.gif", images.gif(), "image/gif")}
    check(await c.post(url, files=photo, headers=driver), t)  # 201
    check(await c.post(url, files=photo, headers=driver), t)  # 200: the same key again
    check(await c.post(url, files=gif, headers={**driver, "Idempotency-Key": "p2"}), t)  # 422
    check(await c.post(url, json={}, headers={**driver, "Idempotency-Key": "p3"}), t)  # 415
    check(await c.post(url, files=photo, headers={"Authorization": driver["Authorization"]}),
          t)  # 400: no key  # fmt: skip
    check(await c.post(url, files=photo), t)  # 401
    check(await c.post("/api/orders/999999/proof", files=photo, headers=driver), t)  # 404
    check(await c.get(url, headers=dispatcher), t)
    check(await c.get("/api/orders/999999/proof", headers=dispatcher), t)  # 404
    for kind in ("photo", "photo/thumb", "signature"):  # the signature: 404, none uploaded
        check(await c.get(f"{url}/{kind}", headers=dispatcher), f"{t}/{kind}")
    customer = "/api/track/{code}/proof/photo"
    check(await c.get(f"/api/track/{code}/proof/photo"), customer)  # 404: not delivered
    await c.post(f"/api/orders/{order_id}/status", json={"status": "delivered"}, headers=ADMIN)
    check(await c.get(f"/api/track/{code}/proof/photo"), customer)


async def _alerts_messages(
    server: RunningServer,
    c: httpx.AsyncClient,
    check: ResponseChecker,
    driver_id: int,
    dispatcher: dict[str, str],
) -> None:
    stored = await server.services.alerts.raise_alert("offline", driver_id, None, datetime.now(UTC))
    assert stored is not None
    t = "/api/alerts"
    check(await c.get(t, params={"open": "true"}, headers=dispatcher), t)
    check(await c.get(t, params={"open": "maybe"}, headers=dispatcher), t)  # 422
    check(await c.get(t), t)  # 401
    ack = "/api/alerts/{alert_id}/ack"
    check(await c.post(f"/api/alerts/{stored.id}/ack", headers=dispatcher), ack)
    check(await c.post("/api/alerts/999999/ack", headers=dispatcher), ack)  # 404
    m = "/api/drivers/{driver_id}/messages"
    check(await c.post(f"/api/drivers/{driver_id}/messages", json={"text": "hi"},
                       headers=dispatcher), m)  # fmt: skip
    check(await c.post(f"/api/drivers/{driver_id}/messages", json={"text": ""},
                       headers=dispatcher), m)  # 422  # fmt: skip
    check(await c.post("/api/drivers/999999/messages", json={"text": "hi"},
                       headers=dispatcher), m)  # 404  # fmt: skip


async def _optimize(
    c: httpx.AsyncClient, check: ResponseChecker, driver_id: int, dispatcher: dict[str, str]
) -> None:
    """A stop order proposed (or, without a road network here, a 409 naming why)."""
    t = "/api/drivers/{driver_id}/run/optimize"
    check(await c.post(f"/api/drivers/{driver_id}/run/optimize", headers=dispatcher), t)
    check(await c.post("/api/drivers/999999/run/optimize", headers=dispatcher), t)  # 404
    check(await c.post(f"/api/drivers/{driver_id}/run/optimize"), t)  # 401


async def _exercise(server: RunningServer, check: ResponseChecker) -> None:
    async with server.http() as c:
        driver_id, token, dispatcher = await _drivers_and_keys(c, check)
        code = await _orders(c, check, driver_id, dispatcher)
        await _exports(c, check, driver_id, dispatcher)
        await _insights(c, check, driver_id, dispatcher)
        found = (await c.get("/api/orders?status=out_for_delivery", headers=dispatcher)).json()
        order_id = found["orders"][0]["id"]
        await _notifications(c, check, order_id, dispatcher)
        await _courier(c, check, order_id, token)
        await _webhooks(c, check, dispatcher)
        await _ingest(c, check, token)
        await _track_fleet_health(c, check, code, dispatcher)
        await _self_service(c, check, driver_id, dispatcher)
        await _proof(c, check, driver_id, token, dispatcher)
        await _alerts_messages(server, c, check, driver_id, dispatcher)
        await _optimize(c, check, driver_id, dispatcher)


async def test_responses_match_the_document(settings: Settings, db: asyncpg.Connection) -> None:
    doc = document()
    check = ResponseChecker(doc)
    # The webhook receiver on 127.0.0.1 is allowed; 10/8 stays refused (a 422 to check).
    settings = dataclasses.replace(
        settings, webhook_allow_private="127.0.0.1/32", track_lookup_burst=1_000
    )
    async with run_server(settings) as server:
        await _exercise(server, check)
    called = {(path, method) for path, method, _ in check.seen}
    documented = {(p, m.upper()) for p, item in doc["paths"].items() for m in item}
    assert documented - called == set(), "operations no test call exercised"
    errors = {(p, m) for p, m, status in check.seen if status >= 400}
    families = ["/api/drivers", "/api/keys", "/api/orders", "/api/webhooks", "/api/ingest",
                "/osmand", "/owntracks", "/api/track/{code}", "/api/fleet", "/metrics"]  # fmt: skip
    for family in families:
        assert any(p.startswith(family) for p, _ in errors), f"no error checked for {family}"
    statuses = {s for _, _, s in check.seen}
    assert {200, 201, 204, 400, 401, 403, 404, 409, 422} <= statuses, statuses
