"""Waiting on server-side conditions with a deadline (no fixed sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
