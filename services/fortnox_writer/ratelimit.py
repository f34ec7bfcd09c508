"""Fortnox's rate limit, kept across every writer replica in PostgreSQL as a sliding window.

Fortnox allows 25 requests in any 5 s window per client and tenant, counted where the requests
ARRIVE. Network delay varies per request (jitter), so two requests sent 5 s apart can arrive
4.9 s apart; a limiter that spaces sends by exactly ``window / limit`` is one jitter away from a
429. So each tenant's row keeps the send slots of its last ``limit`` requests, and a new slot is
granted only when it is at least ``window + margin`` after the slot ``limit`` places back:
any ``limit + 1`` consecutive requests span at least ``window + margin`` when sent, so at least
``window`` when they arrive, as long as jitter plus a sender's lateness stay within ``margin``.
Slots are also at least ``window / limit / 2`` apart, so a full window's budget is not sent in
one burst. With 25 per 5 s and a 0.3 s margin that is 25 / 5.3 s = 94 % of Fortnox's rate.

Each reservation is one short transaction on PostgreSQL's clock (the one clock every replica
shares). A caller that wakes up later than ``margin / 3`` after its slot (a busy event loop, a
slow database answer) would eat into the margin, so it takes a fresh slot instead (at most
``MAX_LATE`` times). A 429 pushes the tenant's next slot a whole window out (``penalize``).
"""

from __future__ import annotations

import asyncpg

from libs.common.metrics import FORTNOX_RATE_LIMIT_WAIT
from libs.common.settings import Settings
from services.fortnox_writer.clock import Clock, SystemClock

# Fresh slots a late caller takes before it sends anyway.
MAX_LATE = 3

_RESERVE = """
WITH now AS (SELECT clock_timestamp() AS t),
slot AS (
    SELECT greatest(
        now.t,
        r.tat + make_interval(secs => $3),
        CASE WHEN cardinality(r.sent) >= $2
             THEN r.sent[cardinality(r.sent) - $2 + 1] + make_interval(secs => $4)
        END
    ) AS s, r.sent
    FROM now, fortnox_writer.rate_limits r WHERE r.tenant_id = $1
),
updated AS (
    UPDATE fortnox_writer.rate_limits r
    SET tat = slot.s,
        sent = (array_append(slot.sent, slot.s))[
            greatest(1, cardinality(slot.sent) + 2 - $2) : cardinality(slot.sent) + 1]
    FROM slot WHERE r.tenant_id = $1
    RETURNING r.tat
)
SELECT extract(epoch FROM (updated.tat - now.t))::float8 AS wait,
       extract(epoch FROM (now.t - transaction_timestamp()))::float8 AS queued
FROM updated, now
"""


class RateLimiter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        limit: int,
        window: float,
        margin: float = 0.3,
        clock: Clock | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or margin < 0:
            raise ValueError("rate limit needs limit >= 1, window > 0 and margin >= 0")
        self._pool = pool
        self.limit = limit
        self.window = window
        self.margin = margin
        self.span = window + margin  # no `limit` + 1 consecutive slots closer than this
        self.gap = window / limit / 2  # and no two slots closer than this
        self.late_tolerance = margin / 3
        self._clock = clock or SystemClock()

    async def reserve(self, tenant_id: str) -> float:
        """Reserve the tenant's next slot; returns the seconds to wait for it."""
        due = await self._reserve_due(tenant_id)
        return max(0.0, due - self._clock.monotonic())

    async def _reserve_due(self, tenant_id: str) -> float:
        """Reserve the tenant's next slot; returns when it is due on this process's clock.

        The slot is computed after the row lock (other replicas' reservations) was granted;
        the database says how long that took, so neither a lock wait (which would make the
        slot look due too early) nor a slow answer (which would hide that we are late) skews it.
        """
        async with self._pool.acquire() as conn:
            # Read just before BEGIN goes out: PostgreSQL's transaction_timestamp() is when it
            # arrived. Read after BEGIN's answer instead, a busy event loop resuming this task
            # late would move the slot late by as much, unseen by the lateness check below
            # (a send that late, and the next on time, would arrive closer than the window).
            began = self._clock.monotonic()
            async with conn.transaction():
                # Lock the tenant's row first (creating it), so the slot is computed from the
                # latest slots and on the clock of after the lock.
                await conn.execute(
                    "INSERT INTO fortnox_writer.rate_limits AS r (tenant_id, tat)"
                    " VALUES ($1, '-infinity') ON CONFLICT (tenant_id) DO UPDATE SET tat = r.tat",
                    tenant_id,
                )
                row = await conn.fetchrow(_RESERVE, tenant_id, self.limit, self.gap, self.span)
        return began + max(0.0, float(row["queued"])) + max(0.0, float(row["wait"]))

    async def acquire(self, tenant_id: str) -> float:
        """Wait for the tenant's next slot; returns the time waited."""
        clock = self._clock
        started = clock.monotonic()
        for _ in range(MAX_LATE + 1):
            due = await self._reserve_due(tenant_id)
            if due > clock.monotonic():
                await clock.sleep(due - clock.monotonic())
            if clock.monotonic() - due <= self.late_tolerance:
                break
        waited = clock.monotonic() - started
        FORTNOX_RATE_LIMIT_WAIT.observe(waited)
        return waited

    async def next_slot_in(self, tenant_id: str) -> float:
        """Seconds until the tenant's next free slot (0: now), without reserving it."""
        wait = await self._pool.fetchval(
            """
            SELECT extract(epoch FROM (greatest(
                r.tat + make_interval(secs => $2),
                CASE WHEN cardinality(r.sent) >= $3
                     THEN r.sent[cardinality(r.sent) - $3 + 1] + make_interval(secs => $4) END
            ) - clock_timestamp()))::float8
            FROM fortnox_writer.rate_limits r WHERE r.tenant_id = $1
            """,
            tenant_id,
            self.gap,
            self.limit,
            self.span,
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


def rate_limiter(pool: asyncpg.Pool, settings: Settings, clock: Clock | None = None) -> RateLimiter:
    """The limiter every writer replica builds from its settings (one per process)."""
    return RateLimiter(
        pool,
        limit=settings.fortnox_rate_limit,
        window=settings.fortnox_rate_window_seconds,
        margin=settings.fortnox_rate_margin_seconds,
        clock=clock,
    )
