"""Executes a validated operation against node dicts: paging, projection, actual cost.

Resolvers hand out plain dicts ("nodes") carrying "__typename". A value in a node may be
- a scalar, list or nested node,
- a `Connection` (paged here with first/after/last/before),
- a callable taking the field's arguments (fields with arguments, root fields).
Projection keeps exactly the selected fields, under their aliases.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .operation import FieldNode, GraphQLError, InlineFragment, Operation, Selection
from .schema import type_matches
from .throttle import MUTATION_COST

Node = dict[str, Any]
SortKey = tuple[Any, int]  # (sort value, legacy id): a stable position in one ordering


def encode_cursor(key: SortKey) -> str:
    raw = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: object) -> SortKey:
    try:
        data = json.loads(base64.b64decode(str(cursor), validate=True))
        return (data["last_value"], int(data["last_id"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(
            f"Invalid cursor for current pagination sort: {cursor!r}",
            extensions={"code": "BAD_REQUEST"},
        ) from exc


@dataclass
class Connection:
    """Items already filtered and in display order; keys[i] orders items[i] (ascending unless
    reverse), so cursors stay valid while the data changes between pages."""

    typename: str
    items: Sequence[Any]
    keys: Sequence[SortKey]
    reverse: bool = False
    build: Callable[[Any], Node] | None = None  # turns an item into a node, only when paged

    @classmethod
    def of(
        cls, typename: str, items: Sequence[Node], ids: Sequence[int] | None = None
    ) -> Connection:
        """A positional connection (nested lists such as lineItems)."""
        legacy = ids if ids is not None else list(range(len(items)))
        return cls(typename, items, [(i, legacy[i]) for i in range(len(items))])

    def page(self, args: Mapping[str, Any]) -> tuple[Node, int]:
        """The connection object for these arguments, and how many nodes it holds."""

        def beyond(key: SortKey, mark: SortKey) -> bool:
            return key < mark if self.reverse else key > mark

        chosen = list(range(len(self.items)))
        if args.get("after") is not None:
            mark = decode_cursor(args["after"])
            chosen = [i for i in chosen if beyond(self.keys[i], mark)]
        if args.get("before") is not None:
            mark = decode_cursor(args["before"])
            chosen = [i for i in chosen if beyond(mark, self.keys[i])]
        has_prev = bool(chosen) and chosen[0] > 0
        has_next = bool(chosen) and chosen[-1] < len(self.items) - 1
        first, last = args.get("first"), args.get("last")
        if first is not None:
            has_next = has_next or len(chosen) > first
            chosen = chosen[:first]
        if last is not None:
            has_prev = has_prev or len(chosen) > last
            chosen = chosen[len(chosen) - last :] if last else []
        cursors = [encode_cursor(self.keys[i]) for i in chosen]
        nodes = [self.build(self.items[i]) if self.build else self.items[i] for i in chosen]
        edges = [
            {"__typename": f"{self.typename}Edge", "cursor": c, "node": n}
            for c, n in zip(cursors, nodes, strict=True)
        ]
        page_info = {
            "__typename": "PageInfo",
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        }
        connection = {
            "__typename": f"{self.typename}Connection",
            "edges": edges,
            "nodes": nodes,
            "pageInfo": page_info,
        }
        return connection, len(nodes)


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


@dataclass
class Executor:
    """Runs one operation; `actual_cost` grows as connections are paged."""

    mutation: bool = False
    actual_cost: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def run(self, operation: Operation, root: Node) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for sel in operation.selections:
            if isinstance(sel, InlineFragment):
                _merge(data, self.run(Operation(operation.kind, None, sel.selections), root))
                continue
            if sel.name == "__typename":
                data[sel.response_key] = root["__typename"]
                continue
            before = self.actual_cost
            value = self._resolve(root, sel)
            data[sel.response_key] = self._complete(value, sel, [sel.response_key])
            if self.mutation:
                self.actual_cost = before + MUTATION_COST  # nested selections are free
            elif not isinstance(value, Connection):
                self.actual_cost += 1
        return data

    def _resolve(self, node: Node, sel: FieldNode) -> Any:
        value = node.get(sel.name)
        if callable(value):
            resolver: Callable[[Mapping[str, Any]], Any] = value
            value = resolver(sel.args)
        return value

    def _complete(self, value: Any, sel: FieldNode, path: list[str | int]) -> Any:
        if value is None:
            return None
        if isinstance(value, Connection):
            value, count = value.page(sel.args)
            self.actual_cost += 2 + count
        if not sel.selections:
            return value
        if isinstance(value, list):
            return [self._complete(item, sel, [*path, i]) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return self._project(value, sel.selections, path)
        return value

    def _project(self, node: Node, selections: Sequence[Selection], path: list[str | int]) -> Node:
        out: Node = {}
        typename = str(node.get("__typename", ""))
        for sel in selections:
            if isinstance(sel, InlineFragment):
                if type_matches(typename, sel.type_condition):
                    _merge(out, self._project(node, sel.selections, path))
                continue
            key = sel.response_key
            if sel.name == "__typename":
                out[key] = typename
                continue
            completed = self._complete(self._resolve(node, sel), sel, [*path, key])
            if isinstance(completed, dict) and isinstance(out.get(key), dict):
                _merge(out[key], completed)
            else:
                out[key] = completed
        return out
