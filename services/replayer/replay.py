"""Putting a failed job back where it failed: one at once, or many at a pace.

A replay goes to the queue the job failed in (default exchange, routing key = that queue) with
the same message id, so a new failure updates the same job. It starts a new trace whose spans
link to the failed one, and is marked as a replay (``x-fortbridge-replay``,
``x-fortbridge-replay-of``) so it is not counted or charged as a new sync.

Publishing happens while the job's row is locked and before its status leaves ``open`` /
``queued`` is committed, so two replays of one job never both publish. A bulk retry only marks
jobs ``queued``; :class:`ReplayDrainer` publishes them at ``REPLAY_RATE`` per second, paced by
one row in PostgreSQL that every replica shares (:class:`Pacer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg
from aiormq.exceptions import PublishError
from opentelemetry.trace import Link

from libs.common import tracing
from libs.common.logs import get_logger
from libs.common.messaging.consumer import ORIGINAL_TRACEPARENT_HEADER
from libs.common.messaging.dead_letters import (
    ATTEMPT_HEADER,
    ERROR_HEADER_PREFIX,
    FAILED_QUEUE_HEADER,
)
from libs.common.metrics import REPLAYS

REPLAY_HEADER = "x-fortbridge-replay"
REPLAY_OF_HEADER = "x-fortbridge-replay-of"
REPLAY_COUNT_HEADER = "x-fortbridge-replay-count"
# The webhook's arrival time, for end-to-end latency: a replay is not a measure of it.
ORIGIN_AT_HEADER = "x-fortbridge-origin-at"

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)


class ReplayPublisher(Protocol):
    """What a replay needs of :class:`libs.common.messaging.Publisher` (tests fake it)."""

    async def publish_raw(
        self,
        body: bytes,
        routing_key: str,
        *,
        exchange: str,
        headers: Mapping[str, Any] | None = None,
        message_type: str | None = None,
        message_id: str | None = None,
        links: list[Link] | None = None,
        keep_trace_headers: bool = False,
    ) -> None: ...


def replay_headers(stored: dict[str, Any]) -> dict[str, Any]:
    """The original headers without failure bookkeeping, attempts reset, original trace kept."""
    headers = {
        key: value
        for key, value in stored.items()
        if not key.startswith(ERROR_HEADER_PREFIX)
        and not key.startswith("x-death")
        and not key.startswith("x-first-death")
        and not key.startswith("x-last-death")
        and key not in (FAILED_QUEUE_HEADER, ATTEMPT_HEADER, "x-delivery-count")
        and key not in (REPLAY_HEADER, REPLAY_OF_HEADER, REPLAY_COUNT_HEADER, ORIGIN_AT_HEADER)
    }
    original = stored.get(ORIGINAL_TRACEPARENT_HEADER) or stored.get("traceparent")
    headers.pop("traceparent", None)
    headers.pop("tracestate", None)
    headers.pop("baggage", None)
    if original:
        headers[ORIGINAL_TRACEPARENT_HEADER] = original
    return headers


async def publish_replay(
    conn: asyncpg.Connection, publisher: ReplayPublisher, job: asyncpg.Record, *, mode: str
) -> asyncpg.Record:
    """Publish a locked job's message to its queue and mark it ``retrying`` (same transaction)."""
    job_id = str(job["id"])
    headers = replay_headers(json.loads(job["headers"]))
    headers[REPLAY_HEADER] = "true"
    headers[REPLAY_OF_HEADER] = job_id
    headers[REPLAY_COUNT_HEADER] = int(job["retries"]) + 1
    links = tracing.links_to(headers.get(ORIGINAL_TRACEPARENT_HEADER))
    with _tracer.start_as_current_span(
        "replay failed job",
        links=links,
        attributes={
            "fortbridge.failed_job.id": job_id,
            "fortbridge.replay.mode": mode,
            "fortbridge.failed_job.cause": job["cause_key"],
            "messaging.destination.name": job["queue"],
        },
    ):
        await publisher.publish_raw(
            bytes(job["body"]),
            job["queue"],
            exchange="",
            headers=headers,
            message_type=job["message_type"],
            message_id=job["message_id"],
            links=links,
        )
    updated: asyncpg.Record = await conn.fetchrow(
        """
        UPDATE replayer.failed_jobs
        SET status = 'retrying', retries = retries + 1, last_retried_at = now(), queued_at = NULL
        WHERE id = $1 RETURNING *
        """,
        job["id"],
    )
    REPLAYS.labels(mode=mode).inc()
    log.info("failed job replayed", job_id=job_id, queue=job["queue"], mode=mode)
    return updated


class Pacer:
    """Slots ``1 / rate`` seconds apart from one PostgreSQL row: a pace for all replicas."""

    def __init__(self, pool: asyncpg.Pool, rate: float, name: str = "replay") -> None:
        self._pool = pool
        self._interval = 1.0 / rate
        self._name = name

    async def wait(self) -> float:
        """Reserve the next slot and sleep until it; returns the seconds slept."""
        row = await self._pool.fetchrow(
            """
            INSERT INTO replayer.pacer AS p (name, next_at)
            VALUES ($1, clock_timestamp() + make_interval(secs => $2))
            ON CONFLICT (name) DO UPDATE
                SET next_at = GREATEST(p.next_at, clock_timestamp()) + make_interval(secs => $2)
            RETURNING next_at, clock_timestamp() AS now
            """,
            self._name,
            self._interval,
        )
        delay: float = (row["next_at"] - row["now"]).total_seconds() - self._interval
        if delay > 0:
            await asyncio.sleep(delay)
        return max(delay, 0.0)


class ReplayDrainer:
    """Publishes ``queued`` jobs one per pacer slot, oldest first, until none are left."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: ReplayPublisher,
        rate: float,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._pacer = Pacer(pool, rate)
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="replay-drainer")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the replay in hand (never cut one between publish and commit), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                worked = await self.drain_one()
            except Exception:
                log.exception("bulk replay step failed; trying again")
                worked = False
            if not worked and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def drain_one(self) -> bool:
        """Replay the oldest queued job in the next slot; False when none is queued."""
        queued = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM replayer.failed_jobs WHERE status = 'queued')"
        )
        if not queued:
            return False
        await self._pacer.wait()
        failed: tuple[Any, Exception] | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            job = await conn.fetchrow(
                """
                SELECT * FROM replayer.failed_jobs WHERE status = 'queued'
                ORDER BY queued_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED
                """
            )
            if job is not None:
                try:
                    await publish_replay(conn, self._publisher, job, mode="bulk")
                except PublishError as exc:  # unroutable: its queue is gone
                    failed = (job["id"], exc)
        if failed is not None:
            await self._back_to_open(*failed)
        return True

    async def _back_to_open(self, job_id: Any, exc: Exception) -> None:
        """A replay the broker could not route goes back to open with the reason, so it never
        blocks the jobs queued behind it."""
        log.warning("replay could not be routed; job back to open", job_id=str(job_id))
        await self._pool.execute(
            """
            UPDATE replayer.failed_jobs
            SET status = 'open', queued_at = NULL, status_changed_by = 'replayer',
                status_changed_at = now(), status_reason = $2
            WHERE id = $1 AND status = 'queued'
            """,
            job_id,
            f"the replay could not be delivered: {exc}",
        )
