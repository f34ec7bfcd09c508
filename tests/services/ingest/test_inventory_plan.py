"""Shopify's levels as Fortnox stock (pure): mapped locations summed, article numbers by the
article sync's rule, and what cannot be synced listed with the reason."""

from __future__ import annotations

from decimal import Decimal

from services.ingest.inventory.plan import NO_SKU, SHARED, TOO_LONG, plan_fortnox_stock
from services.ingest.inventory.shopify_stock import Item, item_of
from services.ingest.inventory.store import InventoryConfig

SHOP = "demo.myshopify.com"


def test_mapped_locations_are_summed_and_others_left_out() -> None:
    item = Item(1, "MUG-1", 11, levels={100: 4, 200: 3, 300: 9})
    everything = plan_fortnox_stock(InventoryConfig(SHOP, "shopify"), [item])
    assert everything.wanted == {"MUG-1": Decimal(16)}
    mapped = InventoryConfig(SHOP, "shopify", locations={100: "A", 200: "B"})
    assert plan_fortnox_stock(mapped, [item]).wanted == {"MUG-1": Decimal(7)}


def test_article_numbers_follow_the_article_sync() -> None:
    items = [
        Item(1, "Mugg blå/L", 11, {1: 2}),
        Item(2, "", 22, {1: 5}),
        Item(3, "X" * 60, 33, {1: 1}),
    ]
    plan = plan_fortnox_stock(InventoryConfig(SHOP, "shopify", sku_policy="variant_id"), items)
    assert plan.wanted == {"Mugg_20bl_C3_A5_2FL": Decimal(2), "V22": Decimal(5)}
    assert [(p.key, p.reason) for p in plan.problems] == [("item:3", TOO_LONG)]
    strict = plan_fortnox_stock(InventoryConfig(SHOP, "shopify", sku_policy="no_article"), items)
    assert ("item:2", NO_SKU) in [(p.key, p.reason) for p in strict.problems]
    assert "V22" not in strict.wanted


def test_two_variants_with_one_sku_are_listed_not_guessed() -> None:
    items = [Item(1, "MUG-1", 11, {1: 2}), Item(2, "MUG-1", 12, {1: 7})]
    plan = plan_fortnox_stock(InventoryConfig(SHOP, "shopify"), items)
    assert plan.wanted == {}
    assert [(p.key, p.reason) for p in plan.problems] == [("item:1", SHARED), ("item:2", SHARED)]


def test_a_graphql_item_is_read_with_its_levels() -> None:
    node = {
        "legacyResourceId": "42",
        "sku": " MUG-1 ",
        "variant": {"legacyResourceId": "7"},
        "inventoryLevels": {
            "nodes": [
                {
                    "location": {"legacyResourceId": "100"},
                    "quantities": [{"name": "available", "quantity": -2}],
                }
            ]
        },
    }
    assert item_of(node) == Item(42, "MUG-1", 7, {100: -2})
