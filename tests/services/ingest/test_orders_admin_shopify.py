"""Create now and re-sync for orders no webhook brought: read from Shopify, through the stack."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

LINES = [LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001")]


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest", "mapper", "fortnox_writer", "timeline"))


async def call(
    stack: Stack, method: str, order_id: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    url = stack.url("ingest", f"/admin/api/orders/{order_id}/fortnox_invoice.json")
    params = {} if headers else {"shop": stack.shop}
    async with stack.http.request(method, url, params=params, headers=headers) as response:
        return response.status, await response.json(), dict(response.headers)


async def document_status(stack: Stack, order_id: Any) -> str:
    url = stack.url("ingest", f"/admin/api/orders/{order_id}/fortnox_invoice_status.json")
    async with stack.http.get(url, params={"shop": stack.shop}) as response:
        body = await response.json()
        return str(body["fortnox_invoice"]["status"]) if response.status == 200 else ""


async def test_create_now_reads_an_order_only_shopify_has(stack: Stack) -> None:
    order = order_payload(lines=LINES)
    stack.shopify.add_order(stack.shop, order)  # never sent as a webhook

    status, body, _ = await call(stack, "POST", order["id"])
    assert status == 202, body
    assert body["created"] is True and body["order_source"] == "shopify"
    assert body["fortnox_invoice"]["status"] == "pending"
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])

    async def synced() -> bool:
        return await document_status(stack, order["id"]) == "synced"

    await stack.wait_for(synced)
    status, body, _ = await call(stack, "POST", order["id"])
    assert status == 200 and body["created"] is False
    assert body["fortnox_invoice"]["document_number"] == str(invoice.document_number)
    assert len(stack.invoices_for(order["id"])) == 1

    # The order is edited in Shopify (no webhook either): PUT reads its current state.
    later = order_payload(
        order_id=order["id"],
        name=order["name"],
        lines=[*LINES, LineSpec("Kaffe mellanrost 500 g", "89.00", 1, "0.12", "COFFEE-500")],
        created_at=order["created_at"],
        updated_at=datetime.fromisoformat(order["updated_at"]) + timedelta(minutes=5),
    )
    stack.shopify.add_order(stack.shop, later)
    assert Decimal(later["total_price"]) != Decimal(order["total_price"])
    status, body, _ = await call(stack, "PUT", order["id"])
    assert status == 202, body
    assert body["order_source"] == "shopify"

    def updated() -> bool:
        [current] = stack.invoices_for(order["id"])
        return bool(current.total == Decimal(later["total_price"]))

    await stack.wait_for(updated)
    assert len(stack.invoices_for(order["id"])) == 1


async def test_an_order_shopify_does_not_have_is_404(stack: Stack) -> None:
    for method in ("POST", "PUT"):
        status, body, _ = await call(stack, method, 999_999_999_998)
        assert status == 404
        assert "Shopify has no order 999999999998" in body["error"]
    assert stack.invoices() == []


async def test_shopify_unreachable_is_503_and_nothing_is_stored(stack: Stack) -> None:
    order = order_payload(lines=LINES)
    stack.shopify.add_order(stack.shop, order)
    stack.shopify.faults.add("status", status=503, times=None, shop=stack.shop)
    for method in ("POST", "PUT"):
        status, body, headers = await call(stack, method, order["id"])
        assert status == 503, body
        assert "could not be reached" in body["error"] and headers.get("Retry-After")
    stack.shopify.faults.clear()
    assert await document_status(stack, order["id"]) == ""  # nothing was stored
    status, body, _ = await call(stack, "POST", order["id"])
    assert status == 202
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)


async def test_a_revoked_token_is_409(stack: Stack) -> None:
    order = order_payload(lines=LINES)
    stack.shopify.add_order(stack.shop, order)
    stack.shopify.shop(stack.shop).access_token = "simtok_rotated_elsewhere"
    status, body, _ = await call(stack, "POST", order["id"])
    assert status == 409
    assert "refused Fortbridge's access token" in body["error"]


async def test_a_shop_without_a_token_is_409_for_create_and_uses_webhooks_for_resync(
    stack: Stack,
) -> None:
    other = "tokenless.myshopify.com"
    api = await ApiTokenStore(stack.pool).create(other, "write_orders")
    headers = {"Authorization": f"Bearer {api.token}"}
    status, body, _ = await call(stack, "POST", 123456, headers)
    assert status == 409
    assert "no Shopify access token" in body["error"]
    status, body, _ = await call(stack, "PUT", 123456, headers)
    assert status == 404
    assert "never reached Fortbridge" in body["error"]
