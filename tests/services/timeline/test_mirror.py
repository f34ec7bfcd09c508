"""Many orders' Shopify statuses at once (services/timeline/mirror.py, ``mirror_statuses``): the
orders of a daily summary are written 25 per metafieldsSet, and an order Shopify refuses (one
deleted since) does not keep the others of its call from being written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from libs.common.shopify_admin import ShopifyAdmin
from services.timeline.mirror import MAX_METAFIELDS_PER_CALL, mirror_statuses
from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import order_payload

SHOP = "mirror.myshopify.com"
TOKEN = "simtok_mirror_0001"
FIRST = 5_500_000_000_000


class CountingAdmin(ShopifyAdmin):
    """The real client, counting its GraphQL calls by operation."""

    calls: list[str]

    async def graphql(self, shop: str, token: str, operation: str, *args: Any, **kw: Any) -> Any:
        self.calls.append(operation)
        return await super().graphql(shop, token, operation, *args, **kw)


@pytest.fixture
async def shopify() -> AsyncIterator[tuple[ShopifySimulator, CountingAdmin]]:
    sim = ShopifySimulator(restore_rate=1000.0, bucket_size=1000.0)
    sim.add_shop(SHOP, access_token=TOKEN)
    async with sim.serve() as base_url, aiohttp.ClientSession() as http:
        admin = CountingAdmin(http, sim.admin_url_template(base_url), "2025-07")
        admin.calls = []
        yield sim, admin


def status(order_id: int) -> tuple[str, dict[str, Any]]:
    return str(order_id), {"status": "summarized", "document_number": "101", "order": order_id}


def written(sim: ShopifySimulator, order_id: int) -> dict[str, Any] | None:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = sim.shop(SHOP).metafields.get(key)
    return None if value is None else dict(json.loads(value["value"]))


async def test_statuses_are_written_25_orders_per_call(
    shopify: tuple[ShopifySimulator, CountingAdmin],
) -> None:
    sim, admin = shopify
    orders = [FIRST + n for n in range(30)]
    for order_id in orders:
        sim.add_order(SHOP, order_payload(order_id))

    refused = await mirror_statuses(admin, SHOP, TOKEN, [status(o) for o in orders])

    assert refused == {}
    assert MAX_METAFIELDS_PER_CALL == 25
    assert admin.calls == ["metafieldsSet", "metafieldsSet"]  # 25 + 5
    for order_id in orders:
        assert written(sim, order_id) == {
            "status": "summarized",
            "document_number": "101",
            "order": order_id,
        }


async def test_an_order_shopify_refuses_does_not_hold_back_the_others(
    shopify: tuple[ShopifySimulator, CountingAdmin],
) -> None:
    sim, admin = shopify
    orders = [FIRST + n for n in range(30)]
    gone = orders[7]  # in the first call; Shopify no longer has it
    for order_id in orders:
        if order_id != gone:
            sim.add_order(SHOP, order_payload(order_id))

    refused = await mirror_statuses(admin, SHOP, TOKEN, [status(o) for o in orders])

    assert set(refused) == {str(gone)}
    assert "Owner does not exist" in refused[str(gone)]
    assert written(sim, gone) is None
    assert all(written(sim, o) is not None for o in orders if o != gone)
    # The refused call (nothing written: metafieldsSet is atomic), its 25 orders one by one,
    # then the second call.
    assert admin.calls == ["metafieldsSet"] * (1 + 25 + 1)


async def test_a_single_refused_order_is_not_written_twice(
    shopify: tuple[ShopifySimulator, CountingAdmin],
) -> None:
    _, admin = shopify
    refused = await mirror_statuses(admin, SHOP, TOKEN, [status(FIRST)])
    assert set(refused) == {str(FIRST)}
    assert admin.calls == ["metafieldsSet"]
