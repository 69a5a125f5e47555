"""Times in customers' messages (issue 17): never "between 17:00 and 17:00", dated when not
today in the customer's time zone, the zone named when the customer's is not known, and
written the way the order's locale writes them (Babel), `promised_by` included."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from server.base.settings import Settings
from server.domain.lifecycle import Status
from server.store.orders import Order
from server.usecases.notify.events import order_context
from server.usecases.notify.templates import BUILT_IN, Templates
from server.wire.live import EtaView

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
EVENTS_WITH_ETA = ["shipped", "out_for_delivery", "delayed", "arriving"]


def order(time_zone: str | None = "Europe/Lisbon", locale: str | None = "en-GB") -> Order:
    return Order(
        id=7, reference="A-1", tracking_code="7KQ2M9XD3HVAPR4T", customer_name="Cleo",
        customer_email="cleo@example.com", customer_phone=None, destination=(-8.61, 41.15),
        address=None, promised_by=None, window_start=None, window_end=None,
        status=Status.OUT_FOR_DELIVERY, driver_id=1, stop_index=0, route=None,
        created_at=NOW, updated_at=NOW, closed_at=None, customer_time_zone=time_zone,
        locale=locale,
    )  # fmt: skip


def eta(at: datetime, early_s: float, late_s: float) -> EtaView:
    def z(t: datetime) -> str:
        return t.isoformat().replace("+00:00", "Z")

    window = [z(at - timedelta(seconds=early_s)), z(at + timedelta(seconds=late_s))]
    return EtaView(z(at), 60, 500, window, "high", None)


def bodies(o: Order, view: EtaView) -> dict[str, str]:
    context = order_context(o, Settings(), view, None, NOW)
    templates = Templates()
    return {event: templates.render(event, context).text for event in EVENTS_WITH_ETA}


def test_a_window_whose_ends_read_the_same_is_not_given_as_a_range() -> None:
    # 17:00:05 to 17:00:50 (Lisbon is UTC in winter): both ends read 17:00.
    view = eta(datetime(2026, 12, 1, 17, 0, 20, tzinfo=UTC), 15.0, 30.0)
    texts = bodies(order(), view)
    for event, text in texts.items():
        assert "between" not in text.lower(), (event, text)
    assert "expected around 17:00." in texts["delayed"]
    assert "should arrive around 17:00." in texts["out_for_delivery"]


def test_a_window_with_different_ends_is_still_given() -> None:
    view = eta(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), 300.0, 600.0)
    assert "(between 16:55 and 17:10)" in bodies(order(), view)["delayed"]


def test_an_eta_on_another_day_carries_its_date_in_the_customers_zone() -> None:
    # 00:30 UTC on the 2nd: tomorrow in Lisbon (UTC in winter), but 09:30 today in Tokyo,
    # where it is already the 2nd at 16:00 UTC on the 1st.
    view = eta(datetime(2026, 12, 2, 0, 30, tzinfo=UTC), 600.0, 600.0)
    lisbon = bodies(order("Europe/Lisbon"), view)["out_for_delivery"]
    # The window's ends are on the ETA's day, which the ETA gives already.
    assert "around Wed 2 Dec, 00:30 (between 00:20 and 00:40)" in lisbon
    tokyo = bodies(order("Asia/Tokyo"), view)["out_for_delivery"]
    assert "around 09:30 (between 09:20 and 09:40)" in tokyo


def test_without_the_customers_zone_the_time_names_its_zone() -> None:
    view = eta(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), 0.0, 0.0)
    text = bodies(order(None), view)["arriving"]
    assert "around Wed 2 Dec, 09:00 UTC" in text


def test_a_window_across_midnight_dates_only_its_end() -> None:
    view = eta(datetime(2026, 12, 1, 23, 55, tzinfo=UTC), 300.0, 600.0)
    text = bodies(order(), view)["out_for_delivery"]
    assert "around 23:55 (between 23:50 and Wed 2 Dec, 00:05)" in text


def test_times_are_written_as_the_orders_locale_writes_them() -> None:
    view = eta(datetime(2026, 12, 2, 17, 0, tzinfo=UTC), 300.0, 600.0)
    us = bodies(order(locale="en-US"), view)["out_for_delivery"]
    assert "around Wed, Dec 2, 5:00 PM (between 4:55 PM and 5:10 PM)" in us
    pt = bodies(order(locale="pt-PT"), view)["out_for_delivery"]
    assert "por volta de quarta, 2/12, 17:00 (entre 16:55 e 17:10)" in pt
    de = bodies(order(locale="de-DE"), view)["out_for_delivery"]
    assert "gegen Mi., 2. Dez., 17:00 ankommen (zwischen 16:55 und 17:10)" in de


def test_without_a_locale_the_operators_default_is_used() -> None:
    view = eta(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), 300.0, 600.0)
    o = order(locale=None)
    context = order_context(o, Settings(default_locale="fr-FR"), view, None, NOW)
    text = Templates().render("out_for_delivery", context).text
    assert "devrait arriver vers 17:00 (entre 16:55 et 17:10)" in text


def test_the_promise_is_written_in_the_customers_time_never_raw_utc() -> None:
    promised = dataclasses.replace(order(), promised_by=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    view = eta(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), 300.0, 600.0)
    context = order_context(promised, Settings(), view, None, NOW)
    assert context["promised_by"] == "15:00"
    text = Templates().render("delayed", context).text
    assert "We had promised it by 15:00." in text and "2026-12-01" not in text


@pytest.mark.parametrize("event", EVENTS_WITH_ETA)
def test_every_built_in_template_with_an_eta_reads_without_one(event: str) -> None:
    assert (BUILT_IN / f"{event}.txt").exists()
    context = order_context(order(), Settings(), None, None, NOW)
    text = Templates().render(event, context).text
    assert "None" not in text and "around" not in text and "between" not in text
