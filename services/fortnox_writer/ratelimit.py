"""Fortnox's rate limit, enforced across every writer replica through PostgreSQL.

Fortnox allows 25 requests in any 5 s window per client and tenant. We keep one GCRA timestamp
(the theoretical arrival time) per tenant and reserve slots with one atomic statement: each call
gets the next slot ``interval = window / limit`` after the previous one and sleeps until it. Slots
are spaced, so no window of ``window`` seconds holds more than ``limit`` requests, whichever
replica sends them. PostgreSQL's clock is the one clock all replicas share.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from libs.common.metrics import FORTNOX_RATE_LIMIT_WAIT

# Fresh slots a late caller takes before it sends anyway.
MAX_LATE = 3


class RateLimiter:
    def __init__(self, pool: asyncpg.Pool, *, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("rate limit needs limit >= 1 and window > 0")
        self._pool = pool
        self.interval = window / limit
        self.window = window

    async def reserve(self, tenant_id: str) -> float:
        """Reserve the tenant's next slot; returns the seconds to wait for it."""
        wait = await self._pool.fetchval(
            """
            INSERT INTO fortnox_writer.rate_limits AS r (tenant_id, tat)
            VALUES ($1, clock_timestamp() + make_interval(secs => $2))
            ON CONFLICT (tenant_id) DO UPDATE
                SET tat = greatest(r.tat, clock_timestamp()) + make_interval(secs => $2)
            RETURNING extract(epoch FROM (tat - make_interval(secs => $2) - clock_timestamp()))
            """,
            tenant_id,
            self.interval,
        )
        return max(0.0, float(wait))

    async def acquire(self, tenant_id: str) -> float:
        """Wait for the tenant's next slot; returns the time waited.

        A caller that wakes up well after its slot (a busy event loop, a slow reply) would send
        into the next caller's slot, and two such late requests can put 26 into one window of
        Fortnox's. So a late caller takes a fresh slot instead (at most ``MAX_LATE`` times).
        """
        started = time.monotonic()
        for _ in range(MAX_LATE + 1):
            asked = time.monotonic()
            wait = await self.reserve(tenant_id)
            due = asked + wait
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            if time.monotonic() - due <= self.interval / 2:
                break
        waited = time.monotonic() - started
        FORTNOX_RATE_LIMIT_WAIT.observe(waited)
        return waited

    async def next_slot_in(self, tenant_id: str) -> float:
        """Seconds until the tenant's next free slot (0: now), without reserving it."""
        wait = await self._pool.fetchval(
            "SELECT extract(epoch FROM (tat - clock_timestamp()))"
            " FROM fortnox_writer.rate_limits WHERE tenant_id = $1",
            tenant_id,
        )
        return 0.0 if wait is None else max(0.0, float(wait))

    async def penalize(self, tenant_id: str, seconds: float) -> None:
        """Honour a 429: no slot for the tenant, from any replica, for ``seconds``."""
        await self._pool.execute(
            """
            INSERT INTO fortnox_writer.rate_limits AS r (tenant_id, tat)
            VALUES ($1, clock_timestamp() + make_interval(secs => $2))
            ON CONFLICT (tenant_id) DO UPDATE
                SET tat = greatest(r.tat, clock_timestamp() + make_interval(secs => $2))
            """,
            tenant_id,
            seconds,
        )
