"""The shared Fortnox rate limiter (a sliding window with margin) against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import REGISTRY

from fortbridge.localstack import migrate_all
from libs.common.settings import Settings
from services.fortnox_writer.ratelimit import MAX_LATE, RateLimiter, rate_limiter

WAIT_METRIC = "fortbridge_fortnox_rate_limit_wait_seconds"


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
    started = time.monotonic()
    waits = [await limiter.reserve(busy) for _ in range(6)]
    took = time.monotonic() - started
    # Five slots half a second apart, the sixth window + margin after the first: read from the
    # row, so how long the reservations themselves took (a loaded machine) does not matter.
    sent = await migrated.fetchval(
        "SELECT sent FROM fortnox_writer.rate_limits WHERE tenant_id = $1", busy
    )
    assert len(sent) == 5  # the last `limit` slots are kept
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
    assert gaps == pytest.approx([0.5, 0.5, 0.5, 5.3 - 2.0], abs=0.001)
    # Each wait is its slot less the time the reservations took so far.
    for got, want in zip(waits, [0.0, 0.5, 1.0, 1.5, 2.0, 5.3], strict=True):
        assert want - took - 0.01 <= got <= want + 0.01
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
    observed = REGISTRY.get_sample_value(f"{WAIT_METRIC}_count") or 0.0
    waited = [await limiter.acquire(tenant) for _ in range(4)]
    # Waited on the injected clock, not on the wall (so the database's clock stood still):
    # slots 1/3 s apart (2 s / 3 / 2), then the fourth window + margin after the first.
    assert clock.slept == pytest.approx([1 / 3, 2 / 3, 2.25], abs=0.1)
    # Built from the settings: a 429 pushes the next slot out by the configured window.
    assert (limiter.limit, limiter.window, limiter.margin, limiter.span) == (3, 2.0, 0.25, 2.25)
    # Each acquire says how long it waited, and the wait histogram counts it.
    assert waited == pytest.approx([0.0, *clock.slept], abs=0.1)
    assert REGISTRY.get_sample_value(f"{WAIT_METRIC}_count") == observed + 4


@pytest.mark.parametrize(
    ("limit", "window", "margin"), [(0, 5.0, 0.3), (25, 0.0, 0.3), (25, 5.0, -0.1)]
)
async def test_a_limit_that_could_not_hold_is_refused(
    migrated: asyncpg.Pool, limit: int, window: float, margin: float
) -> None:
    with pytest.raises(ValueError, match="limit >= 1, window > 0 and margin >= 0"):
        RateLimiter(migrated, limit=limit, window=window, margin=margin)
    # The least limits that can hold are taken.
    least = RateLimiter(migrated, limit=1, window=0.001, margin=0.0)
    assert (least.span, least.gap, least.late_tolerance) == (0.001, 0.0005, 0.0)
    # Fortnox's 25 per 5 s with the default margin: 5.3 s per 25, late after 0.1 s.
    fortnox = RateLimiter(migrated, limit=25, window=5.0)
    assert (fortnox.span, fortnox.gap, fortnox.late_tolerance) == pytest.approx((5.3, 0.1, 0.1))


async def test_next_slot_counts_the_gap_and_the_full_window(migrated: asyncpg.Pool) -> None:
    limiter = RateLimiter(migrated, limit=2, window=1.0, margin=0.1)
    tenant = uuid.uuid4().hex
    await limiter.reserve(tenant)
    assert await limiter.next_slot_in(tenant) == pytest.approx(0.25, abs=0.1)  # the gap
    await limiter.reserve(tenant)
    # Two slots 0.25 s apart fill the window: the third is window + margin after the first.
    assert await limiter.next_slot_in(tenant) == pytest.approx(1.1, abs=0.1)


async def test_waiting_for_another_replicas_lock_is_not_lateness(migrated: asyncpg.Pool) -> None:
    class Counting(RateLimiter):
        calls = 0

        async def _reserve_due(self, tenant_id: str) -> float:
            self.calls += 1
            return await super()._reserve_due(tenant_id)

    limiter = Counting(migrated, limit=10, window=1.0, margin=0.3)  # late after 0.1 s
    tenant = uuid.uuid4().hex
    await limiter.reserve(tenant)  # the tenant's row exists
    limiter.calls = 0
    async with migrated.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM fortnox_writer.rate_limits WHERE tenant_id = $1 FOR UPDATE", tenant
        )
        acquiring = asyncio.ensure_future(limiter.acquire(tenant))
        await asyncio.sleep(0.4)  # holds the row lock: the reservation waits behind it
        assert not acquiring.done()  # it was really blocked by the lock
    await acquiring
    # Its slot counts from after the lock, so it is on time: one reservation, no fresh slot.
    assert limiter.calls == 1


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


async def test_a_caller_always_late_sends_after_max_late_fresh_slots(
    migrated: asyncpg.Pool,
) -> None:
    class AlwaysLate(RateLimiter):
        calls = 0

        async def _reserve_due(self, tenant_id: str) -> float:
            self.calls += 1
            return await super()._reserve_due(tenant_id) - 1.0  # due a second ago

    limiter = AlwaysLate(migrated, limit=10, window=1.0, margin=0.3)
    await limiter.acquire(uuid.uuid4().hex)
    assert limiter.calls == MAX_LATE + 1


async def test_429_penalty_and_next_slot(migrated: asyncpg.Pool) -> None:
    limiter = RateLimiter(migrated, limit=25, window=5.0, margin=0.3)
    tenant = uuid.uuid4().hex
    assert await limiter.next_slot_in(tenant) == 0.0
    await limiter.penalize(tenant, 5.0)
    assert await limiter.next_slot_in(tenant) == pytest.approx(5.1, abs=0.2)
    assert await limiter.reserve(tenant) == pytest.approx(5.1, abs=0.2)
