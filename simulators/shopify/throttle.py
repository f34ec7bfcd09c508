"""Shopify's calculated query cost and the per-shop leaky bucket it is charged against.

Estimate (requestedQueryCost), a simplification of Shopify's rules:
- every root field of a mutation costs 10;
- a connection (a field with `first`/`last`) costs 2 + n * (1 + cost of the connections nested
  inside one node), n being first/last; so orders(first: 10) { nodes { lineItems(first: 5) } }
  costs 2 + 10 * (1 + 2 + 5) = 82;
- a root field returning one object costs 1 (+ nested connections); scalars and plain nested
  objects cost 0 (Shopify charges 1 per nested object, so real estimates run a bit higher).
The actual cost counts the nodes really returned instead of first/last.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from .operation import FieldNode, InlineFragment, Operation, Selection

MUTATION_COST = 10
DOCS_URL = "https://shopify.dev/api/usage/rate-limits"


class CostBucket:
    """Leaky bucket: holds up to `size` points, refills at `restore_rate` points per second."""

    def __init__(
        self,
        size: float,
        restore_rate: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size <= 0 or restore_rate < 0:
            raise ValueError("bucket size must be > 0 and restore rate >= 0")
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._level = self.size
        self._stamp = clock()

    def available(self) -> float:
        now = self._clock()
        self._level = min(self.size, self._level + (now - self._stamp) * self.restore_rate)
        self._stamp = now
        return self._level

    def try_take(self, points: float) -> bool:
        if self.available() < points:
            return False
        self._level -= points
        return True

    def refund(self, points: float) -> None:
        self._level = min(self.size, self.available() + points)

    def drain(self, to: float = 0.0) -> None:
        """Test helper: leave only `to` points available right now."""
        self.available()
        self._level = max(0.0, min(self.size, to))

    def status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.size,
            "currentlyAvailable": math.floor(self.available()),
            "restoreRate": self.restore_rate,
        }


def cost_extension(bucket: CostBucket, requested: int, actual: int | None) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }


def throttled_body(bucket: CostBucket, requested: int) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": DOCS_URL},
            }
        ],
        "extensions": cost_extension(bucket, requested, None),
    }


def max_cost_body(bucket: CostBucket, requested: int) -> dict[str, Any]:
    limit = math.floor(bucket.size)
    return {
        "errors": [
            {
                "message": (
                    f"Query cost is {requested}, which exceeds the single query max cost limit "
                    f"({limit}).\n\nSee {DOCS_URL} for more information on how the\n"
                    "cost of a query is calculated.\n\nTo query larger amounts of data with "
                    "fewer limits, bulk operations should be used instead."
                ),
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": limit,
                    "documentation": DOCS_URL,
                },
            }
        ]
    }


def _page_size(field: FieldNode) -> int | None:
    for name in ("first", "last"):
        value = field.args.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
    return None


def _fields(selections: Sequence[Selection]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for sel in selections:
        if isinstance(sel, InlineFragment):
            out.extend(_fields(sel.selections))
        else:
            out.append(sel)
    return out


def _nested(selections: Sequence[Selection]) -> int:
    """Cost of the connections somewhere below these selections (plain objects are free)."""
    total = 0
    for field in _fields(selections):
        if _page_size(field) is not None:
            total += _connection(field)
        else:
            total += _nested(field.selections)
    return total


def _connection(field: FieldNode) -> int:
    size = _page_size(field) or 0
    per_node = 0
    for child in _fields(field.selections):
        if child.name == "nodes":
            per_node = max(per_node, _nested(child.selections))
        elif child.name == "edges":
            for grandchild in _fields(child.selections):
                if grandchild.name == "node":
                    per_node = max(per_node, _nested(grandchild.selections))
    return 2 + size * (1 + per_node)


def estimate_cost(operation: Operation) -> int:
    total = 0
    for field in operation.root_fields:
        if field.name == "__typename":
            continue
        if operation.kind == "mutation":
            total += MUTATION_COST
        elif _page_size(field) is not None:
            total += _connection(field)
        else:
            total += 1 + _nested(field.selections)
    return total
