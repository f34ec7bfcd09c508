"""Items handled in groups by a few workers: the shape of each stage of ingest's group commit.

Items queue; a worker takes everything queued (at most ``most`` at a time) as one group and
hands it to the stage's handler, and goes on while items are left. Up to ``workers`` do so at
once; when all are busy, new items wait for the next free one and make its group bigger. Nothing
waits for a timer unless the stage asks for it: a lone item is handled at once. A stage whose
work can wait a little gives a ``linger``: its worker waits that long before taking a group
that is not full (fewer than ``most`` items, or fewer than ``linger_under`` when given), so
items arriving one by one are still handled in few groups. Ingest's marking of published events
waits 0.1 s before every group; its writes wait 2 ms only for a lone webhook (items arriving
together are written at once: a wait there would only add to each answer's time).

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
        linger: float = 0.0,
        linger_under: int | None = None,
    ) -> None:
        self._handle = handle
        self._linger = linger
        self._linger_under = linger_under
        self._workers = workers
        self._most = most
        self._items: list[Item] = []
        self._busy = 0
        self._lingering = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def put(self, items: Iterable[Item]) -> None:
        """Queue items; starts a worker when one is free (and none is lingering: it takes
        them when it wakes, unless they make a full group)."""
        self._items.extend(items)
        if self._items and self._busy < self._workers and (not self._lingering or self._full()):
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _full(self) -> bool:
        return self._most is not None and len(self._items) >= self._most

    def _sparse(self) -> bool:
        """Few enough items queued that the worker lingers for more."""
        if self._linger_under is not None:
            return len(self._items) < self._linger_under
        return not self._full()

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
                if self._linger and self._sparse():
                    self._lingering += 1
                    try:
                        await asyncio.sleep(self._linger)
                    finally:
                        self._lingering -= 1
                    if not self._items:  # a worker started for a full group took them
                        break
                if self._most is None:
                    group, self._items = self._items, []
                else:
                    group = self._items[: self._most]
                    del self._items[: self._most]
                await self._handle(group)
        finally:
            self._busy -= 1
