"""Leases: "only one replica works on this key now", without holding a database connection.

A lease is a row with an expiry. Taking it is one atomic upsert that succeeds only when the row
is absent or expired; releasing deletes it if we still hold it. A holder that dies leaves a lease
that expires by itself. (Session advisory locks would pin a pooled connection for the whole
Fortnox call, and handlers waiting for connections while holding them can deadlock the pool.)
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from libs.common.errors import TransientError


class Leases:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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

    @contextlib.asynccontextmanager
    async def hold(self, key: str, *, ttl: float = 60.0, wait: float = 0.0) -> AsyncIterator[None]:
        """Hold ``key`` for the block; waits up to ``wait`` s, then raises TransientError."""
        holder = uuid.uuid4().hex
        deadline = asyncio.get_running_loop().time() + wait
        while not await self.try_take(key, holder, ttl):
            if asyncio.get_running_loop().time() >= deadline:
                raise TransientError(f"another writer is working on {key} right now", code="busy")
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            await self.release(key, holder)
