"""Items handled in groups by a few workers: the shape of each stage of ingest's group commit.

Items queue; a worker takes everything queued (at most ``most`` at a time) as one group and
hands it to the stage's handler, and goes on while items are left. Up to ``workers`` do so at
once; when all are busy, new items wait for the next free one and make its group bigger. Nothing
waits for a timer: a lone item is handled at once.

A worker counts as busy until the moment it finds the queue empty (counted in the worker itself,
not when its task's done-callback runs later): an item queued right after a worker finished
always finds either a busy worker that will take it or room for a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class Groups(Generic[Item]):
    def __init__(
        self,
        handle: Callable[[list[Item]], Awaitable[None]],
        *,
        workers: int,
        most: int | None = None,
    ) -> None:
        self._handle = handle
        self._workers = workers
        self._most = most
        self._items: list[Item] = []
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def put(self, items: Iterable[Item]) -> None:
        """Queue items; starts a worker when one is free."""
        self._items.extend(items)
        if self._items and self._busy < self._workers:
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> int:
        """Workers handling a group now (or about to)."""
        return self._busy

    async def join(self) -> None:
        """Wait until every worker under way has finished (shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        try:
            while self._items:
                if self._most is None:
                    group, self._items = self._items, []
                else:
                    group = self._items[: self._most]
                    del self._items[: self._most]
                await self._handle(group)
        finally:
            self._busy -= 1
