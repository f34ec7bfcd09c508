"""Injectable faults for the Admin GraphQL endpoint: error statuses, delays, dropped connections."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["status", "delay", "drop", "late"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "delay", "drop", "late")


@dataclass
class Fault:
    """kind "status": answer `status` (JSON errors body); "delay": sleep `delay` s then answer
    normally; "late": do the work at once, then answer only after `delay` s (a client that
    gives up first never learns that it was done); "drop": close the connection without an
    answer. `times=None` means until cleared.
    `shop` / `operation` (operation name or root field) narrow which requests it hits."""

    kind: FaultKind
    status: int = 502
    delay: float = 0.0
    times: int | None = 1
    shop: str | None = None
    operation: str | None = None
    hits: int = 0

    def matches(self, shop: str, operations: Collection[str]) -> bool:
        if self.shop is not None and self.shop.lower() != shop.lower():
            return False
        return self.operation is None or self.operation in operations

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "delay": self.delay,
            "times": self.times,
            "shop": self.shop,
            "operation": self.operation,
            "hits": self.hits,
        }


class FaultSet:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        kind: str,
        *,
        status: int = 502,
        delay: float = 0.0,
        times: int | None = 1,
        shop: str | None = None,
        operation: str | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {kind!r}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for 'until cleared')")
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        fault = Fault(kind, status, delay, times, shop, operation)
        self._faults.append(fault)
        return fault

    def take(self, shop: str, operations: Collection[str]) -> Fault | None:
        """Consume one hit of the first fault matching this request."""
        for fault in self._faults:
            if fault.matches(shop, operations):
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        return list(self._faults)

    def __len__(self) -> int:
        return len(self._faults)
