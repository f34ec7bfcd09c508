"""Shopify's side of the inventory sync: read levels, set one with compareQuantity.

Reads page ``inventoryItems`` (25 items with up to 10 levels each: a requested cost of
2 + 25 x (1 + 2 + 10) = 327 points, inside the 1,000-point bucket; ShopifyAdmin waits for the
points before each call). ``inventorySetQuantities`` always carries ``compareQuantity``: when a
sale changed the level after our read, Shopify answers ``COMPARE_QUANTITY_STALE`` and changes
nothing; ``set_available`` then reads the level again and applies the concurrent change on top
of the value it was asked to set, so the sale is neither lost nor overwritten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from libs.common.errors import PermanentError
from libs.common.shopify_admin import ShopifyAdmin

PAGE_SIZE = 25
LEVELS_PER_ITEM = 10
MAX_COMPARE_RETRIES = 3
_ITEM_FIELDS = f"""id legacyResourceId sku variant {{ legacyResourceId }}
  inventoryLevels(first: {LEVELS_PER_ITEM}) {{ nodes {{ location {{ legacyResourceId }}
    quantities(names: ["available"]) {{ name quantity }} }} }}"""
ITEMS = f"""query InventoryItems($first: Int!, $after: String, $query: String) {{
  inventoryItems(first: $first, after: $after, query: $query) {{
    nodes {{ {_ITEM_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
ITEM = f"""query InventoryItem($id: ID!) {{ inventoryItem(id: $id) {{ {_ITEM_FIELDS} }} }}"""
VARIANT_ITEM = f"""query VariantItem($id: ID!) {{
  productVariant(id: $id) {{ inventoryItem {{ {_ITEM_FIELDS} }} }}
}}"""
LOCATIONS = """query Locations { locations(first: 1) { nodes { legacyResourceId } } }"""
SET = """mutation SetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""
ITEM_COST = 2 + 1 + 2 + LEVELS_PER_ITEM


@dataclass
class Item:
    """An inventory item (one per variant) with its available quantity per location."""

    id: int
    sku: str
    variant_id: int | None
    levels: dict[int, int] = field(default_factory=dict)


def item_of(node: dict[str, Any] | None) -> Item | None:
    if not node:
        return None
    levels: dict[int, int] = {}
    for level in (node.get("inventoryLevels") or {}).get("nodes") or []:
        location = int((level.get("location") or {}).get("legacyResourceId") or 0)
        for quantity in level.get("quantities") or []:
            if quantity.get("name") == "available" and location:
                levels[location] = int(quantity.get("quantity") or 0)
    variant = (node.get("variant") or {}).get("legacyResourceId")
    return Item(
        id=int(node["legacyResourceId"]),
        sku=str(node.get("sku") or "").strip(),
        variant_id=int(variant) if variant else None,
        levels=levels,
    )


class ShopifyStock:
    def __init__(self, admin: ShopifyAdmin, shop: str, token: str) -> None:
        self._admin = admin
        self._shop = shop
        self._token = token

    async def _query(self, name: str, query: str, variables: dict[str, Any], cost: float) -> Any:
        return await self._admin.graphql(
            self._shop, self._token, name, query, variables, expected_cost=cost
        )

    async def all_items(self) -> AsyncIterator[list[Item]]:
        after: str | None = None
        while True:
            data = await self._query(
                "InventoryItems",
                ITEMS,
                {"first": PAGE_SIZE, "after": after, "query": None},
                2 + PAGE_SIZE * (ITEM_COST - 2),
            )
            connection = data.get("inventoryItems") or {}
            yield [i for node in connection.get("nodes") or [] if (i := item_of(node))]
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            after = page.get("endCursor")

    async def item(self, item_id: int) -> Item | None:
        data = await self._query(
            "InventoryItem", ITEM, {"id": f"gid://shopify/InventoryItem/{item_id}"}, ITEM_COST
        )
        return item_of(data.get("inventoryItem"))

    async def item_by_sku(self, sku: str) -> Item | None:
        """The item whose SKU is exactly ``sku`` (Shopify's search is looser: compare here)."""
        query = 'sku:"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"'
        data = await self._query(
            "InventoryItems", ITEMS, {"first": 5, "after": None, "query": query}, 2 + 5 * 13
        )
        nodes = (data.get("inventoryItems") or {}).get("nodes") or []
        exact = [i for node in nodes if (i := item_of(node)) and i.sku == sku]
        return exact[0] if len(exact) == 1 else None

    async def item_by_variant(self, variant_id: int) -> Item | None:
        data = await self._query(
            "VariantItem",
            VARIANT_ITEM,
            {"id": f"gid://shopify/ProductVariant/{variant_id}"},
            ITEM_COST + 1,
        )
        return item_of((data.get("productVariant") or {}).get("inventoryItem"))

    async def first_location(self) -> int | None:
        data = await self._query("Locations", LOCATIONS, {}, 3)
        nodes = (data.get("locations") or {}).get("nodes") or []
        return int(nodes[0]["legacyResourceId"]) if nodes else None

    async def set_available(self, item: Item, location: int, wanted: int) -> tuple[int, int]:
        """Set the level to ``wanted`` plus any change Shopify made meanwhile; (value written,
        compare retries). The compare quantity is always the level as last read."""
        current = item.levels.get(location, 0)
        target = wanted
        for retry in range(MAX_COMPARE_RETRIES + 1):
            if current == target:
                return target, retry
            errors = await self._set(item.id, location, target, current)
            if not errors:
                return target, retry
            if not any(e.get("code") == "COMPARE_QUANTITY_STALE" for e in errors):
                raise PermanentError(
                    f"Shopify refused the stock change: {errors[0].get('message')}",
                    code=str(errors[0].get("code") or "inventory_user_error"),
                )
            fresh = await self.item(item.id)
            if fresh is None:
                raise PermanentError("the Shopify inventory item is gone", code="item_gone")
            now = fresh.levels.get(location, 0)
            target += now - current  # a sale (or an edit) landed meanwhile: keep it
            current = now
        raise PermanentError(
            f"the level kept changing during {MAX_COMPARE_RETRIES} attempts",
            code="compare_quantity_stale",
        )

    async def _set(self, item: int, location: int, quantity: int, compare: int) -> list[Any]:
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": f"gid://shopify/InventoryItem/{item}",
                        "locationId": f"gid://shopify/Location/{location}",
                        "quantity": quantity,
                        "compareQuantity": compare,
                    }
                ],
            }
        }
        data = await self._query("SetAvailable", SET, variables, 10)
        errors: list[Any] = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
        return errors
