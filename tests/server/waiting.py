"""Waiting on server-side conditions with a deadline (no fixed sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

POLL_S = 0.01


async def eventually(
    condition: Callable[[], bool], timeout_s: float = 30.0, what: str = ""
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            # Server-side state has no event to wait on; poll it against the deadline.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout_s} s waiting for {what or condition}"
        ) from None


async def readyz_until(
    client: httpx.AsyncClient, condition: Callable[[httpx.Response], bool], timeout_s: float = 30.0
) -> httpx.Response:
    """`/readyz` polled until its answer meets `condition`: the database and the bus come
    back by themselves, and a readiness answer stands up to a second
    (server/edges/rest/health.py)."""
    async with asyncio.timeout(timeout_s):
        while not condition(response := await client.get("/readyz")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return response
