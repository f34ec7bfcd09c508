"""Admin GraphQL dispatch: read the operation, validate, price, throttle, execute, answer.

The simulator requires nothing beyond what Shopify requires, but it is built for operations
that pass every input through `variables` (literal arguments work too). Answers follow
Shopify: HTTP 200 with {"data", "extensions": {"cost"}} or {"errors": [...]}; THROTTLED and
MAX_COST_EXCEEDED charge nothing; the actual cost is charged after execution.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._state import ShopState
from .billing import Billing, billing_mutations, installation_node
from .document import parse_operation
from .execution import Executor
from .mutations import mutation_root
from .operation import GraphQLError, Operation
from .queries import query_root
from .schema import validate
from .throttle import cost_extension, estimate_cost, max_cost_body, throttled_body


@dataclass
class GraphQLResult:
    status: int
    body: dict[str, Any]
    operation: str | None = None
    root_fields: tuple[str, ...] = ()
    requested_cost: int = 0
    actual_cost: int = 0
    throttled: bool = False


def _read(body: Any) -> Operation:
    variables = body.get("variables") or {}
    if isinstance(variables, str):
        try:
            variables = json.loads(variables)
        except ValueError as exc:
            raise GraphQLError("Variables are invalid JSON") from exc
    if not isinstance(variables, dict):
        raise GraphQLError("Variables must be a JSON object")
    name = body.get("operationName")
    return parse_operation(body["query"], variables, name if isinstance(name, str) else None)


def describe(body: Any) -> tuple[str | None, tuple[str, ...]]:
    """Operation name and root fields, best effort (for fault matching and records)."""
    try:
        operation = _read(body)
    except (GraphQLError, KeyError, TypeError, AttributeError):
        return None, ()
    names = tuple(field.name for field in operation.root_fields)
    return operation.name or (names[0] if names else None), names


def execute(
    shop: ShopState, body: Any, clock: Callable[[], datetime], billing: Billing | None = None
) -> GraphQLResult:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return GraphQLResult(400, {"errors": {"query": "Required parameter missing or invalid"}})
    try:
        operation = _read(body)
        validate(operation)
    except GraphQLError as error:
        return GraphQLResult(200, {"errors": [error.to_json()]})
    names = tuple(field.name for field in operation.root_fields)
    label = operation.name or (names[0] if names else None)
    result = GraphQLResult(200, {}, label, names)
    bucket = shop.bucket
    requested = result.requested_cost = estimate_cost(operation)
    if requested > bucket.size:
        result.body = max_cost_body(bucket, requested)
        return result
    if not bucket.try_take(requested):
        result.throttled = True
        result.body = throttled_body(bucket, requested)
        return result
    executor = Executor(mutation=operation.kind == "mutation")
    searches: list[dict[str, Any]] = []
    if operation.kind == "mutation":
        root = mutation_root(shop, clock)
        if billing is not None:
            root.update(billing_mutations(billing, shop))
    else:
        root = query_root(shop, searches)
        if billing is not None:
            root["currentAppInstallation"] = lambda _args: installation_node(billing, shop)
    try:
        data: dict[str, Any] | None = executor.run(operation, root)
        errors = None
    except GraphQLError as error:
        data, errors = None, [error.to_json()]
    actual = result.actual_cost = max(1, min(executor.actual_cost, requested))
    bucket.refund(requested - actual)
    result.body = {"data": data, "extensions": cost_extension(bucket, requested, actual)}
    if errors:
        result.body["errors"] = errors
    if searches:
        result.body["extensions"]["search"] = searches
    return result
