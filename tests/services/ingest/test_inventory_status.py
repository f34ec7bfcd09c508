"""GET /admin/api/inventory/status.json: the caller's own shop's inventory figures only."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from services.ingest.inventory import store
from tests.conftest import StackFactory
from tests.support.stack import Stack

PATH = "/admin/api/inventory/status.json"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(
        services=("ingest",),
        admin_api_token="operator-token-inventory",
        inventory_interval_seconds=0,
        reconcile_interval_seconds=0,
    )


async def call(stack: Stack, token: str | None, **params: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.get(stack.url("ingest", PATH), headers=headers, params=params) as r:
        return r.status, await r.json()


async def test_the_shop_sees_its_figures_and_nobody_else_does(stack: Stack) -> None:
    await store.ensure(stack.pool, stack.shop, "shopify")
    await store.update(stack.pool, stack.shop, to_fortnox__add=3)
    await store.record_problems(
        stack.pool, stack.shop, [store.Problem("item:1", "the variant has no SKU")]
    )
    status, body = await call(stack, "operator-token-inventory", shop=stack.shop)
    assert status == 200, body
    figures = body["inventory"]
    assert figures["source"] == "none"  # the mapper's settings say so (never set here)
    assert figures["counts"]["to_fortnox"] == 3
    assert figures["counts"]["discrepancies"] == 1
    assert figures["discrepancies"][0]["reason"] == "the variant has no SKU"

    assert (await call(stack, None))[0] == 401
    assert (await call(stack, "fbt_not_a_token"))[0] == 401
    other = (await ApiTokenStore(stack.pool).create("other.myshopify.com", "read_orders")).token
    assert (await call(stack, other))[0] == 403  # without read_integrations
    other = (
        await ApiTokenStore(stack.pool).create("other.myshopify.com", "read_integrations")
    ).token
    assert (await call(stack, other, shop=stack.shop))[0] == 403  # another shop's
    status, body = await call(stack, other)  # its own shop: nothing of this one
    assert status == 200
    assert body["inventory"]["shop"] == "other.myshopify.com"
    assert body["inventory"]["discrepancies"] == []
