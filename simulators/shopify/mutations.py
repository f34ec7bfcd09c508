"""Mutation root: metafieldsSet (see metafields.py), tagsAdd, tagsRemove and the webhook
subscription mutations (subscriptions.py).

tagsAdd appends (tags compare case-insensitively, existing ones are kept once); tagsRemove
drops. Both accept a list or a comma-separated string, work on orders, products and
customers, keep the stored REST payload's "tags" string in step and, when something changed,
move the owner's updated_at forward (as Shopify does; it also fires orders/updated there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ._state import Payload, ShopState, parse_gid, split_tags
from .execution import Node
from .inventory import inventory_mutations
from .metafields import metafields_set
from .operation import GraphQLError
from .queries import node_for_gid
from .search import parse_time
from .subscriptions import subscription_mutations

MAX_TAGS = 250
MAX_TAG_LENGTH = 255


def _payload_of(shop: ShopState, owner: str) -> Payload | None:
    parsed = parse_gid(owner)
    if parsed is None:
        return None
    kind, legacy_id = parsed
    store = {"Order": shop.orders, "Product": shop.products, "Customer": shop.customers}
    return store[kind].get(legacy_id) if kind in store else None


def touch(payload: Payload, now: datetime) -> None:
    """Move updated_at forward to `now`, in the payload's own UTC offset."""
    old = parse_time(payload.get("updated_at"))
    moment = now if old is None else now.astimezone(old.tzinfo)
    if old is not None and moment <= old:
        moment = old + timedelta(seconds=1)
    payload["updated_at"] = moment.replace(microsecond=0).isoformat()


def _user_error(field: str, message: str) -> Node:
    return {"__typename": "UserError", "field": [field], "message": message}


def _tags(shop: ShopState, args: Mapping[str, Any], now: datetime, add: bool) -> Node:
    typename = "TagsAddPayload" if add else "TagsRemovePayload"
    owner = args.get("id")
    if parse_gid(owner) is None:
        raise GraphQLError(
            f"Invalid global id '{owner}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    current = shop.tag_list(str(owner))
    if current is None:
        errors = [_user_error("id", "Resource not found")]
        return {"__typename": typename, "node": None, "userErrors": errors}
    wanted = split_tags(args.get("tags"))
    if any(len(tag) > MAX_TAG_LENGTH for tag in wanted):
        errors = [_user_error("tags", f"Tags is too long (maximum is {MAX_TAG_LENGTH} characters)")]
        return {"__typename": typename, "node": None, "userErrors": errors}
    before = list(current)
    if add:
        seen = {tag.lower() for tag in current}
        for tag in wanted:
            if tag.lower() not in seen:
                current.append(tag)
                seen.add(tag.lower())
        if len(current) > MAX_TAGS:
            current[:] = before
            errors = [_user_error("tags", f"Tags cannot be more than {MAX_TAGS}")]
            return {"__typename": typename, "node": None, "userErrors": errors}
    else:
        drop = {tag.lower() for tag in wanted}
        current[:] = [tag for tag in current if tag.lower() not in drop]
    payload = _payload_of(shop, str(owner))
    if payload is not None and current != before:
        payload["tags"] = ", ".join(current)
        touch(payload, now)
    return {"__typename": typename, "node": node_for_gid(shop, owner), "userErrors": []}


def mutation_root(shop: ShopState, clock: Callable[[], datetime]) -> Node:
    def now_text() -> str:
        return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "__typename": "Mutation",
        "metafieldsSet": lambda args: metafields_set(shop, args, now_text()),
        "tagsAdd": lambda args: _tags(shop, args, clock(), add=True),
        "tagsRemove": lambda args: _tags(shop, args, clock(), add=False),
        **subscription_mutations(shop, now_text),
        **inventory_mutations(shop, now_text),
    }
