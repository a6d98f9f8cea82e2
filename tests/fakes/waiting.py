"""Wait for a condition with a timeout: the tests' only way to wait (never a bare sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Return as soon as `condition()` holds; fail the test if it does not within `timeout`."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


async def wait_until_true(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """`wait_until` for a condition that must ask something (a store, a server)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.005)
