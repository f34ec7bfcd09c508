"""The shared Fortnox rate limiter (a sliding window with margin) against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from fortbridge.localstack import migrate_all
from libs.common.settings import Settings
from services.fortnox_writer.ratelimit import RateLimiter, rate_limiter


class RecordingClock:
    """Skips the limiter's waits (recording them) and moves its own time on by them."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._offset += max(0.0, seconds)


@pytest.fixture
async def migrated(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await migrate_all(database_url)
    yield pool


async def test_any_limit_plus_one_requests_span_the_window_and_margin(
    migrated: asyncpg.Pool,
) -> None:
    # Two "replicas" (limiters) share one tenant: 5 per 1 s with a 0.1 s margin.
    limiters = [RateLimiter(migrated, limit=5, window=1.0, margin=0.1) for _ in range(2)]
    tenant = uuid.uuid4().hex
    started = time.monotonic()
    sent: list[float] = []

    async def call(limiter: RateLimiter) -> None:
        await limiter.acquire(tenant)
        sent.append(time.monotonic() - started)

    await asyncio.gather(*(call(limiters[i % 2]) for i in range(16)))
    sent.sort()
    spans = [sent[i + 5] - sent[i] for i in range(len(sent) - 5)]
    assert min(spans) >= 1.1 - 0.02  # window + margin, less the event loop's resolution
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.1 - 0.02  # never a burst: window / limit / 2 apart at least
    # And it keeps up: 16 requests at 5 per 1.1 s take about (16 - 5) / 5 * 1.1 s.
    assert sent[-1] <= 16 / 5 * 1.1 + 0.5


async def test_the_window_fills_then_waits_and_tenants_do_not_share_it(
    migrated: asyncpg.Pool,
) -> None:
    limiter = RateLimiter(migrated, limit=5, window=5.0, margin=0.3)
    busy, quiet = uuid.uuid4().hex, uuid.uuid4().hex
    waits = [await limiter.reserve(busy) for _ in range(6)]
    # Five slots half a second apart, the sixth window + margin after the first.
    for got, want in zip(waits, [0.0, 0.5, 1.0, 1.5, 2.0, 5.3], strict=True):
        assert got == pytest.approx(want, abs=0.1)
    assert await limiter.reserve(quiet) == pytest.approx(0.0, abs=0.05)


async def test_the_limiter_built_from_settings_uses_the_configured_window(
    migrated: asyncpg.Pool,
) -> None:
    settings = Settings(
        fortnox_rate_limit=3, fortnox_rate_window_seconds=2.0, fortnox_rate_margin_seconds=0.25
    )
    clock = RecordingClock()
    limiter = rate_limiter(migrated, settings, clock)
    tenant = uuid.uuid4().hex
    for _ in range(4):
        await limiter.acquire(tenant)
    # Waited on the injected clock, not on the wall (so the database's clock stood still):
    # slots 1/3 s apart (2 s / 3 / 2), then the fourth window + margin after the first.
    assert clock.slept == pytest.approx([1 / 3, 2 / 3, 2.25], abs=0.1)


async def test_a_caller_late_for_its_slot_takes_a_fresh_one(migrated: asyncpg.Pool) -> None:
    class SlowReplies(RateLimiter):
        """Every reservation's answer arrives well after the slot it reserved."""

        calls = 0

        async def _reserve_due(self, tenant_id: str) -> float:
            self.calls += 1
            due = await super()._reserve_due(tenant_id)
            await asyncio.sleep(0.2 if self.calls <= 2 else 0)
            return due

    limiter = SlowReplies(migrated, limit=10, window=1.0, margin=0.3)  # late after 0.1 s
    await limiter.acquire(uuid.uuid4().hex)
    assert limiter.calls == 3  # two late answers, two fresh slots; the third was on time


async def test_429_penalty_and_next_slot(migrated: asyncpg.Pool) -> None:
    limiter = RateLimiter(migrated, limit=25, window=5.0, margin=0.3)
    tenant = uuid.uuid4().hex
    assert await limiter.next_slot_in(tenant) == 0.0
    await limiter.penalize(tenant, 5.0)
    assert await limiter.next_slot_in(tenant) == pytest.approx(5.1, abs=0.2)
    assert await limiter.reserve(tenant) == pytest.approx(5.1, abs=0.2)
