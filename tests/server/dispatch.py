"""A dispatcher's HTTP client for tests: orders, statuses, assignments."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.server.harness import RunningServer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Dispatch:
    def __init__(self, server: RunningServer) -> None:
        self.client = httpx.AsyncClient(base_url=server.base_url, timeout=30.0, headers=ADMIN)

    async def __aenter__(self) -> Dispatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def order(self, lon: float = 11.92, lat: float = 50.31, **fields: Any) -> dict[str, Any]:
        body = {
            "customer": {"name": "Cleo", "email": "cleo@example.com"},
            "destination": {"lat": lat, "lon": lon},
        }
        response = await self.client.post("/api/orders", json={**body, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def status(self, order_id: int, *statuses: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for status in statuses:
            response = await self.client.post(
                f"/api/orders/{order_id}/status", json={"status": status}
            )
            assert response.status_code == 200, response.text
            body = response.json()
        return body

    async def assign(self, order_id: int, driver_id: int, **fields: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/orders/{order_id}/assign", json={"driver_id": driver_id, **fields}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def out_for_delivery(
        self, order_id: int, driver_id: int, **fields: Any
    ) -> dict[str, Any]:
        await self.assign(order_id, driver_id, **fields)
        return await self.status(order_id, "shipped", "out_for_delivery")
