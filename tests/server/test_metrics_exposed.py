"""What /metrics exposes, scraped from a real server and parsed with prometheus_client's
own parser: the standard collectors, HTTP requests by route template, sockets by kind, the
bus's drops, the outbox's backlog, sends by outcome; no `_created` series; and exactly the
metrics docs/api.md lists."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from server.base.settings import Settings
from server.store import outbox
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.processes import TEST_REDIS_URL, bus_prefix, require_redis
from tests.server.receivers import http_receiver, smtp_server
from tests.server.test_notifications import EMAIL, PHONE, notifying
from tests.server.waiting import POLL_S, eventually

METRICS_TOKEN = "scrape-token"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
API_DOC = Path(__file__).parent.parent.parent / "docs" / "api.md"


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) == 1, (name, labels, found)
        return float(found[0])

    def named(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name]

    def exposed_names(self) -> set[str]:
        """Names as a scraper sees them (the parser drops a counter family's `_total`)."""
        return {f.name + ("_total" if f.type == "counter" else "") for f in self.families.values()}


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    return Scrape(response.text)


async def scrape_until(
    client: httpx.AsyncClient, condition: Callable[[Scrape], bool], what: str
) -> Scrape:
    """Scraped until `condition` holds: the server counts after its own awaits."""
    try:
        async with asyncio.timeout(30.0):
            while not condition(metrics := await scrape(client)):  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
    return metrics


def scraping(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(settings, metrics_token=METRICS_TOKEN, **changes)  # type: ignore[arg-type]


def documented_metrics() -> set[str]:
    section = API_DOC.read_text().split("\n### Metrics\n", 1)[1].split("\n## ", 1)[0]
    return {
        m.group(1)
        for line in section.splitlines()
        if (m := re.match(r"\| `([a-z_]+)` \| (counter|gauge|histogram) \|", line))
    }


async def test_standard_collectors_and_no_created_series(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(scraping(settings)) as server, server.http() as client:
        await client.get("/livez")
        metrics = await scrape(client)
    assert metrics.value("process_resident_memory_bytes") > 0
    assert metrics.value("process_open_fds") > 0
    assert metrics.value("process_cpu_seconds_total") > 0
    assert metrics.named("python_gc_collections_total")
    assert metrics.named("python_gc_objects_collected_total")
    assert metrics.named("python_info")[0].labels["implementation"] == "CPython"
    assert [s.name for s in metrics.samples if s.name.endswith("_created")] == []
    assert metrics.exposed_names() == documented_metrics()  # both ways


async def test_http_requests_by_route_template_method_and_status_class(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with (
        run_server(scraping(settings)) as server,
        Dispatch(server) as dispatch,
        server.http() as client,
    ):
        order = await dispatch.order()
        code = order["tracking_code"]
        assert (
            await client.get(f"/api/orders/{order['id']}", headers=dispatch.client.headers)
        ).status_code == 200
        assert (
            await client.get("/api/orders/999999", headers=dispatch.client.headers)
        ).status_code == 404
        assert (await client.get(f"/api/track/{code}")).status_code == 200
        for path in ("/nope", f"/nope/{code}", "/wp-login.php?token=x"):
            assert (await client.get(path)).status_code == 404
        assert (await client.request("PURGE", "/livez")).status_code == 405
        metrics = await scrape(client)
    count = "tracker_http_request_duration_seconds_count"
    order_route = "/api/orders/{order_id}"
    assert metrics.value(count, route=order_route, method="GET", status="2xx") == 1
    assert metrics.value(count, route=order_route, method="GET", status="4xx") == 1
    assert metrics.value(count, route="/api/orders", method="POST", status="2xx") == 1
    assert metrics.value(count, route="/api/track/{code}", method="GET", status="2xx") == 1
    assert metrics.value(count, route="unmatched", method="GET", status="4xx") == 3
    assert metrics.value(count, route="/livez", method="OTHER", status="4xx") == 1
    labels = {v for s in metrics.named(count) for v in s.labels.values()}
    assert not [v for v in labels if code in v or "nope" in v or "wp-login" in v]
    seconds = "tracker_http_request_duration_seconds_sum"
    assert metrics.value(seconds, route=order_route, method="GET", status="2xx") > 0


async def test_open_sockets_by_kind(settings: Settings, db: asyncpg.Connection) -> None:
    def open_sockets(metrics: Scrape) -> dict[str, float]:
        return {s.labels["kind"]: s.value for s in metrics.named("tracker_sockets_open")}

    async with (
        run_server(scraping(settings)) as server,
        Dispatch(server) as dispatch,
        server.http() as client,
    ):
        _, token = await server.create_driver()
        code = (await dispatch.order())["tracking_code"]
        assert open_sockets(await scrape(client)) == {"courier": 0, "customer": 0, "fleet": 0}
        async with (
            Courier(server.ws_url, token),
            websockets.connect(f"{server.ws_url}/ws/track/{code}") as customer,
            websockets.connect(f"{server.ws_url}/ws/track/{code}") as customer_2,
            websockets.connect(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
        ):
            for ws in (customer, customer_2, fleet):
                assert json.loads(await ws.recv())["type"] == "snapshot"
            during = open_sockets(await scrape(client))
        after = await scrape_until(
            client, lambda m: sum(open_sockets(m).values()) == 0, "the sockets to be closed"
        )
    assert during == {"courier": 1, "customer": 2, "fleet": 1}
    assert open_sockets(after) == {"courier": 0, "customer": 0, "fleet": 0}


async def test_outbox_backlog_and_its_oldest_due_message(
    settings: Settings, db: asyncpg.Connection
) -> None:
    now = datetime.now(UTC)
    await outbox.enqueue(
        db,
        [
            outbox.NewMessage("due", None, "order.confirmed", "email", "a@b.test", {}),
            outbox.NewMessage(
                "held",
                None,
                "order.confirmed",
                "sms",
                "+1555",
                {},
                not_before=now + timedelta(hours=8),
            ),
        ],
        now - timedelta(minutes=10),
    )
    # Nobody sends here (notify off): the backlog stays as written.
    async with (
        run_server(scraping(settings, notify_enabled=False)) as server,
        server.http() as client,
    ):
        metrics = await scrape_until(
            client, lambda m: m.value("tracker_outbox_pending_messages") == 2, "the backlog"
        )
    age_s = metrics.value("tracker_outbox_oldest_due_age_seconds")
    assert 600 <= age_s < 600 + 60, age_s


async def test_sends_by_channel_and_outcome(settings: Settings, db: asyncpg.Connection) -> None:
    async with smtp_server() as mailbox, http_receiver() as receiver:
        mailbox.fail_next = 1  # email: one failure, then sent
        receiver.statuses = [500, 503]  # SMS: fails twice, and twice is all it may try
        settings = scraping(notifying(settings, mailbox, receiver, notify_max_attempts=2))
        async with (
            run_server(settings) as server,
            Dispatch(server) as dispatch,
            server.http() as client,
        ):
            await dispatch.order(customer={"name": "Cleo", "email": EMAIL, "phone": PHONE})

            def sends(metrics: Scrape) -> dict[tuple[str, str], float]:
                return {
                    (s.labels["channel"], s.labels["outcome"]): s.value
                    for s in metrics.named("tracker_notification_sends_total")
                }

            expected = {
                ("email", "sent"): 1,
                ("email", "retry"): 1,
                ("email", "failed"): 0,
                ("sms", "sent"): 0,
                ("sms", "retry"): 1,
                ("sms", "failed"): 1,
                ("webhook", "sent"): 0,
                ("webhook", "retry"): 0,
                ("webhook", "failed"): 0,
            }
            metrics = await scrape_until(client, lambda m: sends(m) == expected, "the sends")
    assert sends(metrics) == expected


async def test_bus_drops_are_counted(settings: Settings, db: asyncpg.Connection) -> None:
    await require_redis()
    settings = scraping(
        settings, bus=TEST_REDIS_URL, bus_prefix=bus_prefix(), bus_queue_max_messages=3
    )
    async with run_server(settings) as server, server.http() as client:
        hub = server.services.live.hub
        await eventually(lambda: hub.connected, what="the bus to connect")  # type: ignore[attr-defined]
        before = (await scrape(client)).value("tracker_bus_dropped_messages_total")
        queued = hub.queued  # type: ignore[attr-defined]
        for n in range(10):  # at once: the queue to Redis holds 3, the rest is dropped
            hub.publish(f"order:{n}", b"{}")
        metrics = await scrape(client)
    assert metrics.value("tracker_bus_dropped_messages_total") == before + queued + 10 - 3


async def test_how_far_behind_the_bottleneck_rollup_is(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """The start-up round rolls the (empty) history up to the lag behind the clock."""
    async with run_server(scraping(settings)) as server, server.http() as client:
        metrics = await scrape_until(
            client,
            lambda m: m.value("tracker_insight_rollup_behind_seconds") > 0,
            "the first rollup round",
        )
    behind_s = metrics.value("tracker_insight_rollup_behind_seconds")
    assert settings.insight_rollup_lag_s <= behind_s < settings.insight_rollup_lag_s + 60
