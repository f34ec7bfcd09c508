"""Leases: "only one replica works on this key now", without holding a database connection.

A lease is a row with an expiry. Taking it is one atomic upsert that succeeds only when the row
is absent or expired; while held, a heartbeat extends it every third of its time to live;
releasing deletes it if we still hold it. A holder that dies stops the heartbeat, and its lease
expires by itself within one time to live. (Session advisory locks would pin a pooled connection
for the whole Fortnox call, and handlers waiting for connections while holding them can deadlock
the pool.)
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from libs.common.errors import TransientError
from libs.common.logs import get_logger
from services.fortnox_writer.clock import Clock, SystemClock

log = get_logger(__name__)


class Leases:
    def __init__(self, pool: asyncpg.Pool, clock: Clock | None = None) -> None:
        self._pool = pool
        self._clock = clock or SystemClock()

    async def try_take(self, key: str, holder: str, ttl: float) -> bool:
        taken = await self._pool.fetchval(
            """
            INSERT INTO fortnox_writer.leases AS l (key, holder, expires_at)
            VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
            ON CONFLICT (key) DO UPDATE
                SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                WHERE l.expires_at < clock_timestamp()
            RETURNING holder
            """,
            key,
            holder,
            ttl,
        )
        return bool(taken == holder)

    async def release(self, key: str, holder: str) -> None:
        await self._pool.execute(
            "DELETE FROM fortnox_writer.leases WHERE key = $1 AND holder = $2", key, holder
        )

    async def extend(self, key: str, holder: str, ttl: float) -> bool:
        status: str = await self._pool.execute(
            "UPDATE fortnox_writer.leases SET expires_at = clock_timestamp()"
            " + make_interval(secs => $3) WHERE key = $1 AND holder = $2",
            key,
            holder,
            ttl,
        )
        return status == "UPDATE 1"

    async def _heartbeat(self, key: str, holder: str, ttl: float) -> None:
        while True:
            await self._clock.sleep(ttl / 3)
            try:
                if not await self.extend(key, holder, ttl):
                    log.error("lease lost while held", key=key)
                    return
            except Exception as exc:  # keep trying: the lease is still valid for a while
                log.warning("lease heartbeat failed", key=key, error=str(exc))

    @contextlib.asynccontextmanager
    async def hold(self, key: str, *, ttl: float = 15.0, wait: float = 0.0) -> AsyncIterator[None]:
        """Hold ``key`` for the block; waits up to ``wait`` s, then raises TransientError."""
        holder = uuid.uuid4().hex
        deadline = self._clock.monotonic() + wait
        while not await self.try_take(key, holder, ttl):
            if self._clock.monotonic() >= deadline:
                raise TransientError(f"another writer is working on {key} right now", code="busy")
            await self._clock.sleep(0.05)
        heartbeat = asyncio.create_task(self._heartbeat(key, holder, ttl))
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self.release(key, holder)
