"""The courier's run feed, as plain calls: changes go at once; ETA moves at most once per
interval per courier, the last one waiting for the next flush; encoded once per change."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from server.domain.lifecycle import Status
from server.live.courier_runs import CourierRuns
from server.live.runs import Runs
from server.store.orders import Order
from server.transport.hub import MemoryHub, driver_topic
from server.transport.subscriber import Subscriber

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class NoEtas:
    def view(self, order_id: int) -> None:
        return None


def order(order_id: int, driver_id: int, stop_index: int) -> Order:
    return Order(
        id=order_id, reference=f"R{order_id}", tracking_code="X", customer_name="Cleo",
        customer_email="cleo@example.com", customer_phone="+351912345678",
        destination=(11.9, 50.3), address="Main St 1", promised_by=None, window_start=None,
        window_end=None, status=Status.OUT_FOR_DELIVERY, driver_id=driver_id,
        stop_index=stop_index, route=None, created_at=T0, updated_at=T0, closed_at=None,
    )  # fmt: skip


def feed() -> tuple[CourierRuns, Runs, Subscriber, list[float]]:
    hub = MemoryHub()
    runs = Runs(next_stop_only=False)
    now_m = [100.0]
    courier_runs = CourierRuns(hub, runs, NoEtas(), 10.0, lambda: now_m[0])  # type: ignore[arg-type]
    subscriber = Subscriber(10)
    hub.subscribe(driver_topic(1), subscriber)
    return courier_runs, runs, subscriber, now_m


def test_changes_go_at_once_and_eta_moves_are_paced() -> None:
    courier_runs, runs, subscriber, now_m = feed()
    runs.apply(order(7, 1, 0))
    courier_runs.changed(1)
    [sent] = subscriber.take_nowait()
    message = json.loads(sent)
    assert message["type"] == "run" and [s["order_id"] for s in message["stops"]] == [7]
    assert "cleo@example.com" not in sent.decode() and "+351" not in sent.decode()

    now_m[0] += 3
    courier_runs.etas_moved(1)  # 3 s after the last: waits
    courier_runs.flush()
    assert subscriber.take_nowait() == []
    now_m[0] += 7
    courier_runs.flush()  # 10 s: due
    assert len(subscriber.take_nowait()) == 1
    courier_runs.flush()  # nothing more waiting
    assert subscriber.take_nowait() == []
    now_m[0] += 10
    courier_runs.etas_moved(1)  # an interval after the last: at once
    assert len(subscriber.take_nowait()) == 1


def test_another_drivers_topic_hears_nothing() -> None:
    courier_runs, runs, subscriber, _ = feed()
    runs.apply(order(8, 2, 0))
    courier_runs.changed(2)
    assert subscriber.take_nowait() == []
