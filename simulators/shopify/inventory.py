"""Inventory: locations, inventory items (one per variant) and their levels per location.

Queries: ``locations``, ``inventoryItems(query: "sku:..." | "id:...")``, ``inventoryItem(id)``,
``ProductVariant.inventoryItem``, ``InventoryItem.inventoryLevels`` / ``inventoryLevel
(locationId)``, ``InventoryLevel.quantities(names: ["available", "on_hand"])``.

Mutation ``inventorySetQuantities(input: {name, reason, referenceDocumentUri,
ignoreCompareQuantity, quantities: [{inventoryItemId, locationId, quantity, compareQuantity}]})``
as Shopify documents it (API versions before 2026-04): each quantity needs ``compareQuantity``
unless ``ignoreCompareQuantity`` is true (else ``COMPARE_QUANTITY_REQUIRED``); an item not
stocked at the location answers ``ITEM_NOT_STOCKED_AT_LOCATION``; a compare quantity
that differs from the stored one answers ``COMPARE_QUANTITY_STALE`` and changes nothing (the whole
input is refused); ``name`` is ``available`` or ``on_hand`` (``INVALID_NAME``); unknown item or
location: ``INVALID_INVENTORY_ITEM`` / ``INVALID_LOCATION``; negative: allowed for available.

Every change of a level (the mutation, or the control API's sale and edit) queues an
``inventory_levels/update`` webhook payload (``ShopState.inventory_webhooks``), which the control
API hands out and tests deliver. ``ShopState.inventory_races`` holds concurrent changes applied
just before the next mutation touching that level (a sale racing Fortbridge's write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._state import Payload, ShopState, gid, parse_gid
from .execution import Connection, Node
from .operation import GraphQLError
from .search import SearchField, compile_search

NAMES = frozenset({"available", "on_hand"})
Level = tuple[int, int]  # (inventory item id, location id)


def items(shop: ShopState) -> dict[int, tuple[Payload, Payload]]:
    """inventory item id -> (product, variant)."""
    out: dict[int, tuple[Payload, Payload]] = {}
    for product in shop.products.values():
        for variant in product.get("variants") or []:
            if variant.get("inventory_item_id") is not None:
                out[int(variant["inventory_item_id"])] = (product, variant)
    return out


def seed_levels(shop: ShopState, product: Payload) -> None:
    """A new product's variants are stocked at the shop's first location."""
    first = min(shop.locations)
    for variant in product.get("variants") or []:
        item = variant.get("inventory_item_id")
        if item is None:
            continue
        if not any(level[0] == int(item) for level in shop.inventory):
            shop.inventory[(int(item), first)] = int(variant.get("inventory_quantity") or 0)


def _sync_variant(shop: ShopState, item: int) -> None:
    found = items(shop).get(item)
    if found is not None:
        total = sum(qty for (i, _), qty in shop.inventory.items() if i == item)
        found[1]["old_inventory_quantity"] = found[1].get("inventory_quantity")
        found[1]["inventory_quantity"] = total


def set_level(shop: ShopState, level: Level, quantity: int, now: str) -> None:
    """Store a level and queue its inventory_levels/update webhook payload."""
    item, location = level
    shop.inventory[level] = quantity
    shop.inventory_updated[level] = now
    _sync_variant(shop, item)
    shop.inventory_webhooks.append(
        {
            "inventory_item_id": item,
            "location_id": location,
            "available": quantity,
            "updated_at": now,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}"
            f"?inventory_item_id={item}",
        }
    )


def location_node(shop: ShopState, location: int) -> Node:
    return {
        "__typename": "Location",
        "id": gid("Location", location),
        "legacyResourceId": str(location),
        "name": shop.locations[location],
        "isActive": True,
    }


def level_node(shop: ShopState, level: Level) -> Node:
    item, location = level
    updated = shop.inventory_updated.get(level)

    def quantities(args: Mapping[str, Any]) -> list[Node]:
        names = args.get("names") or []
        unknown = [n for n in names if n not in NAMES and n not in ("committed", "incoming")]
        if unknown:
            raise GraphQLError(f"Invalid quantity names: {', '.join(unknown)}")
        value = shop.inventory.get(level, 0)
        return [
            {
                "__typename": "InventoryQuantity",
                "name": name,
                "quantity": value if name in NAMES else 0,
                "updatedAt": updated,
            }
            for name in names
        ]

    return {
        "__typename": "InventoryLevel",
        "id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
        "updatedAt": updated,
        "location": location_node(shop, location),
        "item": lambda _args: item_node(shop, item),
        "quantities": quantities,
    }


def item_node(shop: ShopState, item: int) -> Node | None:
    found = items(shop).get(item)
    if found is None:
        return None
    product, variant = found
    levels = sorted(level for level in shop.inventory if level[0] == item)

    def one_level(args: Mapping[str, Any]) -> Node | None:
        parsed = parse_gid(args.get("locationId"))
        if parsed is None or parsed[0] != "Location":
            raise GraphQLError(f"Invalid global id '{args.get('locationId')}'")
        level = (item, parsed[1])
        return level_node(shop, level) if level in shop.inventory else None

    from .shapes import variant_node  # shapes imports this module's item_node

    return {
        "__typename": "InventoryItem",
        "id": gid("InventoryItem", item),
        "legacyResourceId": str(item),
        "sku": variant.get("sku"),
        "tracked": True,
        "updatedAt": variant.get("updated_at"),
        "variant": lambda _args: variant_node(shop, product, variant),
        "inventoryLevels": lambda _args: Connection(
            "InventoryLevel",
            levels,
            [(lv[1], lv[1]) for lv in levels],
            build=lambda lv: level_node(shop, lv),
        ),
        "inventoryLevel": one_level,
    }


_ITEM_SEARCH = {
    "id": SearchField("int", lambda p: p["id"]),
    "sku": SearchField("text", lambda p: p.get("sku")),
    "updated_at": SearchField("datetime", lambda p: p.get("updated_at")),
}


def inventory_queries(shop: ShopState, searches: list[dict[str, Any]]) -> Node:
    def item_listing(args: Mapping[str, Any]) -> Connection:
        rows: list[Payload] = [
            {"id": item, "sku": variant.get("sku"), "updated_at": variant.get("updated_at")}
            for item, (_, variant) in sorted(items(shop).items())
        ]
        predicate, warnings = compile_search(
            args.get("query"), _ITEM_SEARCH, lambda p: [str(p.get("sku") or "")]
        )
        if warnings:
            searches.append({"path": ["inventoryItems"], "query": args.get("query")})
        chosen: list[int] = [int(str(row["id"])) for row in rows if predicate(row)]
        if args.get("reverse"):
            chosen.reverse()
        return Connection(
            "InventoryItem",
            chosen,
            [(i, i) for i in chosen],
            reverse=bool(args.get("reverse")),
            build=lambda i: item_node(shop, i) or {},
        )

    def one_item(args: Mapping[str, Any]) -> Node | None:
        parsed = parse_gid(args.get("id"))
        if parsed is None or parsed[0] != "InventoryItem":
            raise GraphQLError(f"Invalid global id '{args.get('id')}'")
        return item_node(shop, parsed[1])

    def location_listing(_args: Mapping[str, Any]) -> Connection:
        ids = sorted(shop.locations)
        return Connection(
            "Location", ids, [(i, i) for i in ids], build=lambda i: location_node(shop, i)
        )

    return {
        "inventoryItems": item_listing,
        "inventoryItem": one_item,
        "locations": location_listing,
    }


def _error(code: str, field: list[str], message: str) -> Node:
    return {
        "__typename": "InventorySetQuantitiesUserError",
        "code": code,
        "field": field,
        "message": message,
    }


def _refused(errors: list[Node]) -> Node:
    return {
        "__typename": "InventorySetQuantitiesPayload",
        "inventoryAdjustmentGroup": None,
        "userErrors": errors,
    }


def inventory_set_quantities(shop: ShopState, args: Mapping[str, Any], now: str) -> Node:
    data = args.get("input")
    if not isinstance(data, Mapping):
        raise GraphQLError("Variable $input of type InventorySetQuantitiesInput! was not provided.")
    name = data.get("name")
    if name not in NAMES:
        return _refused(
            [
                _error(
                    "INVALID_NAME",
                    ["input", "name"],
                    "The quantity name must be either 'available' or 'on_hand'.",
                )
            ]
        )
    ignore = bool(data.get("ignoreCompareQuantity"))
    known = items(shop)
    planned: list[tuple[Level, int, int]] = []
    for index, row in enumerate(data.get("quantities") or []):
        where = ["input", "quantities", str(index)]
        item, location = parse_gid(row.get("inventoryItemId")), parse_gid(row.get("locationId"))
        if item is None or item[0] != "InventoryItem" or item[1] not in known:
            return _refused(
                [
                    _error(
                        "INVALID_INVENTORY_ITEM",
                        [*where, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                    )
                ]
            )
        if location is None or location[0] != "Location" or location[1] not in shop.locations:
            return _refused(
                [
                    _error(
                        "INVALID_LOCATION",
                        [*where, "locationId"],
                        "The specified location could not be found.",
                    )
                ]
            )
        level = (item[1], location[1])
        if level not in shop.inventory:
            return _refused(
                [
                    _error(
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                        [*where, "locationId"],
                        "The specified inventory item is not stocked at the location.",
                    )
                ]
            )
        race = shop.inventory_races.pop(level, None)
        if race is not None:  # a sale lands between the caller's read and this write
            set_level(shop, level, shop.inventory.get(level, 0) + race, now)
        current = shop.inventory.get(level, 0)
        compare = row.get("compareQuantity")
        if not ignore and compare is None:
            return _refused(
                [
                    _error(
                        "COMPARE_QUANTITY_REQUIRED",
                        [*where, "compareQuantity"],
                        "The compareQuantity argument must be given to each "
                        "quantity or ignored using ignoreCompareQuantity.",
                    )
                ]
            )
        if not ignore and int(compare) != current:
            return _refused(
                [
                    _error(
                        "COMPARE_QUANTITY_STALE",
                        [*where, "compareQuantity"],
                        "The compareQuantity value does not match persisted value.",
                    )
                ]
            )
        quantity = int(row.get("quantity"))
        if abs(quantity) > 1_000_000_000:
            return _refused(
                [
                    _error(
                        "INVALID_QUANTITY_TOO_HIGH",
                        [*where, "quantity"],
                        "The total quantity can't be higher than 1,000,000,000.",
                    )
                ]
            )
        planned.append((level, current, quantity))
    changes = []
    for level, before, quantity in planned:
        if quantity != before:
            set_level(shop, level, quantity, now)
        changes.append(
            {
                "__typename": "InventoryChange",
                "name": name,
                "delta": quantity - before,
                "quantityAfterChange": quantity,
                "item": lambda _a, i=level[0]: item_node(shop, i),
                "location": location_node(shop, level[1]),
            }
        )
    shop.inventory_group_seq += 1
    return {
        "__typename": "InventorySetQuantitiesPayload",
        "inventoryAdjustmentGroup": {
            "__typename": "InventoryAdjustmentGroup",
            "id": gid("InventoryAdjustmentGroup", shop.inventory_group_seq),
            "createdAt": now,
            "reason": data.get("reason") or "correction",
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "changes": changes,
        },
        "userErrors": [],
    }


def inventory_mutations(shop: ShopState, now_text: Callable[[], str]) -> Node:
    return {"inventorySetQuantities": lambda args: inventory_set_quantities(shop, args, now_text())}


def now_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
