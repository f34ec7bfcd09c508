"""Fortnox's rate limit: a sliding window per (client id, tenant).

At most ``limit`` ACCEPTED requests in any ``window`` seconds (Fortnox: 25 per 5 s, i.e. 300 per
minute). A request over the limit is answered 429 with a small JSON body and no Retry-After
header, and does not consume budget, so a client that keeps hammering is served again as soon as
the oldest accepted request leaves the window. Each tenant has its own budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindowLimiter:
    def __init__(self, limit: int | None, window: float, clock: Callable[[], float]) -> None:
        """``limit=None`` disables limiting."""
        self.limit = limit
        self.window = window
        self.clock = clock
        self._accepted: dict[Hashable, deque[float]] = {}

    def try_acquire(self, key: Hashable) -> bool:
        if self.limit is None:
            return True
        now = self.clock()
        times = self._accepted.setdefault(key, deque())
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def reset(self) -> None:
        self._accepted.clear()
