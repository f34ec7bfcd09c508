"""The writer's clock: where it waits on wall time (rate-limit slots, leases, a settling
outcome, the scheduler's pauses) it asks this object, so tests can inject one that records or
skips the waits. Shared deadlines between replicas come from PostgreSQL's clock instead."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
