"""The shared Fortnox rate limiter against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from fortbridge.localstack import migrate_all
from services.fortnox_writer.ratelimit import RateLimiter


@pytest.fixture
async def migrated(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await migrate_all(database_url)
    yield pool


async def test_reservations_from_many_callers_are_spaced_by_the_interval(
    migrated: asyncpg.Pool,
) -> None:
    # Two "replicas" (limiters) share one tenant: 24 per 1.2 s -> one slot per 50 ms.
    limiters = [RateLimiter(migrated, limit=24, window=1.2) for _ in range(2)]
    tenant = uuid.uuid4().hex
    started = time.monotonic()
    sent: list[float] = []

    async def call(limiter: RateLimiter) -> None:
        await limiter.acquire(tenant)
        sent.append(time.monotonic() - started)

    await asyncio.gather(*(call(limiters[i % 2]) for i in range(48)))
    sent.sort()
    busiest = max(sum(1 for t in sent if s <= t < s + 1.2) for s in sent)
    assert busiest <= 25  # 24 slots plus scheduling jitter at the window's edge
    assert sent[-1] >= 47 * 0.05 * 0.9  # they really waited for their slots


async def test_tenants_do_not_share_a_budget(migrated: asyncpg.Pool) -> None:
    limiter = RateLimiter(migrated, limit=5, window=5.0)
    busy, quiet = uuid.uuid4().hex, uuid.uuid4().hex
    waits = [await limiter.reserve(busy) for _ in range(5)]
    assert waits[-1] == pytest.approx(4.0, abs=0.2)
    assert await limiter.reserve(quiet) == pytest.approx(0.0, abs=0.05)


async def test_a_caller_late_for_its_slot_takes_a_fresh_one(migrated: asyncpg.Pool) -> None:
    class SlowReplies(RateLimiter):
        """Every reservation's answer arrives well after the slot it reserved."""

        calls = 0

        async def reserve(self, tenant_id: str) -> float:
            self.calls += 1
            wait = await super().reserve(tenant_id)
            await asyncio.sleep(0.2 if self.calls <= 2 else 0)
            return wait

    limiter = SlowReplies(migrated, limit=10, window=1.0)  # slots 0.1 s apart
    await limiter.acquire(uuid.uuid4().hex)
    assert limiter.calls == 3  # two late answers, two fresh slots; the third was on time


async def test_429_penalty_and_next_slot(migrated: asyncpg.Pool) -> None:
    limiter = RateLimiter(migrated, limit=24, window=5.0)
    tenant = uuid.uuid4().hex
    assert await limiter.next_slot_in(tenant) == 0.0
    await limiter.penalize(tenant, 5.0)
    assert await limiter.next_slot_in(tenant) == pytest.approx(5.0, abs=0.2)
    assert await limiter.reserve(tenant) == pytest.approx(5.0, abs=0.2)
