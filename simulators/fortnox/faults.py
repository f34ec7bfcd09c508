"""Injected faults: how the simulated Fortnox misbehaves on purpose.

A fault matches on HTTP method (``None`` or ``"*"`` = any), a regex searched in the path, and
optionally the tenant (known for API calls from the Bearer token; for the OAuth token endpoint
only once the grant is resolved, so tenant-scoped faults do not match OAuth calls). The first
matching fault with ``times`` left fires (``times=None``: forever).

Kinds:

- ``delay``: sleep ``delay`` seconds, then handle normally.
- ``status``: answer ``status`` (default 503) WITHOUT handling; body is the Fortnox envelope with
  code 1000003 "Systemfel" (a 429 gets the rate-limit body instead).
- ``drop_after_commit``: handle and commit, then abort the TCP connection without a response;
  the client sees a disconnect although the write happened.
- ``timeout``: sleep ``delay`` seconds (``delay <= 0``: one hour, i.e. hang) BEFORE handling, then
  handle normally. A client that timed out meanwhile never sees the answer, but the write still
  happens later, like a slow real server. Hangs still pending when the simulator stops are
  aborted without handling.
- ``delay_after_commit``: handle and commit, then sleep ``delay`` seconds before answering.

Faults apply to API and OAuth paths, after authentication and rate limiting; never to ``/_sim``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

FaultKind = Literal["delay", "status", "drop_after_commit", "timeout", "delay_after_commit"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
HANG_SECONDS = 3600.0


@dataclass
class Fault:
    id: int
    kind: FaultKind
    path_regex: str
    method: str | None = None
    times: int | None = 1
    delay: float = 0.0
    status: int = 503
    tenant_id: str | None = None
    fired: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @property
    def sleep_seconds(self) -> float:
        if self.kind == "timeout" and self.delay <= 0:
            return HANG_SECONDS
        return self.delay

    def matches(self, method: str, path: str, tenant_id: str | None) -> bool:
        if self.exhausted:
            return False
        if self.method not in (None, "*") and self.method.upper() != method.upper():
            return False
        if self.tenant_id is not None and self.tenant_id != tenant_id:
            return False
        return self._pattern.search(path) is not None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path_regex": self.path_regex,
            "times": self.times,
            "delay": self.delay,
            "status": self.status,
            "tenant_id": self.tenant_id,
            "fired": self.fired,
        }


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        kind: str = "status",
        times: int | None = 1,
        delay: float = 0.0,
        status: int = 503,
        tenant_id: str | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if kind == "status" and not 400 <= status <= 599:
            raise ValueError("status faults need a 4xx/5xx status")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        fault = Fault(
            id=next(self._ids),
            kind=cast(FaultKind, kind),  # checked against FAULT_KINDS above
            path_regex=path_regex,
            method=method,
            times=times,
            delay=delay,
            status=status,
            tenant_id=tenant_id,
        )
        self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, tenant_id: str | None) -> Fault | None:
        """The first matching fault, counted as fired."""
        for fault in self._faults:
            if fault.matches(method, path, tenant_id):
                fault.fired += 1
                return fault
        return None

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)
