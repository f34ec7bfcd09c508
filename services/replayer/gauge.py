"""The failed-jobs gauge, read from the table so every replica reports the same numbers."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from libs.common.logs import get_logger
from libs.common.metrics import FAILED_JOBS_OPEN
from services.replayer import jobs

log = get_logger(__name__)

GAUGE_INTERVAL_SECONDS = 15.0


class OpenJobsGauge:
    """Keeps ``fortbridge_failed_jobs_open{cause}`` equal to the table (every replica agrees)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._causes: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        counts = await jobs.open_counts(self._pool)
        for cause in self._causes - counts.keys():
            with contextlib.suppress(KeyError):
                FAILED_JOBS_OPEN.remove(cause)
        for cause, count in counts.items():
            FAILED_JOBS_OPEN.labels(cause=cause).set(count)
        self._causes = set(counts)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="failed-jobs-gauge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("failed-jobs gauge not refreshed", error=str(exc))
            await asyncio.sleep(GAUGE_INTERVAL_SECONDS)
