"""Inventory in the Shopify simulator: levels per location read through GraphQL (charged like
other connections), inventorySetQuantities with compareQuantity as Shopify documents it, and an
inventory_levels/update payload queued for every change."""

from __future__ import annotations

import pytest

from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import VariantSpec, product_payload
from tests.simulators.test_shopify_simulator import DOMAIN, Client, running

TOKEN = "simtok_test_0001"
LEVELS = """query Levels($q: String) {
  inventoryItems(first: 10, query: $q) {
    nodes { id sku variant { id }
      inventoryLevels(first: 5) { nodes { location { id }
        quantities(names: ["available"]) { name quantity } } } }
  }
}"""
SET = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""


@pytest.fixture
async def client() -> object:
    sim = ShopifySimulator()
    sim.add_shop(DOMAIN, access_token=TOKEN)
    sim.add_product(
        DOMAIN,
        product_payload(
            variants=[
                VariantSpec(sku="MUG-1", inventory_quantity=5),
                VariantSpec(title="Stor", sku="MUG-2", inventory_quantity=9),
            ]
        ),
    )
    async with running(sim) as c:
        yield c


def _item(client: Client, sku: str) -> int:
    for product in client.sim.shop(DOMAIN).products.values():
        for variant in product["variants"]:
            if variant["sku"] == sku:
                return int(variant["inventory_item_id"])
    raise AssertionError(sku)


def _input(item: int, location: int, quantity: int, compare: int | None) -> dict[str, object]:
    return {
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


async def test_levels_are_read_by_sku_per_location(client: Client) -> None:
    data = await client.data(LEVELS, {"q": "sku:MUG-2"})
    nodes = data["inventoryItems"]["nodes"]
    assert [n["sku"] for n in nodes] == ["MUG-2"]
    quantities = nodes[0]["inventoryLevels"]["nodes"][0]["quantities"]
    assert quantities == [{"name": "available", "quantity": 9}]
    _status, body = await client.gql(LEVELS, {"q": None})
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)


async def test_set_quantities_compares_and_queues_a_webhook(client: Client) -> None:
    sim, item = client.sim, _item(client, "MUG-1")
    location = min(sim.shop(DOMAIN).locations)
    data = await client.data(SET, {"input": _input(item, location, 12, 5)})
    result = data["inventorySetQuantities"]
    assert result["userErrors"] == []
    assert result["inventoryAdjustmentGroup"]["changes"] == [
        {"name": "available", "delta": 7, "quantityAfterChange": 12}
    ]
    assert sim.available(DOMAIN, item) == 12
    hooks = sim.take_inventory_webhooks(DOMAIN)
    assert [(h["inventory_item_id"], h["location_id"], h["available"]) for h in hooks] == [
        (item, location, 12)
    ]
    assert sim.take_inventory_webhooks(DOMAIN) == []  # handed out once

    # A sale lands between our read (12) and our write: the stale compare changes nothing.
    sim.race_next_write(DOMAIN, item, -1)
    data = await client.data(SET, {"input": _input(item, location, 20, 12)})
    errors = data["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["COMPARE_QUANTITY_STALE"]
    assert errors[0]["field"] == ["input", "quantities", "0", "compareQuantity"]
    assert sim.available(DOMAIN, item) == 11
    data = await client.data(SET, {"input": _input(item, location, 19, 11)})
    assert data["inventorySetQuantities"]["userErrors"] == []
    assert sim.available(DOMAIN, item) == 19


async def test_set_quantities_refuses_what_shopify_refuses(client: Client) -> None:
    item = _item(client, "MUG-1")
    location = min(client.sim.shop(DOMAIN).locations)
    data = await client.data(SET, {"input": _input(item, location, 3, None)})
    assert data["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_REQUIRED"
    data = await client.data(SET, {"input": _input(item, location + 99, 3, 5)})
    assert data["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_LOCATION"
    second = client.sim.add_location(DOMAIN, "Butik")
    data = await client.data(SET, {"input": _input(item, second, 3, 0)})
    errors = data["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    data = await client.data(SET, {"input": {**_input(item, location, 3, 5), "name": "x"}})
    assert data["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_NAME"
    assert client.sim.available(DOMAIN, item) == 5


async def test_a_sale_and_an_edit_change_levels_and_queue_webhooks(client: Client) -> None:
    sim, item = client.sim, _item(client, "MUG-2")
    second = sim.add_location(DOMAIN, "Butik")
    async with client.session.post(
        f"{client.base_url}/_sim/shops/{DOMAIN}/inventory/sale",
        json={"inventory_item_id": item, "quantity": 2},
    ) as response:
        assert (await response.json()) == {"available": 7}
    sim.set_available(DOMAIN, item, 4, second)
    variant = next(
        v for p in sim.shop(DOMAIN).products.values() for v in p["variants"] if v["sku"] == "MUG-2"
    )
    assert variant["inventory_quantity"] == 11  # 7 + 4 over both locations
    async with client.session.post(
        f"{client.base_url}/_sim/shops/{DOMAIN}/inventory/webhooks"
    ) as response:
        hooks = await response.json()
    assert [(h["location_id"], h["available"]) for h in hooks] == [
        (min(sim.shop(DOMAIN).locations), 7),
        (second, 4),
    ]
